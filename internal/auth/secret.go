package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Secret prefixes: they make a leaked secret recognisable (for secret scanners and people) and
// say what it opens.
const (
	TokenPrefix  = "vgl_" // session and API tokens
	DevicePrefix = "vgd_" // device secrets
)

// secretBytes is the entropy of every generated secret: 256 bits.
const secretBytes = 32

// maxSecretLen bounds what is hashed for a presented token or device secret; generated ones
// are 47 bytes.
const maxSecretLen = 256

// NewSecret returns a new secret — prefix followed by 32 random bytes in unpadded base64url —
// and the hex SHA-256 of the whole secret, which is all that is stored.
//
// A fast hash is enough here, unlike for passwords: a password is chosen by a person and can
// be guessed from a dictionary, so it needs a slow, salted hash (argon2id) to make each guess
// expensive. A generated secret has 256 bits of entropy; nobody can enumerate 2^256
// candidates however fast each one is, so a salt or a slow hash adds nothing, and a fast hash
// lets the store look tokens up by hash and lets device authentication run thousands of times
// a second.
func NewSecret(prefix string) (secret, hash string) {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret)
}

// HashSecret returns the hex SHA-256 of secret: the form tokens and device secrets are stored
// and looked up in.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// sumSecret is HashSecret without the hex encoding and, for secrets up to 128 bytes, without
// allocating (the device hot path).
func sumSecret(secret string) [sha256.Size]byte {
	var buf [128]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(append(buf[:0], secret...))
	}
	return sha256.Sum256([]byte(secret))
}

package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int // bytes
	KeyLen  int // bytes
}

// DefaultParams are OWASP's recommended argon2id settings (Password Storage Cheat Sheet:
// m=19456 KiB, t=2, p=1), with a 16-byte salt and a 32-byte hash.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds accepted when parsing a stored hash, so that a corrupted or hostile row cannot make
// one login allocate gigabytes or run for minutes.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// Password length limits (characters, i.e. Unicode code points). Spec part11.md §11.300 asks for
// at least 12 (configurable down to 8) and allows at least 64; every Unicode character counts,
// with no composition rules.
const (
	MinPasswordLength     = 12
	MinPasswordLengthSafe = 8 // the lowest a deployment may configure
	MaxPasswordLength     = 256
)

// PolicyError says why a new password is not accepted. Its message is safe to show the user.
type PolicyError struct {
	Reason string
}

func (e *PolicyError) Error() string { return "password not accepted: " + e.Reason }

// CheckPassword reports whether pw meets the password policy with the given minimum length
// (0 means MinPasswordLength). It returns a *PolicyError.
func CheckPassword(pw string, minLen int) error {
	if minLen <= 0 {
		minLen = MinPasswordLength
	}
	if !utf8.ValidString(pw) {
		return &PolicyError{Reason: "it is not valid UTF-8 text"}
	}
	n := utf8.RuneCountInString(pw)
	if n < minLen {
		return &PolicyError{Reason: fmt.Sprintf("it has %d characters; passwords need at least %d", n, minLen)}
	}
	if n > MaxPasswordLength {
		return &PolicyError{Reason: fmt.Sprintf("it has %d characters; at most %d are allowed", n, MaxPasswordLength)}
	}
	return nil
}

// HashPassword checks pw against the password policy (CheckPassword with the default minimum
// length; failures are *PolicyError, with a message for the user) and returns its argon2id hash
// with DefaultParams. Service.HashPassword uses the service's configured policy and parameters.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw, 0); err != nil {
		return "", err
	}
	return HashPasswordParams(pw, DefaultParams)
}

// HashPasswordParams returns the argon2id hash of pw with a new random salt, as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>, salt and hash in unpadded
// standard base64. It does not check the policy.
func HashPasswordParams(pw string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand documents it)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(p.KeyLen))
	return encodePHC(p, salt, key), nil
}

func encodePHC(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func (p Params) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory %d KiB out of range [8×threads, %d]", p.Memory, maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d out of range [1, %d]", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("argon2id needs at least one thread")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d out of range [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashError says why a stored password hash cannot be used.
type HashError struct {
	Reason string
}

func (e *HashError) Error() string { return "stored password hash: " + e.Reason }

// parsePHC reads an argon2id PHC string. Errors are *HashError and never quote the hash.
func parsePHC(s string) (Params, []byte, []byte, error) {
	bad := func(format string, args ...any) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, &HashError{Reason: fmt.Sprintf(format, args...)}
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 '$'-separated fields, found %d", len(parts)-1)
	}
	if parts[1] != "argon2id" {
		return bad("algorithm %q is not argon2id", truncate(parts[1], 16))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version field %q, want v=%d", truncate(parts[2], 16), argon2.Version)
	}
	var p Params
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters %q, want m=…,t=…,p=…", truncate(parts[3], 40))
	}
	for i, name := range []string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("parameter %d is %q, want %s=…", i+1, truncate(kv[i], 16), name)
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(val, 10, bits)
		if err != nil {
			return bad("parameter %s=%q is not a number below 2^%d", name, truncate(val, 16), bits)
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			p.Threads = uint8(n)
		}
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return bad("salt is not unpadded base64")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return bad("hash is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = len(salt), len(key)
	if err := p.validate(); err != nil {
		return bad("%v", err)
	}
	return p, salt, key, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// VerifyPassword reports whether pw matches the PHC string phc, comparing in constant time.
// A phc it cannot parse is an error (*HashError), not a mismatch.
func VerifyPassword(phc, pw string) (bool, error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether phc was made with other parameters than p (or cannot be parsed),
// so that the password should be hashed again after the next successful login.
func NeedsRehash(phc string, p Params) bool {
	got, _, _, err := parsePHC(phc)
	return err != nil || got != p
}

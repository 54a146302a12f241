package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// Argon2id vectors of the reference implementation (phc-winner-argon2, src/test.c, v=0x13),
// password "password", salt "somesalt".
var referenceVectors = []string{
	"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
	"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
}

func TestVerifyPasswordReferenceVectors(t *testing.T) {
	for _, phc := range referenceVectors {
		ok, err := VerifyPassword(phc, "password")
		if err != nil || !ok {
			t.Errorf("VerifyPassword(%s, password) = %v, %v; want true", phc, ok, err)
		}
		ok, err = VerifyPassword(phc, "Password")
		if err != nil || ok {
			t.Errorf("VerifyPassword(%s, Password) = %v, %v; want false", phc, ok, err)
		}
	}
	// The same salt and parameters through HashPassword's encoder give the same string.
	p, salt, key, err := parsePHC(referenceVectors[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := encodePHC(p, salt, key); got != referenceVectors[1] {
		t.Errorf("encodePHC round trip = %s, want %s", got, referenceVectors[1])
	}
}

func TestHashPasswordDefaultParams(t *testing.T) {
	const pw = "correct horse battery"
	h1, err := HashPasswordParams(pw, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(h1) {
		t.Errorf("HashPassword = %s, want the PHC form %s", h1, re)
	}
	if ok, err := VerifyPassword(h1, pw); err != nil || !ok {
		t.Errorf("VerifyPassword(own hash) = %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(h1, pw+" "); ok {
		t.Error("VerifyPassword accepted a different password")
	}
	h2, _ := HashPasswordParams(pw, DefaultParams)
	if h1 == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if NeedsRehash(h1, DefaultParams) {
		t.Error("NeedsRehash(fresh default hash) = true")
	}
}

func TestParseErrors(t *testing.T) {
	good := referenceVectors[1]
	tests := []struct{ name, phc, want string }{
		{"empty", "", "want 5 '$'-separated fields, found 0"},
		{"bcrypt", "$2b$12$abcdefghijklmnopqrstuuMq9lXx4Y4nQv3bJx9y3xM0u0b5QZ1a", "want 5 '$'-separated fields, found 3"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), `algorithm "argon2i" is not argon2id`},
		{"version", strings.Replace(good, "v=19", "v=16", 1), `version field "v=16", want v=19`},
		{"param order", strings.Replace(good, "m=256,t=2", "t=2,m=256", 1), `parameter 1 is "t=2", want m=…`},
		{"param count", strings.Replace(good, ",p=1", "", 1), `parameters "m=256,t=2", want m=…,t=…,p=…`},
		{"not a number", strings.Replace(good, "t=2", "t=x", 1), `parameter t="x" is not a number below 2^32`},
		{"threads overflow", strings.Replace(good, "p=1", "p=256", 1), `parameter p="256" is not a number below 2^8`},
		{"huge memory", strings.Replace(good, "m=256", "m=4194304", 1), "memory 4194304 KiB out of range"},
		{"zero time", strings.Replace(good, "t=2", "t=0", 1), "time 0 out of range"},
		{"bad salt", strings.Replace(good, "c29tZXNhbHQ", "c29t*XNhbHQ", 1), "salt is not unpadded base64"},
		{"padded hash", good + "=", "hash is not unpadded base64"},
		{"short salt", strings.Replace(good, "c29tZXNhbHQ", "c29tZQ", 1), "salt length 4 out of range"},
	}
	for _, tt := range tests {
		_, err := VerifyPassword(tt.phc, "password")
		var he *HashError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: VerifyPassword error = %v, want *HashError containing %q", tt.name, err, tt.want)
		}
		if !NeedsRehash(tt.phc, DefaultParams) {
			t.Errorf("%s: NeedsRehash = false for an unusable hash", tt.name)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	for _, phc := range referenceVectors {
		if !NeedsRehash(phc, DefaultParams) {
			t.Errorf("NeedsRehash(%s, defaults) = false", phc)
		}
	}
	p := Params{Memory: 256, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32} // "somesalt" is 8 bytes
	if NeedsRehash(referenceVectors[1], p) {
		t.Errorf("NeedsRehash(%s, its own params) = true", referenceVectors[1])
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw     string
		minLen int
		want   string // "" = accepted
	}{
		{strings.Repeat("a", 11), 0, "it has 11 characters; passwords need at least 12"},
		{strings.Repeat("a", 12), 0, ""},
		{strings.Repeat("é", 11), 0, "it has 11 characters; passwords need at least 12"}, // 22 bytes, 11 characters
		{strings.Repeat("é", 12), 0, ""},
		{"ab cd ef gh", 8, ""},
		{"abcdefg", 8, "it has 7 characters; passwords need at least 8"},
		{strings.Repeat("x", MaxPasswordLength), 0, ""},
		{strings.Repeat("x", MaxPasswordLength+1), 0, "it has 257 characters; at most 256 are allowed"},
		{"abcdefghijk\xff", 0, "it is not valid UTF-8 text"},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.pw, tt.minLen)
		var pe *PolicyError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPassword(%q, %d) = %v, want accepted", tt.pw, tt.minLen, err)
		case tt.want != "" && (!errors.As(err, &pe) || pe.Reason != tt.want):
			t.Errorf("CheckPassword(%q, %d) = %v, want *PolicyError %q", tt.pw, tt.minLen, err, tt.want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	// Known answer: SHA-256("abc") (FIPS 180-2 example).
	if got, want := HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashSecret(abc) = %s, want %s", got, want)
	}
	seen := map[string]bool{}
	for _, prefix := range []string{TokenPrefix, DevicePrefix} {
		for range 3 {
			s, h := NewSecret(prefix)
			body, ok := strings.CutPrefix(s, prefix)
			if !ok || len(s) != len(prefix)+43 {
				t.Fatalf("NewSecret(%q) = %q, want the prefix and 43 base64url characters", prefix, s)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(body); err != nil || len(raw) != 32 {
				t.Errorf("secret body %q decodes to %d bytes (%v), want 32", body, len(raw), err)
			}
			sum := sha256.Sum256([]byte(s))
			if h != hex.EncodeToString(sum[:]) || h != HashSecret(s) {
				t.Errorf("hash of %q = %s, want its hex SHA-256", s, h)
			}
			if seen[s] {
				t.Errorf("NewSecret repeated %q", s)
			}
			seen[s] = true
		}
	}
	long := strings.Repeat("z", 300)
	if got, want := sumSecret(long), sha256.Sum256([]byte(long)); got != want {
		t.Error("sumSecret differs from SHA-256 for a long secret")
	}
}

// BenchmarkVerifyPasswordDefault is the cost of one login (and of the dummy hash for an
// unknown user) with DefaultParams.
func BenchmarkVerifyPasswordDefault(b *testing.B) {
	h, err := HashPasswordParams("correct horse battery", DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

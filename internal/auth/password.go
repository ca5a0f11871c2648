package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password hashes are PHC strings: $argon2id$v=19$m=19456,t=2,p=1$salt$hash,
// with OWASP's minimum recommended argon2id parameters.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// dummyHash equalizes the time of a login for an unknown user (or an
// account that cannot sign in): the secret is checked against it, at the
// cost of any stored hash, and the login fails whatever the check says.
// It is a constant, the hash of a random secret nobody kept, with the
// parameters of HashPassword (TestDummyHashParameters): computing one at
// every start cost an argon2id hash of CPU beside the start, and that
// slowed the first answers of a 2-core machine by tens of milliseconds.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$m4w5/W3g0U4bIoDGloDiZA$72xQ1wyY9eEZcJQk+g9V53Jc3losatD/+QpX2otAXFs"

// HashPassword returns a PHC-format argon2id hash of pw.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether pw matches the PHC hash. A malformed hash
// never matches.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidatePassword enforces the minimum a password must meet.
func ValidatePassword(pw string) error {
	if len(pw) < 8 {
		return fmt.Errorf("password too short: at least 8 characters")
	}
	if len(pw) > 1024 {
		return fmt.Errorf("password too long: at most 1024 characters")
	}
	return nil
}

// RandomSecret returns n random bytes as URL-safe base64 without padding.
func RandomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomTypable returns n random letters and digits (5.95 bits each). Use it
// for secrets people paste into command lines (passwords, S3 secret keys): a
// base64url secret that starts with '-' is read as a flag by dvc, aws
// configure and most other CLIs.
func RandomTypable(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, c := range buf {
			// 248 = 4*62: rejecting larger bytes keeps every character equally likely.
			if c < 248 && len(out) < n {
				out = append(out, alphabet[c%62])
			}
		}
	}
	return string(out)
}

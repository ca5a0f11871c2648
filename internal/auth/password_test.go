package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestDummyHashParameters: the dummy hash costs what a stored hash costs
// (HashPassword's parameters), and is well formed (a malformed one would
// be refused without hashing, and answer unknown users faster).
func TestDummyHashParameters(t *testing.T) {
	fresh := strings.Split(HashPassword("x"), "$")
	dummy := strings.Split(dummyHash, "$")
	if len(dummy) != 6 || dummy[1] != fresh[1] || dummy[2] != fresh[2] || dummy[3] != fresh[3] {
		t.Fatalf("dummy hash %q, want the parameters of %q", dummyHash, strings.Join(fresh, "$"))
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(dummy[4])
	key, err2 := base64.RawStdEncoding.DecodeString(dummy[5])
	if err1 != nil || err2 != nil || len(salt) != 16 || len(key) != argonKeyLen {
		t.Fatalf("dummy hash salt %d bytes (%v), key %d bytes (%v)", len(salt), err1, len(key), err2)
	}
	if CheckPassword(dummyHash, "") || CheckPassword(dummyHash, "password") {
		t.Fatal("the dummy hash matches a guessable secret")
	}
}

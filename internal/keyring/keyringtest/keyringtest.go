// Package keyringtest gives tests a keyring over their database.
package keyringtest

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
)

// New loads db's server keys under a random key-encryption key. Call it
// once per database: a second key-encryption key cannot unwrap the keys
// the first one wrapped.
func New(t testing.TB, db *meta.DB) *keyring.Keyring {
	t.Helper()
	b := make([]byte, keyring.KEKSize)
	rand.Read(b)
	kek, err := keyring.NewKEK(b)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.Load(context.Background(), db, kek)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

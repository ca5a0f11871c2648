package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

func newKEK(t *testing.T) *keyring.KEK {
	t.Helper()
	b := make([]byte, keyring.KEKSize)
	rand.Read(b)
	k, err := keyring.NewKEK(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// stored is a server key's row as a copy of the database shows it.
func stored(t *testing.T, db *meta.DB, name string) (value, kekID string) {
	t.Helper()
	if err := db.QueryRow(`SELECT value, kek_id FROM server_secrets WHERE name = $1`, name).Scan(&value, &kekID); err != nil {
		t.Fatal(err)
	}
	return value, kekID
}

// TestKeysAreWrapped: a server key is created once, read back the same by
// another keyring under the same KEK, and the database holds it only
// wrapped; a keyring under another KEK is refused.
func TestKeysAreWrapped(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		kek := newKEK(t)
		r, err := keyring.Load(ctx, db, kek)
		if err != nil {
			t.Fatal(err)
		}
		key, err := r.Key(ctx, "k")
		if err != nil || len(key) != 32 {
			t.Fatalf("Key = %x, %v", key, err)
		}
		value, kekID := stored(t, db, "k")
		if kekID != kek.ID() || strings.Contains(value, hex.EncodeToString(key)) || strings.Contains(value, base64.StdEncoding.EncodeToString(key)) {
			t.Fatalf("stored %q under %q: want the key wrapped under %s", value, kekID, kek.ID())
		}
		r2, err := keyring.Load(ctx, db, kek)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := r2.Key(ctx, "k"); err != nil || !bytes.Equal(again, key) {
			t.Fatalf("another keyring reads %x, %v; want %x", again, err, key)
		}
		sealed, err := r.Seal(ctx, "k", []byte("upstream password"), []byte("repo"))
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := r2.Unseal(ctx, "k", sealed, []byte("repo")); err != nil || string(plain) != "upstream password" {
			t.Fatalf("Unseal = %q, %v", plain, err)
		}
		if _, err := r2.Unseal(ctx, "k", sealed, []byte("other repo")); err == nil {
			t.Fatal("a sealed value opened for another owner")
		}
		if _, err := keyring.Load(ctx, db, newKEK(t)); err == nil || !strings.Contains(err.Error(), kek.ID()) {
			t.Fatalf("Load under another KEK: %v, want an error naming %s", err, kek.ID())
		}
	})
}

// TestLegacyKeysAreWrappedAtLoad: keys an older arca stored in the clear
// keep their value and are wrapped by the first Load.
func TestLegacyKeysAreWrappedAtLoad(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		legacy := bytes.Repeat([]byte{7}, 32)
		if _, err := db.Exec(`INSERT INTO server_secrets (name, value, created_at) VALUES ('registry_token_key', $1, 0)`, hex.EncodeToString(legacy)); err != nil {
			t.Fatal(err)
		}
		kek := newKEK(t)
		r, err := keyring.Load(ctx, db, kek)
		if err != nil {
			t.Fatal(err)
		}
		if value, kekID := stored(t, db, "registry_token_key"); kekID != kek.ID() || strings.Contains(value, hex.EncodeToString(legacy)) {
			t.Fatalf("legacy key still stored as %q under %q", value, kekID)
		}
		if key, err := r.Key(ctx, "registry_token_key"); err != nil || !bytes.Equal(key, legacy) {
			t.Fatalf("legacy key reads %x, %v", key, err)
		}
	})
}

// TestRotate re-wraps every key under a new KEK: the keys stay, the old
// KEK no longer opens them.
func TestRotate(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		old, next := newKEK(t), newKEK(t)
		r, err := keyring.Load(ctx, db, old)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := r.Key(ctx, "a")
		b, _ := r.Key(ctx, "b")
		if n, err := keyring.Rotate(ctx, db, old, next); err != nil || n != 2 {
			t.Fatalf("Rotate = %d, %v", n, err)
		}
		if _, err := keyring.Load(ctx, db, old); err == nil {
			t.Fatal("the old KEK still loads after rotation")
		}
		r2, err := keyring.Load(ctx, db, next)
		if err != nil {
			t.Fatal(err)
		}
		a2, _ := r2.Key(ctx, "a")
		b2, _ := r2.Key(ctx, "b")
		if !bytes.Equal(a, a2) || !bytes.Equal(b, b2) {
			t.Fatal("rotation changed the keys")
		}
		// Repeating an interrupted rotation is harmless.
		if n, err := keyring.Rotate(ctx, db, old, next); err != nil || n != 0 {
			t.Fatalf("second Rotate = %d, %v", n, err)
		}
	})
}

// TestLoadKEK: the default file is created once (owner-only), even by
// processes starting at once; a configured key or file is used as given.
func TestLoadKEK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kek")
	ids := make(chan string, 8)
	var created sync.WaitGroup
	var mu sync.Mutex
	creators := 0
	for range 8 {
		created.Add(1)
		go func() {
			defer created.Done()
			k, c, err := keyring.LoadKEK(keyring.Source{DefaultFile: path})
			if err != nil {
				t.Error(err)
				ids <- ""
				return
			}
			if c {
				mu.Lock()
				creators++
				mu.Unlock()
			}
			ids <- k.ID()
		}()
	}
	created.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("processes starting at once got KEKs %s and %s", first, id)
		}
	}
	if creators != 1 {
		t.Fatalf("%d processes created the KEK file, want 1", creators)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("KEK file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left beside the KEK: %d entries", len(entries))
	}
	content, _ := os.ReadFile(path)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(content)))
	if err != nil || len(raw) != 32 {
		t.Fatalf("KEK file holds %q", content)
	}
	want, _ := keyring.NewKEK(raw)
	for _, src := range []keyring.Source{
		{Value: hex.EncodeToString(raw)},
		{Value: string(content)},
		{File: path, DefaultFile: filepath.Join(dir, "unused")},
	} {
		k, created, err := keyring.LoadKEK(src)
		if err != nil || created || k.ID() != want.ID() {
			t.Errorf("LoadKEK(%+v) = %v, %v, %v; want %s", src, k, created, err, want.ID())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "unused")); !os.IsNotExist(err) {
		t.Error("a default file was created although a KEK file is configured")
	}
	for _, bad := range []string{"short", strings.Repeat("z", 64)} {
		if _, _, err := keyring.LoadKEK(keyring.Source{Value: bad}); err == nil {
			t.Errorf("LoadKEK accepted %q", bad)
		}
	}
}

// TestKEKCheck: a restore's check accepts the KEK a key was wrapped under
// and refuses another KEK, a forged fingerprint and a damaged value.
func TestKEKCheck(t *testing.T) {
	db := metatest.OpenSQLite(t)
	kek, other := newKEK(t), newKEK(t)
	r, err := keyring.Load(context.Background(), db, kek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Key(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	value, kekID := stored(t, db, "test")
	if err := kek.Check("test", value, kekID); err != nil {
		t.Fatalf("the right KEK: %v", err)
	}
	if err := other.Check("test", value, kekID); err == nil || !strings.Contains(err.Error(), kekID) {
		t.Fatalf("another KEK: %v", err)
	}
	if err := other.Check("test", value, other.ID()); err == nil {
		t.Fatal("another KEK with its own fingerprint unwrapped the key")
	}
	if err := kek.Check("renamed", value, kekID); err == nil {
		t.Fatal("a key unwrapped under another name")
	}
	if err := kek.Check("test", "", ""); err != nil {
		t.Fatalf("a key stored in the clear: %v", err)
	}
}

// Package keyring holds arca's server keys: random keys created once and
// shared by every process through the database (table server_secrets) —
// the registry token signing key, the key that seals S3 secret keys, the
// key of MLflow part URLs, the key that seals upstream credentials. Each
// is stored wrapped (AES-256-GCM) under a key-encryption key (KEK) kept
// outside the database, so a copy of the database alone reveals neither
// the keys nor anything sealed with them.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// keySize is the length of every server key.
const keySize = 32

// Keyring reads and creates server keys. It caches unwrapped keys in
// memory; keys never change once created (Rotate changes only their
// wrapping).
type Keyring struct {
	db  *meta.DB
	kek *KEK

	mu   sync.Mutex
	keys map[string][]byte
}

// Load opens the keyring of db under kek. It first wraps any key an older
// arca stored in the clear, and fails when the keys are wrapped under a
// different KEK (processes sharing a database must share the KEK).
func Load(ctx context.Context, db *meta.DB, kek *KEK) (*Keyring, error) {
	err := db.WithLock(ctx, "server_secrets", func() error {
		return db.WithTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT name, value, kek_id FROM server_secrets ORDER BY name`)
			if err != nil {
				return meta.Err(err)
			}
			type row struct{ name, value, kekID string }
			var all []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.name, &r.value, &r.kekID); err != nil {
					rows.Close()
					return meta.Err(err)
				}
				all = append(all, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return meta.Err(err)
			}
			for _, r := range all {
				switch r.kekID {
				case kek.ID():
				case "":
					key, err := hex.DecodeString(r.value)
					if err != nil {
						return errs.Wrap(err, errs.Internal, "server key %q stored in the clear is corrupt", r.name)
					}
					if _, err := tx.ExecContext(ctx, `UPDATE server_secrets SET value = $1, kek_id = $2 WHERE name = $3 AND kek_id = ''`,
						kek.wrap(r.name, key), kek.ID(), r.name); err != nil {
						return meta.Err(err)
					}
				default:
					return wrongKEK(r.name, r.kekID, kek)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &Keyring{db: db, kek: kek, keys: map[string][]byte{}}, nil
}

// KEK is the key-encryption key the keyring was loaded with.
func (r *Keyring) KEK() *KEK { return r.kek }

func wrongKEK(name, stored string, kek *KEK) error {
	return errs.E(errs.Internal, "server key %q is wrapped under key-encryption key %s, but this process has %s: "+
		"every process sharing a database needs the same key (secrets.kek_file or ARCA_KEK; see docs/operations.md)",
		name, stored, kek.ID())
}

// Key returns the 32-byte server key called name, creating it on first use
// (the first process to insert it wins; every process then reads the same
// key).
func (r *Keyring) Key(ctx context.Context, name string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[name]; ok {
		return k, nil
	}
	key, err := r.read(ctx, name)
	if errors.Is(err, sql.ErrNoRows) {
		fresh := make([]byte, keySize)
		rand.Read(fresh)
		if _, err := r.db.ExecContext(ctx, `INSERT INTO server_secrets (name, value, kek_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
			name, r.kek.wrap(name, fresh), r.kek.ID(), meta.Now()); err != nil {
			return nil, meta.Err(err)
		}
		key, err = r.read(ctx, name)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	r.keys[name] = key
	return key, nil
}

func (r *Keyring) read(ctx context.Context, name string) ([]byte, error) {
	var value, kekID string
	if err := r.db.QueryRowContext(ctx, `SELECT value, kek_id FROM server_secrets WHERE name = $1`, name).Scan(&value, &kekID); err != nil {
		return nil, err
	}
	switch kekID {
	case r.kek.ID():
		key, err := r.kek.unwrap(name, value)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "server key %q cannot be unwrapped", name)
		}
		return key, nil
	case "": // inserted in the clear by an older process since Load
		key, err := hex.DecodeString(value)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "server key %q is corrupt", name)
		}
		return key, nil
	default:
		return nil, wrongKEK(name, kekID, r.kek)
	}
}

// AEAD returns AES-256-GCM under the server key called name.
func (r *Keyring) AEAD(ctx context.Context, name string) (cipher.AEAD, error) {
	key, err := r.Key(ctx, name)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "server key %q", name)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "server key %q", name)
	}
	return aead, nil
}

// Seal encrypts plaintext under the server key called name, bound to ad
// (what it belongs to, so that a sealed value copied elsewhere does not
// open), as base64(nonce || ciphertext).
func (r *Keyring) Seal(ctx context.Context, name string, plaintext, ad []byte) (string, error) {
	aead, err := r.AEAD(ctx, name)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, ad)), nil
}

// Unseal decrypts what Seal made with the same name and ad.
func (r *Keyring) Unseal(ctx context.Context, name, sealed string, ad []byte) ([]byte, error) {
	aead, err := r.AEAD(ctx, name)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return nil, errs.E(errs.Internal, "corrupt sealed value")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], ad)
	if err != nil {
		return nil, errs.Wrap(fmt.Errorf("opening a sealed value: %w", err), errs.Internal, "a sealed value cannot be decrypted")
	}
	return plain, nil
}

// Rotate re-wraps every server key from current to next in one
// transaction and returns how many it re-wrapped. Keys stored in the clear
// are wrapped too. Run it with every arca process stopped: a process still
// running under current would fail to read keys it has not cached.
func Rotate(ctx context.Context, db *meta.DB, current, next *KEK) (int, error) {
	n := 0
	err := db.WithLock(ctx, "server_secrets", func() error {
		return db.WithTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT name, value, kek_id FROM server_secrets ORDER BY name`)
			if err != nil {
				return meta.Err(err)
			}
			wrapped := map[string]string{}
			for rows.Next() {
				var name, value, kekID string
				if err := rows.Scan(&name, &value, &kekID); err != nil {
					rows.Close()
					return meta.Err(err)
				}
				var key []byte
				switch kekID {
				case current.ID():
					key, err = current.unwrap(name, value)
				case next.ID():
					continue // an interrupted rotation already did this one
				case "":
					key, err = hex.DecodeString(value)
				default:
					err = wrongKEK(name, kekID, current)
				}
				if err != nil {
					rows.Close()
					return err
				}
				wrapped[name] = next.wrap(name, key)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return meta.Err(err)
			}
			for name, v := range wrapped {
				if _, err := tx.ExecContext(ctx, `UPDATE server_secrets SET value = $1, kek_id = $2 WHERE name = $3`, v, next.ID(), name); err != nil {
					return meta.Err(err)
				}
			}
			n = len(wrapped)
			return nil
		})
	})
	return n, err
}

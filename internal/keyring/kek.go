package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the length of a key-encryption key: 32 bytes (AES-256).
const KEKSize = 32

// KEK is a key-encryption key: it wraps the server keys stored in the
// database and never goes there itself.
type KEK struct {
	aead cipher.AEAD
	id   string
}

// NewKEK makes a KEK of 32 random-looking bytes.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("a key-encryption key is %d bytes, got %d", KEKSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("arca key-encryption key id"))
	return &KEK{aead: aead, id: hex.EncodeToString(m.Sum(nil)[:8])}, nil
}

// ID is the KEK's fingerprint (16 hex digits), recorded beside every key it
// wraps; it reveals nothing about the KEK.
func (k *KEK) ID() string { return k.id }

// wrap seals a server key, bound to its name.
func (k *KEK) wrap(name string, key []byte) string {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(key)+k.aead.Overhead())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(k.aead.Seal(nonce, nonce, key, []byte("arca server key\n"+name)))
}

func (k *KEK) unwrap(name, wrapped string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil || len(b) < k.aead.NonceSize() {
		return nil, fmt.Errorf("server key %q: corrupt wrapped value", name)
	}
	key, err := k.aead.Open(nil, b[:k.aead.NonceSize()], b[k.aead.NonceSize():], []byte("arca server key\n"+name))
	if err != nil {
		return nil, fmt.Errorf("server key %q does not unwrap with key-encryption key %s: %w", name, k.id, err)
	}
	return key, nil
}

// Source says where the KEK comes from, first match wins: Value (ARCA_KEK),
// File (secrets.kek_file, e.g. a mounted Kubernetes Secret), or
// DefaultFile (<data_dir>/kek), which is created with a new random key,
// readable by its owner only, when it does not exist.
type Source struct {
	Value       string
	File        string
	DefaultFile string
}

// LoadKEK reads the KEK from src. created reports that it generated the
// default file just now. A key is written as base64 (openssl rand -base64
// 32) or hex; a file may also hold the 32 bytes themselves.
func LoadKEK(src Source) (kek *KEK, created bool, err error) {
	var b []byte
	switch {
	case src.Value != "":
		key, err := parseKEK([]byte(src.Value))
		if err != nil {
			return nil, false, fmt.Errorf("ARCA_KEK: %w", err)
		}
		kek, err := NewKEK(key)
		return kek, false, err
	case src.File != "":
		if b, err = os.ReadFile(src.File); err != nil {
			return nil, false, fmt.Errorf("reading the key-encryption key: %w", err)
		}
	case src.DefaultFile != "":
		// Read first: creating one (a synced temporary file) only when
		// there is none keeps a restart from waiting for the disk.
		b, err = os.ReadFile(src.DefaultFile)
		if errors.Is(err, fs.ErrNotExist) {
			if created, err = CreateKEKFile(src.DefaultFile); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, false, err
			}
			b, err = os.ReadFile(src.DefaultFile)
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading the key-encryption key: %w", err)
		}
	default:
		return nil, false, errors.New("no key-encryption key configured")
	}
	key, err := parseKEK(b)
	if err != nil {
		return nil, false, fmt.Errorf("key-encryption key file: %w", err)
	}
	kek, err = NewKEK(key)
	return kek, created, err
}

// CreateKEKFile writes a new random KEK (base64, one line) to path,
// readable by its owner only. It never replaces a file: when path exists
// (another process created it first) it returns false and an error
// wrapping fs.ErrExist.
func CreateKEKFile(path string) (created bool, err error) {
	key := make([]byte, KEKSize)
	rand.Read(key)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kek-*")
	if err != nil {
		return false, fmt.Errorf("creating the key-encryption key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing the key-encryption key: %w", err)
	}
	// A hard link publishes the whole file atomically and fails if path
	// exists, so processes starting at once agree on one key.
	if err := os.Link(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("creating the key-encryption key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return true, nil
}

func parseKEK(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if len(s) == 2*KEKSize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KEKSize {
			return key, nil
		}
	}
	if len(b) == KEKSize {
		return b, nil
	}
	return nil, fmt.Errorf("want %d bytes as base64 (openssl rand -base64 %d) or hex", KEKSize, KEKSize)
}

// Check reports whether k unwraps the server key name stored as wrapped
// under the KEK whose fingerprint is kekID (as in a row of server_secrets,
// where kekID "" means stored in the clear, which any KEK accepts). A
// restore calls it before it writes anything.
func (k *KEK) Check(name, wrapped, kekID string) error {
	switch kekID {
	case "":
		return nil
	case k.id:
		_, err := k.unwrap(name, wrapped)
		return err
	default:
		return fmt.Errorf("server key %q is wrapped under key-encryption key %s, but the one given is %s", name, kekID, k.id)
	}
}

package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// credCache remembers the outcome of recent password checks, so that
// clients sending Basic credentials on every request (pip, twine, mvn) do
// not pay for argon2id each time, and so that a wrong pair sent again and
// again costs no hashing either. It is keyed by a hash of the name, the
// secret and the stored password hash (so a password change invalidates
// every entry of the account); it never holds a secret. Its size is
// bounded: when full, expired entries go, and if none have, all do.
type credCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[[32]byte]cacheEntry
}

type cacheEntry struct {
	userID  int64
	expires time.Time
}

func newCredCache(ttl time.Duration, max int) *credCache {
	return &credCache{ttl: ttl, max: max, entries: map[[32]byte]cacheEntry{}}
}

// credKey is the cache key of a login attempt. storedHash is "" for names
// that have no password.
func credKey(name, secret, storedHash string) [32]byte {
	h := sha256.New()
	for _, s := range []string{name, secret, storedHash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// hit reports whether key is cached for userID and not expired.
func (c *credCache) hit(key [32]byte, userID int64, now time.Time) bool {
	if c.ttl <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return ok && e.userID == userID && now.Before(e.expires)
}

func (c *credCache) put(key [32]byte, userID int64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[key] = cacheEntry{userID: userID, expires: now.Add(c.ttl)}
}

func (c *credCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

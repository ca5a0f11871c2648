package repo

import (
	"strconv"
	"sync"
	"time"
)

// UpstreamHealth is what a proxy repository remembers about its upstream
// between requests, in one process: a pause after the upstream failed, and
// the paths it recently answered 404 for (the negative cache). None of it
// needs to survive a restart or be shared; it only spares upstream calls.
// The formats' proxies share it (npm, Maven).
type UpstreamHealth struct {
	mu       sync.Mutex
	down     map[int64]time.Time  // repository → end of the pause
	notFound map[string]time.Time // repository|key → expiry
}

// maxNegative bounds the negative cache; past it expired entries go, and
// if that is not enough, all of them.
const maxNegative = 100000

// NewUpstreamHealth returns an empty UpstreamHealth.
func NewUpstreamHealth() *UpstreamHealth {
	return &UpstreamHealth{down: map[int64]time.Time{}, notFound: map[string]time.Time{}}
}

// Paused reports whether the upstream of repository id failed recently,
// and for how much longer it is left alone.
func (u *UpstreamHealth) Paused(id int64) (bool, time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	until, ok := u.down[id]
	if !ok {
		return false, 0
	}
	if left := time.Until(until); left > 0 {
		return true, left
	}
	delete(u.down, id)
	return false, 0
}

// Pause leaves the upstream of repository id alone for d.
func (u *UpstreamHealth) Pause(id int64, d time.Duration) {
	if d <= 0 {
		return
	}
	u.mu.Lock()
	u.down[id] = time.Now().Add(d)
	u.mu.Unlock()
}

func negativeKey(id int64, key string) string { return strconv.FormatInt(id, 10) + "|" + key }

// KnownMissing reports whether the upstream of repository id answered 404
// for key within the negative cache's time to live.
func (u *UpstreamHealth) KnownMissing(id int64, key string) bool {
	k := negativeKey(id, key)
	u.mu.Lock()
	defer u.mu.Unlock()
	until, ok := u.notFound[k]
	if ok && time.Now().After(until) {
		delete(u.notFound, k)
		return false
	}
	return ok
}

// RememberMissing records a 404 of the upstream of repository id for key,
// for ttl.
func (u *UpstreamHealth) RememberMissing(id int64, key string, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.notFound) >= maxNegative {
		now := time.Now()
		for k, until := range u.notFound {
			if now.After(until) {
				delete(u.notFound, k)
			}
		}
		if len(u.notFound) >= maxNegative {
			clear(u.notFound)
		}
	}
	u.notFound[negativeKey(id, key)] = time.Now().Add(ttl)
}

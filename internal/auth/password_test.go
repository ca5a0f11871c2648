package auth

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestGuardQueueBound: with the one hashing slot taken, 64 requests wait
// for it and every one past them is refused at once; the waiting ones are
// all served once the slot frees.
func TestGuardQueueBound(t *testing.T) {
	g := newGuard(1, time.Minute, 1000, 1000)
	release := make(chan struct{})
	held := make(chan struct{})
	go g.hash(context.Background(), func() bool { close(held); <-release; return true })
	<-held
	var wg sync.WaitGroup
	var served, refused atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.hash(context.Background(), func() bool { return true }); err != nil {
				refused.Add(1)
			} else {
				served.Add(1)
			}
		}()
	}
	// The 36 past the queue are refused while the slot is still held.
	deadline := time.Now().Add(10 * time.Second)
	for refused.Load() < 36 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := g.waiting.Load(); n != 64 || refused.Load() != 36 {
		t.Fatalf("with the slot held: %d waiting, %d refused; want 64 and 36", n, refused.Load())
	}
	close(release)
	wg.Wait()
	if served.Load() != 64 || refused.Load() != 36 {
		t.Fatalf("served %d, refused %d; want 64 and 36", served.Load(), refused.Load())
	}
}

// Generated secrets are pasted into command lines: a leading '-' made
// `dvc remote modify --local s3 secret_access_key -xyz…` fail (CI, stop 31).
func TestRandomTypable(t *testing.T) {
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		s := RandomTypable(40)
		if len(s) != 40 {
			t.Fatalf("len %d, want 40", len(s))
		}
		for _, c := range s {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				t.Fatalf("%q has %q, want letters and digits only", s, c)
			}
			counts[c]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters in 80,000, want all 62", len(counts))
	}
	// 80,000 draws of 62 characters: 1,290 each expected, sd ≈ 35.
	for c, n := range counts {
		if n < 1000 || n > 1600 {
			t.Errorf("%q drawn %d times of 80,000, want about 1,290 (biased alphabet?)", c, n)
		}
	}
	if a, b := RandomTypable(24), RandomTypable(24); a == b {
		t.Fatalf("two draws alike: %q", a)
	}
}

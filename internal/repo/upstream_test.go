package repo

import (
	"testing"
	"time"
)

func TestUpstreamHealth(t *testing.T) {
	u := NewUpstreamHealth()
	if down, _ := u.Paused(1); down {
		t.Fatal("a new upstream is paused")
	}
	u.Pause(1, time.Minute)
	if down, left := u.Paused(1); !down || left <= 0 || left > time.Minute {
		t.Fatalf("Paused after Pause = %v %v", down, left)
	}
	if down, _ := u.Paused(2); down {
		t.Fatal("another repository's upstream is paused")
	}
	u.Pause(3, time.Nanosecond)
	time.Sleep(time.Millisecond)
	if down, _ := u.Paused(3); down {
		t.Fatal("a pause outlived its duration")
	}
	u.RememberMissing(1, "a", time.Minute)
	u.RememberMissing(1, "b", time.Nanosecond)
	u.RememberMissing(1, "c", 0) // not remembered
	time.Sleep(time.Millisecond)
	if !u.KnownMissing(1, "a") || u.KnownMissing(2, "a") || u.KnownMissing(1, "b") || u.KnownMissing(1, "c") {
		t.Fatal("the negative cache answers wrongly")
	}
	for i := 0; i < maxNegative+10; i++ {
		u.RememberMissing(9, string(rune('a'+i%26))+time.Duration(i).String(), time.Minute)
	}
	if len(u.notFound) > maxNegative {
		t.Fatalf("the negative cache holds %d entries", len(u.notFound))
	}
}

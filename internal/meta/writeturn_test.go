package meta

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until n writers wait for the turn.
func waitQueued(t *testing.T, w *writeTurn, first, queued int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		f, q := len(w.first), len(w.queued)
		w.mu.Unlock()
		if f == first && q == queued {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting writers: %d first, %d queued; want %d, %d", f, q, first, queued)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteTurnOrder: writers get the turn in order of arrival, except
// that leader election goes ahead of everyone queued.
func TestWriteTurnOrder(t *testing.T) {
	w := newWriteTurn("")
	ctx := context.Background()
	if held, err := w.take(ctx, false); !held || err != nil {
		t.Fatalf("take of a free turn: %v, %v", held, err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	start := func(name string, first bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held, err := w.take(ctx, first)
			if !held || err != nil {
				t.Errorf("%s: take = %v, %v", name, held, err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			w.give()
		}()
	}
	start("a", false)
	waitQueued(t, w, 0, 1)
	start("b", false)
	waitQueued(t, w, 0, 2)
	start("leader", true)
	waitQueued(t, w, 1, 2)
	start("c", false)
	waitQueued(t, w, 1, 3)
	w.give()
	wg.Wait()
	want := []string{"leader", "a", "b", "c"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	if w.held {
		t.Fatal("the turn is still held after every writer gave it back")
	}
}

// TestWriteTurnGivingUp: a writer whose context ends leaves the queue
// without taking the turn from the next one.
func TestWriteTurnGivingUp(t *testing.T) {
	w := newWriteTurn("")
	if held, _ := w.take(context.Background(), false); !held {
		t.Fatal("take of a free turn failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		held, err := w.take(ctx, false)
		if held {
			err = errors.New("held the turn after its context ended")
		}
		done <- err
	}()
	waitQueued(t, w, 0, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("take with a canceled context: %v", err)
	}
	waitQueued(t, w, 0, 0)
	w.give()
	if held, err := w.take(context.Background(), false); !held || err != nil {
		t.Fatalf("take after the canceled writer left: %v, %v", held, err)
	}
	w.give()
}

// TestWriteTurnHandoffRace: turns handed to writers that give up at the
// same moment are passed on, never lost (a lost turn would leave every
// later writer waiting txLockWait).
func TestWriteTurnHandoffRace(t *testing.T) {
	w := newWriteTurn("")
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*50*time.Microsecond)
			defer cancel()
			if held, _ := w.take(ctx, i%5 == 0); held {
				w.give()
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held || len(w.first)+len(w.queued) != 0 {
		t.Fatalf("after every writer left: held %v, %d first, %d queued", w.held, len(w.first), len(w.queued))
	}
}

func TestGoesFirst(t *testing.T) {
	for q, want := range map[string]bool{
		"UPDATE /* TEMPLATE: schema */river_leader SET expires_at = ?":  true,
		"INSERT INTO river_leader (leader_id) VALUES (?) ON CONFLICT":   true,
		"UPDATE river_job SET state = 'running' WHERE id IN (SELECT 1)": false,
		"INSERT INTO audit_events (kind) VALUES (?)":                    false,
	} {
		if got := goesFirst(q); got != want {
			t.Errorf("goesFirst(%q) = %v, want %v", q, got, want)
		}
	}
}

package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/meta"
)

// Subscribers hear every recorded event, with the ID it was stored under,
// in the order they subscribed.
func TestSubscribersHearRecordedEvents(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := audit.New(db, discard)
	var got []string
	var ids []int64
	l.Subscribe(func(_ context.Context, e audit.Event) { got = append(got, "a:"+e.Action); ids = append(ids, e.ID) })
	l.Subscribe(func(_ context.Context, e audit.Event) { got = append(got, "b:"+e.Subject) })
	l.Record(ctx, audit.Event{Action: "raw.upload", Repository: "files", Subject: "x/y.txt"})
	l.Record(ctx, audit.Event{Action: "raw.delete", Repository: "files", Subject: "x/z.txt"})
	want := []string{"a:raw.upload", "b:x/y.txt", "a:raw.delete", "b:x/z.txt"}
	if len(got) != len(want) {
		t.Fatalf("subscribers heard %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("subscribers heard %v, want %v", got, want)
		}
	}
	evs, err := l.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || ids[0] != evs[1].ID || ids[1] != evs[0].ID || ids[0] == 0 {
		t.Fatalf("subscribers got IDs %v, stored events %+v", ids, evs)
	}
}

// Transaction subscribers write in the transaction that records the
// event, with its ID; one that fails leaves the event recorded, runs
// again alone, and does not keep the others from writing.
func TestTxSubscribers(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := db.Exec(`CREATE TABLE followed (event_id INTEGER, what TEXT)`); err != nil {
		t.Fatal(err)
	}
	l := audit.New(db, discard)
	failures := 0
	l.SubscribeTx(func(ctx context.Context, tx *sql.Tx, e audit.Event) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO followed (event_id, what) VALUES ($1, 'index')`, e.ID)
		return err
	})
	l.SubscribeTx(func(ctx context.Context, tx *sql.Tx, e audit.Event) error {
		if e.Subject == "fails-once" && failures == 0 {
			failures++
			return errors.New("the queue is unavailable")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO followed (event_id, what) VALUES ($1, 'scan')`, e.ID)
		return err
	})
	var heard []int64
	l.Subscribe(func(_ context.Context, e audit.Event) { heard = append(heard, e.ID) })
	l.Record(ctx, audit.Event{Action: "raw.upload", Repository: "files", Subject: "ok"})
	l.Record(ctx, audit.Event{Action: "raw.upload", Repository: "files", Subject: "fails-once"})

	evs, err := l.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || len(heard) != 2 || heard[0] != evs[1].ID || heard[1] != evs[0].ID {
		t.Fatalf("events %+v, heard %v", evs, heard)
	}
	rows, err := db.Query(`SELECT event_id, what FROM followed ORDER BY event_id, what`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id int64
		var what string
		if err := rows.Scan(&id, &what); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", id, what))
	}
	want := []string{
		fmt.Sprintf("%d:index", evs[1].ID), fmt.Sprintf("%d:scan", evs[1].ID),
		fmt.Sprintf("%d:index", evs[0].ID), fmt.Sprintf("%d:scan", evs[0].ID),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("subscribers wrote %v, want %v", got, want)
	}
}

// RecordIn writes the event and its subscribers' rows in the change's
// transaction: they commit with it, go with its rollback, and a failing
// subscriber neither fails the change nor loses the event.
func TestRecordIn(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := db.Exec(`CREATE TABLE changes (k TEXT); CREATE TABLE followed (event_id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	l := audit.New(db, discard)
	fail := false
	l.SubscribeTx(func(ctx context.Context, tx *sql.Tx, e audit.Event) error {
		if fail {
			fail = false
			return errors.New("the queue is unavailable")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO followed (event_id) VALUES ($1)`, e.ID)
		return err
	})
	var heard []string
	l.Subscribe(func(_ context.Context, e audit.Event) { heard = append(heard, e.Subject) })
	change := func(key string, rollback bool) {
		var committed func()
		err := db.WithBatchTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (k) VALUES ($1)`, key); err != nil {
				return err
			}
			committed = l.RecordIn(ctx, tx, audit.Event{Action: "raw.upload", Repository: "files", Subject: key})
			if rollback {
				return errors.New("the change failed")
			}
			return nil
		})
		if err == nil {
			committed()
		} else if !rollback {
			t.Fatalf("change %s: %v", key, err)
		}
	}
	change("kept", false)
	change("rolled-back", true)
	fail = true
	change("subscriber-failed", false)

	count := func(q string) int {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM changes`); n != 2 {
		t.Fatalf("%d changes committed, want 2", n)
	}
	evs, err := l.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Subject != "subscriber-failed" || evs[1].Subject != "kept" {
		t.Fatalf("events %+v, want kept and subscriber-failed", evs)
	}
	// The failed subscriber ran again after the commit, for the event as
	// recorded then.
	if n := count(`SELECT COUNT(*) FROM followed f JOIN audit_events e ON e.id = f.event_id`); n != 2 {
		t.Fatalf("subscriber rows for recorded events: %d, want 2", n)
	}
	if strings.Join(heard, ",") != "kept,subscriber-failed" {
		t.Fatalf("subscribers heard %v", heard)
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openDB opens a SQLite metadata database for one test.
func openDB(t *testing.T) *meta.DB {
	t.Helper()
	db, err := meta.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

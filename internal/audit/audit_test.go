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

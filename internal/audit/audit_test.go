package audit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/meta"
)

// Subscribers hear every recorded event, with the ID it was stored under,
// in the order they subscribed.
func TestSubscribersHearRecordedEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := meta.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := audit.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

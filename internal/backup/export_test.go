package backup

import (
	"encoding/json"
	"io"
	"slices"
	"testing"
)

// CanonicalRows reads a snapshot and returns each table's rows as JSON,
// sorted, with booleans as 0 or 1, so that snapshots of either database
// compare equal when they hold the same data.
func CanonicalRows(t testing.TB, r io.Reader) map[string][]string {
	t.Helper()
	sr, err := newSnapshotReader(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	err = sr.each(func(h tableHeader) error {
		out[h.Table] = []string{}
		return nil
	}, func(h tableHeader, row []any) error {
		for i, v := range row {
			if b, ok := v.(bool); ok {
				row[i] = json.Number(map[bool]string{false: "0", true: "1"}[b])
			}
		}
		b, err := json.Marshal(row)
		out[h.Table] = append(out[h.Table], string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range out {
		slices.Sort(rows)
	}
	return out
}

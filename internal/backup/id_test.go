package backup

import (
	"sort"
	"testing"
	"time"
)

func TestIDsSortByTime(t *testing.T) {
	start := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		ids = append(ids, newID(start.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("IDs of later backups sort earlier: %v", ids)
	}
	got, err := idStarted(ids[7])
	if err != nil || !got.Equal(start.Add(7*time.Millisecond)) {
		t.Fatalf("idStarted(%s) = %v, %v", ids[7], got, err)
	}
}

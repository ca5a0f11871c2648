package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestReportCountsAndJSON(t *testing.T) {
	var out bytes.Buffer
	r := NewReport("test", Options{Progress: &out})
	var wg sync.WaitGroup
	for i := 0; i < 150; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.Imported("file", "f", 10) }()
	}
	wg.Wait()
	r.Skipped("file", "g", 5)
	r.Fail("file", "h", errors.New("boom"))
	r.Map("run", "a", "b")
	r.Finish()

	if got := r.Totals[Imported]; got.Items != 150 || got.Bytes != 1500 {
		t.Fatalf("imported totals = %+v", got)
	}
	if r.Failures() != 1 {
		t.Fatalf("failures = %d", r.Failures())
	}
	if !strings.Contains(out.String(), "failed: file h: boom") || !strings.Contains(out.String(), "100 items") {
		t.Fatalf("progress output:\n%s", out.String())
	}
	var sum bytes.Buffer
	r.Summary(&sum)
	if !strings.Contains(sum.String(), "failed: file h: boom") {
		t.Fatalf("summary:\n%s", sum.String())
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Totals[Present].Items != 1 || back.Mappings["run"]["a"] != "b" || len(back.Items) != 152 {
		t.Fatalf("round trip: %+v", back.Totals)
	}
}

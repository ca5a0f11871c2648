// Package importer brings history from the systems arca replaces (an MLflow
// tracking server, OCI registries, PyPI indexes, npm registries, S3 buckets,
// Nexus) into arca. Each source lives in a file of its own and writes through
// arca's own code paths, so imported content obeys the same rules as
// uploaded content (the blob/GC rule, audit, quotas).
//
// Every source follows the same contract:
//
//   - Idempotent and resumable: before moving anything it checks whether the
//     destination already has it (by digest where the source gives one) and
//     records it as skipped. An interrupted import is resumed by running it
//     again.
//   - Dry run: with Options.DryRun it lists what it would import, with counts
//     and bytes, and writes nothing.
//   - Streaming: content goes from the source into the blob store without
//     being staged whole on disk twice.
//   - It reports every item into one Report, which the command prints and
//     writes as JSON.
package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// Options are what every source takes besides its own settings.
type Options struct {
	// DryRun lists what would be imported and writes nothing.
	DryRun bool
	// Progress receives progress output; nil discards it.
	Progress io.Writer
	// Terminal draws a one-line progress bar instead of plain lines.
	Terminal bool
}

// Outcome is what happened to one item.
type Outcome string

const (
	Imported Outcome = "imported"
	Present  Outcome = "skipped"      // already in arca: nothing moved
	Planned  Outcome = "would-import" // dry run
	Failed   Outcome = "failed"
)

// Item is one reported unit: an image tag, a package file, a run, an object.
type Item struct {
	Kind    string  `json:"kind"` // "run", "experiment", "model-version", "manifest", "blob", "file", "object", ...
	Name    string  `json:"name"`
	Bytes   int64   `json:"bytes,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
}

// Totals are the counts and bytes per outcome.
type Totals struct {
	Items int   `json:"items"`
	Bytes int64 `json:"bytes"`
}

// Report collects what an import did. It is safe for concurrent use.
type Report struct {
	Source   string             `json:"source"`
	DryRun   bool               `json:"dry_run"`
	Started  time.Time          `json:"started"`
	Finished time.Time          `json:"finished"`
	Totals   map[Outcome]Totals `json:"totals"`
	// Mappings records identifiers that had to change (an MLflow run ID
	// taken in arca already, say): kind -> old -> new.
	Mappings map[string]map[string]string `json:"mappings,omitempty"`
	Items    []Item                       `json:"items"`

	mu       sync.Mutex
	progress *progress
}

// NewReport starts a report for source.
func NewReport(source string, opts Options) *Report {
	return &Report{
		Source:   source,
		DryRun:   opts.DryRun,
		Started:  time.Now().UTC(),
		Totals:   map[Outcome]Totals{},
		progress: &progress{w: opts.Progress, terminal: opts.Terminal},
	}
}

// Add records one item and updates the progress output.
func (r *Report) Add(it Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Items = append(r.Items, it)
	t := r.Totals[it.Outcome]
	t.Items++
	t.Bytes += it.Bytes
	r.Totals[it.Outcome] = t
	r.progress.item(it, r.Totals)
}

// Imported, Skipped, Planned and Fail are shorthands for Add.
func (r *Report) Imported(kind, name string, bytes int64) {
	r.Add(Item{Kind: kind, Name: name, Bytes: bytes, Outcome: Imported})
}

func (r *Report) Skipped(kind, name string, bytes int64) {
	r.Add(Item{Kind: kind, Name: name, Bytes: bytes, Outcome: Present})
}

func (r *Report) Planned(kind, name string, bytes int64) {
	r.Add(Item{Kind: kind, Name: name, Bytes: bytes, Outcome: Planned})
}

func (r *Report) Fail(kind, name string, err error) {
	r.Add(Item{Kind: kind, Name: name, Outcome: Failed, Reason: err.Error()})
}

// Map records that an identifier changed on the way in.
func (r *Report) Map(kind, from, to string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Mappings == nil {
		r.Mappings = map[string]map[string]string{}
	}
	if r.Mappings[kind] == nil {
		r.Mappings[kind] = map[string]string{}
	}
	r.Mappings[kind][from] = to
}

// Failures is the number of failed items.
func (r *Report) Failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Totals[Failed].Items
}

// Finish stamps the end time and ends the progress output.
func (r *Report) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Finished = time.Now().UTC()
	r.progress.done()
}

// Summary is the human-readable closing lines.
func (r *Report) Summary(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcomes := make([]string, 0, len(r.Totals))
	for o := range r.Totals {
		outcomes = append(outcomes, string(o))
	}
	sort.Strings(outcomes)
	took := r.Finished.Sub(r.Started).Round(time.Millisecond)
	fmt.Fprintf(w, "import from %s finished in %s\n", r.Source, took)
	for _, o := range outcomes {
		t := r.Totals[Outcome(o)]
		fmt.Fprintf(w, "  %-13s %7d items %12d bytes\n", o, t.Items, t.Bytes)
	}
	for _, it := range r.Items {
		if it.Outcome == Failed {
			fmt.Fprintf(w, "  failed: %s %s: %s\n", it.Kind, it.Name, it.Reason)
		}
	}
}

// WriteJSON writes the report to path (atomically: a temporary file renamed).
func (r *Report) WriteJSON(path string) error {
	r.mu.Lock()
	b, err := json.MarshalIndent(r, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// progress prints plain lines (one per 100 items and per failure) or, on a
// terminal, one redrawn line.
type progress struct {
	w        io.Writer
	terminal bool
	n        int
	last     time.Time
}

func (p *progress) item(it Item, totals map[Outcome]Totals) {
	if p.w == nil {
		return
	}
	p.n++
	line := fmt.Sprintf("%d items: %d imported (%s), %d skipped, %d failed",
		p.n, totals[Imported].Items+totals[Planned].Items, humanize.IBytes(uint64(totals[Imported].Bytes+totals[Planned].Bytes)),
		totals[Present].Items, totals[Failed].Items)
	switch {
	case p.terminal:
		if time.Since(p.last) > 100*time.Millisecond || it.Outcome == Failed {
			fmt.Fprintf(p.w, "\r\033[K%s  %s %s", line, it.Kind, it.Name)
			p.last = time.Now()
		}
	case it.Outcome == Failed:
		fmt.Fprintf(p.w, "failed: %s %s: %s\n", it.Kind, it.Name, it.Reason)
	case p.n%100 == 0 || time.Since(p.last) > 5*time.Second:
		fmt.Fprintln(p.w, line)
		p.last = time.Now()
	}
}

func (p *progress) done() {
	if p.w != nil && p.terminal {
		fmt.Fprintln(p.w)
	}
}

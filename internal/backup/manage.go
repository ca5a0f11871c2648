package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// Entry is a backup found in a target: complete (with its manifest) or
// not (a backup that was interrupted, or is running now).
type Entry struct {
	ID       string
	Manifest *Manifest // nil when incomplete
}

// List returns the backups in t, oldest first.
func List(ctx context.Context, t Target) ([]Entry, error) {
	ids, err := t.List(ctx, "backups")
	if err != nil {
		return nil, fmt.Errorf("listing backups in %s: %w", t, err)
	}
	sort.Strings(ids)
	var out []Entry
	for _, id := range ids {
		m, err := ReadManifest(ctx, t, id)
		if errs.Is(err, errs.NotFound) {
			out = append(out, Entry{ID: id})
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{ID: id, Manifest: &m})
	}
	return out, nil
}

// ReadManifest reads the manifest of backup id.
func ReadManifest(ctx context.Context, t Target, id string) (Manifest, error) {
	var m Manifest
	r, err := t.Get(ctx, dir(id)+"manifest.json")
	if err != nil {
		return m, err
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, fmt.Errorf("reading the manifest of backup %s: %w", id, err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("backup %s has format %q; this arca reads %q", id, m.Format, Format)
	}
	return m, nil
}

// Find returns the manifest of backup id, or of the newest complete backup
// when id is "".
func Find(ctx context.Context, t Target, id string) (Manifest, error) {
	if id != "" {
		return ReadManifest(ctx, t, id)
	}
	all, err := List(ctx, t)
	if err != nil {
		return Manifest{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Manifest != nil {
			return *all[i].Manifest, nil
		}
	}
	return Manifest{}, fmt.Errorf("%w in %s", errNoBackups, t)
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Blobs, Bytes int64
	Tables       map[string]int64
	Problems     []string
}

// Verify checks backup m in t: its metadata snapshot and blob list against
// the manifest's sha256, the snapshot's rows per table against the
// manifest's counts, and every blob it needs by reading it whole and
// hashing it. It reports every problem it finds; the error is for a
// verification that could not run.
func Verify(ctx context.Context, t Target, m Manifest, progressTo io.Writer) (VerifyReport, error) {
	rep := VerifyReport{Tables: map[string]int64{}}
	prog := &progress{w: progressTo, interval: 2 * time.Second}
	tmp, err := os.MkdirTemp("", "arca-verify-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, m.Metadata.Name)
	if err := fetch(ctx, t, m.ID, m.Metadata, snap); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else if counts, err := countRows(snap); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else {
		rep.Tables = counts
		for table, n := range m.Tables {
			if counts[table] != n {
				rep.Problems = append(rep.Problems, fmt.Sprintf("table %s: %d rows in the snapshot, the manifest says %d", table, counts[table], n))
			}
		}
	}
	refs, err := readBackupBlobList(ctx, t, m, tmp)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	for i, r := range refs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Blobs++
		rep.Bytes += r.Size
		if p := verifyBlob(ctx, t.Blobs(), r); p != "" {
			rep.Problems = append(rep.Problems, p)
		}
		prog.printf(false, "verified %d of %d blobs (%s)", i+1, len(refs), humanize.IBytes(uint64(rep.Bytes)))
	}
	return rep, nil
}

func readBackupBlobList(ctx context.Context, t Target, m Manifest, tmp string) ([]BlobRef, error) {
	path := filepath.Join(tmp, m.BlobList.Name)
	if err := fetch(ctx, t, m.ID, m.BlobList, path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBlobList(f)
}

func verifyBlob(ctx context.Context, d blob.Driver, r BlobRef) string {
	dg, err := blob.ParseDigest(r.Digest)
	if err != nil {
		return err.Error()
	}
	rd, err := d.Open(ctx, dg, 0)
	if err != nil {
		return fmt.Sprintf("%s: %v", r.Digest, err)
	}
	defer rd.Close()
	h := sha256.New()
	n, err := io.Copy(h, rd)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", r.Digest, err)
	case n != r.Size:
		return fmt.Sprintf("%s: %d bytes, want %d", r.Digest, n, r.Size)
	case "sha256:"+hex.EncodeToString(h.Sum(nil)) != r.Digest:
		return fmt.Sprintf("%s: the bytes have sha256 %s", r.Digest, hex.EncodeToString(h.Sum(nil)))
	}
	return ""
}

func countRows(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sr, err := newSnapshotReader(f)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	err = sr.each(func(h tableHeader) error {
		counts[h.Table] += 0
		return nil
	}, func(h tableHeader, _ []any) error {
		counts[h.Table]++
		return nil
	})
	return counts, err
}

// Retention says which backups Prune keeps: the newest Keep, and those
// younger than KeepDays days. A backup either rule keeps is kept; zero
// disables a rule; the newest complete backup is always kept.
type Retention struct {
	Keep     int
	KeepDays int
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Deleted, Kept     []string
	Blobs, BlobsBytes int64 // blobs no kept backup needs, deleted
}

// blobGrace protects blobs a running backup has just copied, but whose
// manifest (which names them) it has not written yet.
const blobGrace = time.Hour

// Prune deletes the backups ret does not keep, incomplete backups older
// than a day, and then the blobs that no kept backup needs and that are
// older than an hour. Do not run it while a backup into the same target is
// running longer than that.
func Prune(ctx context.Context, t Target, ret Retention, now time.Time, dryRun bool) (PruneReport, error) {
	var rep PruneReport
	if ret.Keep <= 0 && ret.KeepDays <= 0 {
		return rep, fmt.Errorf("prune needs --keep N or --keep-days N")
	}
	all, err := List(ctx, t)
	if err != nil {
		return rep, err
	}
	var complete []Manifest
	for _, e := range all {
		if e.Manifest != nil {
			complete = append(complete, *e.Manifest)
		} else if started, err := idStarted(e.ID); err == nil && now.Sub(started) > 24*time.Hour {
			rep.Deleted = append(rep.Deleted, e.ID)
		}
	}
	var kept []Manifest
	for i, m := range complete {
		newest := len(complete) - i // 1 for the newest
		keep := newest == 1 ||
			(ret.Keep > 0 && newest <= ret.Keep) ||
			(ret.KeepDays > 0 && now.Sub(m.StartedAt) < time.Duration(ret.KeepDays)*24*time.Hour)
		if keep {
			kept = append(kept, m)
			rep.Kept = append(rep.Kept, m.ID)
		} else {
			rep.Deleted = append(rep.Deleted, m.ID)
		}
	}
	tmp, err := os.MkdirTemp("", "arca-prune-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	need := map[string]bool{}
	for _, m := range kept {
		refs, err := readBackupBlobList(ctx, t, m, tmp)
		if err != nil {
			return rep, fmt.Errorf("backup %s: %w", m.ID, err)
		}
		for _, r := range refs {
			need[r.Digest] = true
		}
	}
	if !dryRun {
		for _, id := range rep.Deleted {
			if err := t.DeleteAll(ctx, dir(id)); err != nil {
				return rep, fmt.Errorf("deleting backup %s: %w", id, err)
			}
		}
	}
	var unneeded []blob.Stat
	if err := t.Blobs().Walk(ctx, func(s blob.Stat) error {
		if !need[string(s.Digest)] && now.Sub(s.ModTime) > blobGrace {
			unneeded = append(unneeded, s)
		}
		return nil
	}); err != nil {
		return rep, err
	}
	for _, s := range unneeded {
		if !dryRun {
			if err := t.Blobs().Delete(ctx, s.Digest); err != nil {
				return rep, err
			}
		}
		rep.Blobs++
		rep.BlobsBytes += s.Size
	}
	return rep, nil
}

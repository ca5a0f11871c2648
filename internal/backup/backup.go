// Package backup takes online, consistent backups of an arca — a
// dialect-neutral snapshot of the metadata database and every blob it
// refers to — into a directory or an S3 prefix, and restores them into an
// empty installation on either database.
//
// A backup takes the snapshot first and then copies the blobs its blobs
// table names. Garbage collection never deletes the bytes of a blob whose
// row exists, but the row may be deleted (a reference dropped, then a
// collection) between the snapshot and the copy; the copy then finds the
// bytes gone. Run retries the whole backup with a new snapshot, which no
// longer has the row, up to three times, and then fails naming the
// digests (a blob missing three times over is damage: see arca fsck).
package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/version"
)

// Format names the layout of a backup's manifest and files.
const Format = "arca-backup/1"

// attempts is how often Run takes a new snapshot when blobs were collected
// under it.
const attempts = 3

// Manifest describes one complete backup; it is written last, so a backup
// directory without one is incomplete.
type Manifest struct {
	Format        string           `json:"format"`
	ID            string           `json:"id"`
	StartedAt     time.Time        `json:"started_at"`
	FinishedAt    time.Time        `json:"finished_at"`
	ArcaVersion   string           `json:"arca_version"`
	Dialect       meta.Dialect     `json:"dialect"`
	SchemaVersion int64            `json:"schema_version"`
	Metadata      File             `json:"metadata"`
	BlobList      File             `json:"blob_list"`
	Blobs         int64            `json:"blobs"`
	BlobBytes     int64            `json:"blob_bytes"`
	CopiedBlobs   int64            `json:"copied_blobs"`
	CopiedBytes   int64            `json:"copied_bytes"`
	Tables        map[string]int64 `json:"tables"`
	KEKIDs        []string         `json:"kek_ids"`
	Attempts      int              `json:"attempts"`
}

// File is one file of a backup with its size and sha256.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func dir(id string) string { return "backups/" + id + "/" }

// Source is the arca being backed up.
type Source struct {
	DB    *meta.DB
	Blobs *blob.Store
}

// Options tune Run.
type Options struct {
	// Progress receives progress lines (stderr); nil for none.
	Progress io.Writer
	// TempDir holds the snapshot while the blobs are copied ("" for the
	// system's).
	TempDir string
}

// Run takes one backup of src into t and returns its manifest.
func Run(ctx context.Context, src Source, t Target, opts Options) (Manifest, error) {
	prog := &progress{w: opts.Progress, interval: 2 * time.Second}
	for attempt := 1; ; attempt++ {
		m, missing, err := runOnce(ctx, src, t, opts, prog)
		if err != nil || len(missing) == 0 {
			m.Attempts = attempt
			return m, err
		}
		if attempt == attempts {
			return m, fmt.Errorf("%d blobs named by the metadata were missing in %d snapshots in a row (first: %s): run arca fsck",
				len(missing), attempts, missing[0])
		}
		prog.printf(true, "%d blobs were collected after the snapshot; taking a new one", len(missing))
	}
}

func runOnce(ctx context.Context, src Source, t Target, opts Options, prog *progress) (Manifest, []string, error) {
	m := Manifest{Format: Format, StartedAt: time.Now().UTC(), ArcaVersion: version.String(), Dialect: src.DB.Dialect}
	m.ID = newID(m.StartedAt)
	tmp, err := os.MkdirTemp(opts.TempDir, "arca-backup-")
	if err != nil {
		return m, nil, err
	}
	defer os.RemoveAll(tmp)

	prog.printf(true, "backup %s: taking a snapshot of the %s database", m.ID, src.DB.Dialect)
	snapPath := filepath.Join(tmp, "metadata.jsonl.gz")
	c, err := snapshot(ctx, src.DB, tmp, snapPath)
	if err != nil {
		return m, nil, err
	}
	if m.Metadata, err = describe(snapPath, "metadata.jsonl.gz"); err != nil {
		return m, nil, err
	}
	m.SchemaVersion, m.Tables = c.SchemaVersion, c.Tables
	for _, s := range c.Secrets {
		if s.KEKID != "" && !slices.Contains(m.KEKIDs, s.KEKID) {
			m.KEKIDs = append(m.KEKIDs, s.KEKID)
		}
	}
	prog.printf(true, "backup %s: snapshot of %d tables (%s); copying %d blobs", m.ID, len(c.Tables), humanize.IBytes(uint64(m.Metadata.Size)), len(c.Blobs))

	st, err := copyBlobs(ctx, src.Blobs, blob.New(t.Blobs(), nil), c.Blobs, prog, "in the backup")
	if err != nil || len(st.Missing) > 0 {
		return m, st.Missing, err
	}
	m.Blobs, m.BlobBytes, m.CopiedBlobs, m.CopiedBytes = st.Blobs, st.Bytes, st.Copied, st.Copies

	listPath := filepath.Join(tmp, "blobs.txt.gz")
	if err := writeBlobList(listPath, c.Blobs); err != nil {
		return m, nil, err
	}
	if m.BlobList, err = describe(listPath, "blobs.txt.gz"); err != nil {
		return m, nil, err
	}
	for _, f := range []string{snapPath, listPath} {
		if err := putFile(ctx, t, dir(m.ID)+filepath.Base(f), f); err != nil {
			return m, nil, err
		}
	}
	m.FinishedAt = time.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, nil, err
	}
	if err := t.Put(ctx, dir(m.ID)+"manifest.json", strings.NewReader(string(b)+"\n")); err != nil {
		return m, nil, err
	}
	prog.printf(true, "backup %s: done: %d blobs (%s), %d copied (%s) in %s", m.ID, m.Blobs, humanize.IBytes(uint64(m.BlobBytes)),
		m.CopiedBlobs, humanize.IBytes(uint64(m.CopiedBytes)), m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
	return m, nil, nil
}

// idTime is the layout of the time in a backup's ID.
const idTime = "20060102T150405.000Z"

// newID names a backup by its start time in UTC, to the millisecond (so
// names sort by age), and a random suffix.
func newID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format(idTime) + "-" + hex.EncodeToString(b[:])
}

// idStarted is the start time an ID records.
func idStarted(id string) (time.Time, error) {
	ts, _, _ := strings.Cut(id, "-")
	return time.Parse(idTime, ts)
}

// snapshot writes a consistent snapshot of db to path. SQLite: VACUUM INTO
// a file in tmp (a transactionally consistent copy, taken while writers
// continue), exported from there. PostgreSQL: every table read in one
// REPEATABLE READ, READ ONLY transaction.
func snapshot(ctx context.Context, db *meta.DB, tmp, path string) (Contents, error) {
	f, err := os.Create(path)
	if err != nil {
		return Contents{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	var c Contents
	switch db.Dialect {
	case meta.SQLite:
		copyPath := filepath.Join(tmp, "snapshot.db")
		if _, err := db.ExecContext(ctx, `VACUUM INTO $1`, copyPath); err != nil {
			return c, fmt.Errorf("VACUUM INTO: %w", err)
		}
		snap, err := sql.Open("sqlite", "file:"+copyPath+"?mode=ro")
		if err != nil {
			return c, err
		}
		defer snap.Close()
		c, err = Export(ctx, snap, meta.SQLite, w)
		if err != nil {
			return c, err
		}
	case meta.Postgres:
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return c, meta.Err(err)
		}
		defer tx.Rollback()
		c, err = Export(ctx, tx, meta.Postgres, w)
		if err != nil {
			return c, err
		}
	default:
		return c, fmt.Errorf("unknown dialect %q", db.Dialect)
	}
	if err := w.Flush(); err != nil {
		return c, err
	}
	return c, f.Sync()
}

func writeBlobList(path string, refs []BlobRef) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	w := bufio.NewWriter(zw)
	for _, r := range refs {
		fmt.Fprintf(w, "%s %d\n", r.Digest, r.Size)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func readBlobList(r io.Reader) ([]BlobRef, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	var out []BlobRef
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		d, size, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("bad line in the blob list: %q", sc.Text())
		}
		out = append(out, BlobRef{Digest: d, Size: n})
	}
	return out, sc.Err()
}

// describe returns the size and sha256 of a local file.
func describe(path, name string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}

func putFile(ctx context.Context, t Target, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return t.Put(ctx, name, f)
}

// fetch copies a backup's file to a local path, checking its size and
// sha256 against the manifest.
func fetch(ctx context.Context, t Target, id string, want File, path string) error {
	r, err := t.Get(ctx, dir(id)+want.Name)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return fmt.Errorf("reading %s of backup %s: %w", want.Name, id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != want.Size || got != want.SHA256 {
		return fmt.Errorf("%s of backup %s is damaged: %d bytes with sha256 %s, the manifest says %d bytes with %s",
			want.Name, id, n, got, want.Size, want.SHA256)
	}
	return f.Close()
}

// errNoBackups is returned when a target holds no complete backup.
var errNoBackups = errors.New("no complete backup found")

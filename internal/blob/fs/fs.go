// Package fs is the filesystem blob driver: blobs live under
// <root>/blobs/sha256/<2 hex>/<64 hex>, staged writes under <root>/staging.
// A write goes to a staging file, is fsynced, and is renamed into place, so a
// crash at any instant leaves either no blob or the whole blob.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// Driver stores blobs in a local directory tree.
type Driver struct {
	root string
}

// New returns a driver rooted at dir, creating its directories: the
// staging directory and the 256 shard directories of the blob tree, so
// that a commit only renames into a directory that exists and is durable
// (a shard created on first use would cost the commit a mkdir and a sync
// of the parent).
func New(dir string) (*Driver, error) {
	d := &Driver{root: dir}
	for _, sub := range []string{d.blobDir(), d.stagingDir()} {
		if err := os.MkdirAll(sub, 0o750); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(d.blobDir())
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[e.Name()] = true
	}
	created := false
	for i := 0; i < 256; i++ {
		name := fmt.Sprintf("%02x", i)
		if have[name] {
			continue
		}
		err := os.Mkdir(filepath.Join(d.blobDir(), name), 0o750)
		if err == nil {
			created = true
		} else if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	if created {
		for _, p := range []string{d.blobDir(), filepath.Dir(d.blobDir()), d.root} {
			if err := syncDir(p); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

func (d *Driver) blobDir() string    { return filepath.Join(d.root, "blobs", "sha256") }
func (d *Driver) stagingDir() string { return filepath.Join(d.root, "staging") }

func (d *Driver) path(dg blob.Digest) string {
	h := dg.Hex()
	return filepath.Join(d.blobDir(), h[:2], h)
}

// Stage creates a staging file with a random name.
func (d *Driver) Stage(ctx context.Context) (blob.StagedWriter, error) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	path := filepath.Join(d.stagingDir(), id)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	if err := lockStaged(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return &writer{d: d, f: f, id: id}, nil
}

// Resume reopens a staging file for appending at offset.
func (d *Driver) Resume(ctx context.Context, id string, offset int64) (blob.StagedWriter, error) {
	if len(id) != 32 || !isHex(id) {
		return nil, errs.E(errs.NotFound, "staged write %q not found", id)
	}
	path := filepath.Join(d.stagingDir(), id)
	f, err := os.OpenFile(path, os.O_WRONLY, 0o640)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Wrap(err, errs.NotFound, "staged write %q not found", id)
		}
		return nil, err
	}
	if err := lockStaged(f, path); err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < offset {
		err = fmt.Errorf("fs: staged write %s holds %d bytes, fewer than the %d recorded", id, fi.Size(), offset)
	}
	if err == nil {
		err = f.Truncate(offset)
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	// Touch it so PurgeStaged measures age from the last activity.
	now := time.Now()
	os.Chtimes(f.Name(), now, now)
	return &writer{d: d, f: f, id: id, off: offset, flushed: offset}, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

type writer struct {
	d       *Driver
	f       *os.File
	id      string
	done    bool
	off     int64 // bytes written through this writer
	flushed int64 // offset up to which writeback was started
}

// writebackChunk is how much a writer accumulates before it starts the
// kernel's writeback of it.
const writebackChunk = 8 << 20

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.flushed >= writebackChunk {
		startWriteback(w.f, w.flushed, w.off-w.flushed)
		w.flushed = w.off
	}
	return n, err
}

func (w *writer) ID() string { return w.id }

// Reader reads the staging file through a descriptor of its own.
func (w *writer) Reader(ctx context.Context) (io.ReadCloser, error) {
	if w.done {
		return nil, errors.New("fs: writer already finished")
	}
	f, err := os.Open(w.f.Name())
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, w.off), f}, nil
}

// Close syncs the staged bytes so that a Resume after a crash finds them.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := datasync(w.f); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}

func (w *writer) Commit(ctx context.Context, dg blob.Digest) error {
	if w.done {
		return errors.New("fs: writer already finished")
	}
	// The data and the size are made durable (fdatasync: the other
	// attributes of the inode need not be), then the name, by a sync of
	// the shard directory after the rename: two syncs per blob, the least
	// that POSIX allows for a new file whose name must survive a power
	// loss before the metadata that names it is committed.
	if err := datasync(w.f); err != nil {
		return err
	}
	final := w.d.path(dg)
	dir := filepath.Dir(final)
	// Rename replaces an existing file atomically; a concurrent writer of
	// the same digest has written the same bytes. The file is closed (and
	// its lock released) only after it left the staging area, so no other
	// writer can resume it in between.
	err := os.Rename(w.f.Name(), final)
	if errors.Is(err, fs.ErrNotExist) {
		// The shard directory was removed behind the driver's back.
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Rename(w.f.Name(), final)
	}
	if err != nil {
		return err
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

func (w *writer) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.f.Close() // after the removal, which the lock covers
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Open returns the blob's file positioned at offset. The file is an
// io.Seeker, so the Store seeks it in place.
func (d *Driver) Open(ctx context.Context, dg blob.Digest, offset int64) (io.ReadCloser, error) {
	f, err := os.Open(d.path(dg))
	if err != nil {
		return nil, notFound(err, dg)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func notFound(err error, dg blob.Digest) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errs.Wrap(err, errs.NotFound, "blob %s not found", dg)
	}
	return err
}

// Stat reports the blob's size and commit time.
func (d *Driver) Stat(ctx context.Context, dg blob.Digest) (blob.Stat, error) {
	fi, err := os.Stat(d.path(dg))
	if err != nil {
		return blob.Stat{}, notFound(err, dg)
	}
	return blob.Stat{Digest: dg, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes the blob's file.
func (d *Driver) Delete(ctx context.Context, dg blob.Digest) error {
	if err := os.Remove(d.path(dg)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk visits every blob file; stray files that are not named by a digest
// are skipped.
func (d *Driver) Walk(ctx context.Context, fn func(blob.Stat) error) error {
	shards, err := os.ReadDir(d.blobDir())
	if err != nil {
		return err
	}
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(d.blobDir(), shard.Name()))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			dg, err := blob.ParseDigest("sha256:" + e.Name())
			if err != nil || !strings.HasPrefix(e.Name(), shard.Name()) {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted while walking
				}
				return err
			}
			if err := fn(blob.Stat{Digest: dg, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// PurgeStaged removes staging files not modified since cutoff.
func (d *Driver) PurgeStaged(ctx context.Context, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(d.stagingDir())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(d.stagingDir(), e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// Ping checks that the staging directory is writable.
func (d *Driver) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(d.stagingDir(), "ping-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

var _ blob.Driver = (*Driver)(nil)

package blob

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	md5simd "github.com/minio/md5-simd"

	"github.com/arcaproject/arca/internal/errs"
)

// Observer receives one call per store operation, for metrics. It may be nil.
type Observer func(op string, err error, bytes int64, took time.Duration)

// Store is the content-addressed blob store every format shares.
type Store struct {
	driver  Driver
	observe Observer
	bufSize int      // of the pipelined writer's buffers (pipeline.go)
	lanes   md5Lanes // MD5 of concurrent large writes (md5lanes.go)
	// inline finds blobs whose bytes live in the metadata database;
	// inlineMax is the largest write CreateInline keeps for it (inline.go).
	inline    InlineSource
	inlineMax int
}

// New returns a Store over d. observe may be nil.
func New(d Driver, observe Observer) *Store {
	if observe == nil {
		observe = func(string, error, int64, time.Duration) {}
	}
	return &Store{driver: d, observe: observe, bufSize: defaultBufSize}
}

// Close stops the store's background hashing. Writes after it still work.
func (s *Store) Close() { s.lanes.close() }

// Driver returns the underlying driver.
func (s *Store) Driver() Driver { return s.driver }

// Create starts a write. The caller writes the bytes, then calls Commit to
// verify and publish them or Cancel to discard them.
func (s *Store) Create(ctx context.Context, extra Hashes) (*Writer, error) {
	sw, err := s.driver.Stage(ctx)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "blob store unavailable")
	}
	return newWriter(s, sw, extra), nil
}

func newWriter(s *Store, sw StagedWriter, extra Hashes) *Writer {
	return newWriterCtx(nil, s, sw, extra)
}

// newWriterCtx is newWriter for a write that stages lazily (sw nil): ctx is
// the context of the Stage call it makes when it outgrows memory.
func newWriterCtx(ctx context.Context, s *Store, sw StagedWriter, extra Hashes) *Writer {
	w := &Writer{ctx: ctx, store: s, staged: sw, sha256: sha256.New(), started: time.Now(), extra: extra}
	if extra&MD5 != 0 {
		w.md5 = md5.New()
	}
	if extra&SHA1 != 0 {
		w.sha1 = sha1.New()
	}
	if extra&SHA512 != 0 {
		w.sha512 = sha512.New()
	}
	w.setHashes()
	return w
}

// setHashes points Write at every digest the writer computes.
func (w *Writer) setHashes() {
	var hashes []io.Writer
	for _, h := range w.hashList() {
		hashes = append(hashes, h)
	}
	w.hashes = io.MultiWriter(hashes...)
}

// WriterState is what a suspended write needs to go on, in this process or
// another: the staged write's ID, how many bytes it holds, and the hashes'
// internal states. Callers persist it (e.g. in an upload session row) and
// pass it to Resume.
type WriterState struct {
	ID     string            `json:"id"`
	Size   int64             `json:"size"`
	Extra  Hashes            `json:"extra,omitempty"`
	Hashes map[string][]byte `json:"hashes"`
}

// Suspend makes the bytes written so far durable and returns the state
// from which Resume continues. The writer is spent afterwards.
func (w *Writer) Suspend(ctx context.Context) (WriterState, error) {
	if w.done {
		return WriterState{}, errs.E(errs.Internal, "blob writer already finished")
	}
	if w.err != nil {
		return WriterState{}, w.err
	}
	if err := w.stage(); err != nil {
		return WriterState{}, err
	}
	w.done = true
	defer w.leaveLanes()
	st := WriterState{ID: w.staged.ID(), Size: w.size, Extra: w.extra, Hashes: map[string][]byte{}}
	for name, h := range w.namedHashes() {
		m, ok := h.(encoding.BinaryMarshaler)
		if !ok {
			w.staged.Cancel(context.WithoutCancel(ctx))
			return WriterState{}, errs.E(errs.Internal, "a write whose %s was computed in SIMD lanes cannot be suspended", name)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return WriterState{}, errs.Wrap(err, errs.Internal, "saving hash state")
		}
		st.Hashes[name] = b
	}
	if err := w.staged.Close(); err != nil {
		return WriterState{}, errs.Wrap(err, errs.Unavailable, "blob store write failed")
	}
	return st, nil
}

func (w *Writer) namedHashes() map[string]hash.Hash {
	m := map[string]hash.Hash{"sha256": w.sha256}
	if w.md5 != nil {
		m["md5"] = w.md5
	}
	if w.sha1 != nil {
		m["sha1"] = w.sha1
	}
	if w.sha512 != nil {
		m["sha512"] = w.sha512
	}
	return m
}

// Resume continues a suspended write from its state.
func (s *Store) Resume(ctx context.Context, st WriterState) (*Writer, error) {
	sw, err := s.driver.Resume(ctx, st.ID, st.Size)
	if err != nil {
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Conflict) {
			return nil, err
		}
		return nil, errs.Wrap(err, errs.Unavailable, "blob store unavailable")
	}
	w := newWriter(s, sw, st.Extra)
	w.size = st.Size
	w.resumed = true
	for name, h := range w.namedHashes() {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hashes[name]); err != nil {
			sw.Close()
			return nil, errs.Wrap(err, errs.Internal, "restoring %s hash state", name)
		}
	}
	return w, nil
}

// Put streams r into the store, verifies it against want and publishes it.
// Nothing is visible unless Put returns nil.
func (s *Store) Put(ctx context.Context, r io.Reader, want Expect, extra Hashes) (Info, error) {
	w, err := s.Create(ctx, extra|want.hashes())
	if err != nil {
		return Info{}, err
	}
	return w.commitFrom(ctx, r, want)
}

// commitFrom streams r into w and commits the bytes against want; a read
// error cancels the write.
func (w *Writer) commitFrom(ctx context.Context, r io.Reader, want Expect) (Info, error) {
	if _, err := io.Copy(w, r); err != nil {
		w.Cancel(context.WithoutCancel(ctx))
		return Info{}, readError(err)
	}
	return w.Commit(ctx, want)
}

// readError classifies an error from reading a client's body. Errors that
// already carry a kind (e.g. TooLarge from a limit) keep it; others mean the
// client went away or sent a broken body.
func readError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(err, errs.Invalid, "upload interrupted")
	}
	return errs.Wrap(err, errs.Invalid, "reading request body failed")
}

// Open returns a reader of the whole blob that can seek, for range requests.
func (s *Store) Open(ctx context.Context, d Digest) (*Reader, error) {
	st, err := s.driver.Stat(ctx, d)
	data, at, err := s.orInline(ctx, d, err)
	if data != nil {
		return s.InlineReader(ctx, d, data, at), nil
	}
	if err != nil {
		s.observe("open", err, 0, 0)
		return nil, err
	}
	return &Reader{ctx: ctx, store: s, digest: d, size: st.Size, ModTime: st.ModTime}, nil
}

// Stat returns what the store knows about d, or an errs.NotFound error.
func (s *Store) Stat(ctx context.Context, d Digest) (Stat, error) {
	st, err := s.StatStored(ctx, d)
	if data, at, err := s.orInline(ctx, d, err); data != nil {
		return Stat{Digest: d, Size: int64(len(data)), ModTime: at}, nil
	} else if err != nil {
		return Stat{}, err
	}
	return st, nil
}

// Delete removes d. Callers must first make sure no metadata refers to it.
func (s *Store) Delete(ctx context.Context, d Digest) error {
	start := time.Now()
	err := s.driver.Delete(ctx, d)
	s.observe("delete", err, 0, time.Since(start))
	return err
}

// Walk visits every committed blob.
func (s *Store) Walk(ctx context.Context, fn func(Stat) error) error {
	return s.driver.Walk(ctx, fn)
}

// PurgeStaged removes staged writes abandoned before cutoff.
func (s *Store) PurgeStaged(ctx context.Context, cutoff time.Time) (int, error) {
	return s.driver.PurgeStaged(ctx, cutoff)
}

// Ping checks the driver's storage.
func (s *Store) Ping(ctx context.Context) error { return s.driver.Ping(ctx) }

func ignoreNotFound(err error) error {
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	return err
}

// Writer hashes bytes on their way into a staged write.
type Writer struct {
	ctx     context.Context // of a lazy Stage (CreateInline), else nil
	store   *Store
	staged  StagedWriter // nil while the bytes are held in small
	small   []byte       // the bytes of an inline write so far (inline.go)
	hashes  io.Writer
	sha256  hash.Hash
	md5     hash.Hash
	sha1    hash.Hash
	sha512  hash.Hash
	size    int64
	extra   Hashes
	started time.Time
	done    bool
	err     error
	// resumed: earlier bytes were staged by other writers (other requests,
	// maybe other processes), so Commit hashes them again before publishing.
	resumed bool
	// counted: a pipelined MD5 write counted in store.lanes; lane: its MD5
	// hasher there, when it got one (md5lanes.go).
	counted bool
	lane    md5simd.Hasher
}

// leaveLanes gives back the writer's place among the MD5 lanes' writes.
func (w *Writer) leaveLanes() {
	if w.counted {
		w.store.lanes.leave(w.lane)
		w.counted, w.lane = false, nil
	}
}

// Write stages p and feeds it to the hashes.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.staged == nil {
		if len(w.small)+len(p) <= w.store.inlineMax {
			w.small = append(w.small, p...)
			w.hashes.Write(p)
			w.size += int64(len(p))
			return len(p), nil
		}
		if err := w.stage(); err != nil {
			return 0, err
		}
	}
	n, err := w.staged.Write(p)
	w.hashes.Write(p[:n])
	w.size += int64(n)
	if err != nil {
		w.err = wrapWriteErr(err)
		return n, w.err
	}
	return n, nil
}

func wrapWriteErr(err error) error {
	return errs.Wrap(err, errs.Unavailable, "blob store write failed")
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Digest is the sha256 digest of the bytes written so far.
func (w *Writer) Digest() Digest { return FromSum(w.sha256.Sum(nil)) }

// Commit verifies the written bytes against want and, if they match,
// publishes them. On any error nothing is published and the staged bytes
// are discarded.
func (w *Writer) Commit(ctx context.Context, want Expect) (Info, error) {
	if w.done {
		return Info{}, errs.E(errs.Internal, "blob writer already finished")
	}
	w.done = true
	info := Info{Digest: w.Digest(), Size: w.size}
	if w.md5 != nil {
		info.MD5 = hex.EncodeToString(w.md5.Sum(nil))
	}
	w.leaveLanes()
	if w.sha1 != nil {
		info.SHA1 = hex.EncodeToString(w.sha1.Sum(nil))
	}
	if w.sha512 != nil {
		info.SHA512 = hex.EncodeToString(w.sha512.Sum(nil))
	}
	var err error
	switch {
	case w.err != nil:
		err = w.err
	case want.SizeKnown && want.Size != w.size:
		err = errs.E(errs.Invalid, "size mismatch: declared %d bytes, received %d", want.Size, w.size).WithCode("SIZE_INVALID")
	case want.Digest != "" && want.Digest != info.Digest:
		err = errs.E(errs.Invalid, "digest mismatch: declared %s, computed %s", want.Digest, info.Digest).WithCode("DIGEST_INVALID")
	case want.MD5 != "" && info.MD5 != "" && want.MD5 != info.MD5:
		err = errs.E(errs.Invalid, "MD5 mismatch: declared %s, computed %s", want.MD5, info.MD5).WithCode("DIGEST_INVALID")
	case want.SHA1 != "" && info.SHA1 != "" && want.SHA1 != info.SHA1:
		err = errs.E(errs.Invalid, "SHA-1 mismatch: declared %s, computed %s", want.SHA1, info.SHA1).WithCode("DIGEST_INVALID")
	case want.SHA512 != "" && info.SHA512 != "" && want.SHA512 != info.SHA512:
		err = errs.E(errs.Invalid, "SHA-512 mismatch: declared %s, computed %s", want.SHA512, info.SHA512).WithCode("DIGEST_INVALID")
	case w.resumed:
		err = w.verifyStaged(ctx, info)
	}
	if err != nil {
		if w.staged != nil {
			w.staged.Cancel(context.WithoutCancel(ctx))
		}
		w.store.observe("put", err, w.size, time.Since(w.started))
		return Info{}, err
	}
	if w.staged == nil {
		info.Inline = w.small
		w.store.observe("put", nil, w.size, time.Since(w.started))
		return info, nil
	}
	if err := w.staged.Commit(ctx, info.Digest); err != nil {
		w.staged.Cancel(context.WithoutCancel(ctx))
		err = errs.Wrap(err, errs.Unavailable, "blob store commit failed")
		w.store.observe("put", err, w.size, time.Since(w.started))
		return Info{}, err
	}
	w.store.observe("put", nil, w.size, time.Since(w.started))
	return info, nil
}

// verifyStaged reads a resumed write's staged bytes back and checks that
// they are the bytes the hash states describe: the store publishes only
// bytes whose digests it computed from those very bytes, whatever the
// callers recorded between requests.
func (w *Writer) verifyStaged(ctx context.Context, want Info) error {
	rc, err := w.staged.Reader(ctx)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "reading back a staged write")
	}
	defer rc.Close()
	check := newWriter(w.store, nil, w.extra)
	n, err := io.CopyBuffer(check.hashes, rc, make([]byte, 1<<20))
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "reading back a staged write")
	}
	got := Info{Digest: check.Digest(), Size: n}
	if check.md5 != nil {
		got.MD5 = hex.EncodeToString(check.md5.Sum(nil))
	}
	if check.sha1 != nil {
		got.SHA1 = hex.EncodeToString(check.sha1.Sum(nil))
	}
	if check.sha512 != nil {
		got.SHA512 = hex.EncodeToString(check.sha512.Sum(nil))
	}
	if got.Digest != want.Digest || got.Size != want.Size || got.MD5 != want.MD5 || got.SHA1 != want.SHA1 || got.SHA512 != want.SHA512 {
		return errs.E(errs.Invalid, "the staged bytes (%d, %s) differ from what was recorded as written (%d, %s); upload again",
			got.Size, got.Digest, want.Size, want.Digest).WithCode("DIGEST_INVALID")
	}
	return nil
}

// Cancel discards the write. It is a no-op after Commit.
func (w *Writer) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	w.leaveLanes()
	if w.staged == nil {
		w.small = nil
		return nil
	}
	return w.staged.Cancel(ctx)
}

// Reader reads one blob and can seek; it opens the driver's stream lazily so
// that a seek before the first read costs nothing (http.ServeContent seeks to
// find the size, then to the start of the requested range).
type Reader struct {
	ctx     context.Context
	store   *Store
	digest  Digest
	size    int64
	ModTime time.Time

	data   []byte // the bytes of an inline blob (inline set)
	inline bool

	rc     io.ReadCloser
	file   *os.File // rc, when handed out by Content
	offset int64    // position of the next Read
	rcAt   int64    // position rc will read next
	read   int64
	start  time.Time
}

// Size is the blob's length in bytes.
func (r *Reader) Size() int64 { return r.size }

// Digest is the blob's digest.
func (r *Reader) Digest() Digest { return r.digest }

func (r *Reader) Read(p []byte) (int, error) {
	if r.offset >= r.size {
		return 0, io.EOF
	}
	if r.inline {
		if r.start.IsZero() {
			r.start = time.Now()
		}
		n := copy(p, r.data[r.offset:])
		r.offset += int64(n)
		r.read += int64(n)
		return n, nil
	}
	if r.rc != nil && r.rcAt != r.offset {
		if s, ok := r.rc.(io.Seeker); ok {
			if _, err := s.Seek(r.offset, io.SeekStart); err != nil {
				return 0, err
			}
			r.rcAt = r.offset
		} else {
			r.rc.Close()
			r.rc = nil
		}
	}
	if r.rc == nil {
		if r.start.IsZero() {
			r.start = time.Now()
		}
		rc, err := r.store.driver.Open(r.ctx, r.digest, r.offset)
		if err != nil {
			return 0, err
		}
		r.rc, r.rcAt = rc, r.offset
	}
	n, err := r.rc.Read(p)
	r.offset += int64(n)
	r.rcAt += int64(n)
	r.read += int64(n)
	return n, err
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.offset + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("blob: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("blob: negative position")
	}
	r.offset = abs
	return abs, nil
}

// Content returns what to give http.ServeContent or io.Copy to send the
// blob: the driver's file itself when the driver stores blobs in files, so
// that the HTTP server's ReadFrom hands it to the kernel (sendfile(2))
// instead of copying it through user space; otherwise r. The file starts
// at offset 0, seeks on its own and is closed by r.Close; call Content
// before reading from r.
func (r *Reader) Content() io.ReadSeeker {
	if r.file != nil {
		return r.file
	}
	if r.inline {
		return r
	}
	if r.rc == nil {
		rc, err := r.store.driver.Open(r.ctx, r.digest, 0)
		if err != nil {
			return r // Read reports the error
		}
		r.rc, r.rcAt = rc, 0
	}
	f, ok := r.rc.(*os.File)
	if !ok {
		return r
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return r
	}
	r.file, r.start = f, time.Now()
	return f
}

// Close releases the driver's stream.
func (r *Reader) Close() error {
	if r.file != nil {
		// What was sent from the file: its position (one range at most).
		if pos, err := r.file.Seek(0, io.SeekCurrent); err == nil {
			r.read = pos
		}
	}
	if !r.start.IsZero() {
		r.store.observe("get", nil, r.read, time.Since(r.start))
	}
	if r.rc != nil {
		err := r.rc.Close()
		r.rc = nil
		return err
	}
	return nil
}

var _ io.ReadSeekCloser = (*Reader)(nil)

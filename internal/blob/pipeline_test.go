package blob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/fs"
	"github.com/arcaproject/arca/internal/errs"
)

// chunky returns its data in pieces of random sizes, as a network body
// does, and fails with failErr at failAt (when failAt >= 0).
type chunky struct {
	data    []byte
	rnd     *rand.Rand
	max     int
	failAt  int
	failErr error
	off     int
}

func (c *chunky) Read(p []byte) (int, error) {
	if c.failAt >= 0 && c.off >= c.failAt {
		return 0, c.failErr
	}
	if c.off >= len(c.data) {
		return 0, io.EOF
	}
	n := 1 + c.rnd.IntN(c.max)
	n = min(n, len(p), len(c.data)-c.off)
	if c.failAt >= 0 {
		n = min(n, c.failAt-c.off)
	}
	copy(p, c.data[c.off:c.off+n])
	c.off += n
	return n, nil
}

func want(data []byte, extra blob.Hashes) blob.Info {
	s := sha256.Sum256(data)
	info := blob.Info{Digest: blob.FromSum(s[:]), Size: int64(len(data))}
	if extra&blob.MD5 != 0 {
		m := md5.Sum(data)
		info.MD5 = hex.EncodeToString(m[:])
	}
	if extra&blob.SHA1 != 0 {
		m := sha1.Sum(data)
		info.SHA1 = hex.EncodeToString(m[:])
	}
	if extra&blob.SHA512 != 0 {
		m := sha512.Sum512(data)
		info.SHA512 = hex.EncodeToString(m[:])
	}
	return info
}

func readBack(t testing.TB, s *blob.Store, d blob.Digest) []byte {
	t.Helper()
	rd, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzPipelinedWriter: for any data, buffer size, chunking of the body and
// set of extra digests, the pipelined writer (Writer.ReadFrom, what
// io.Copy of a request body uses) stores the same bytes under the same
// digests as the simple one (Writer.Write, one buffer at a time), as the
// inline writer (CreateInline, which keeps writes within its limit out of
// the driver and stages the others) and as the hash functions computed
// directly.
func FuzzPipelinedWriter(f *testing.F) {
	f.Add([]byte("hello"), uint64(1), uint16(3), uint8(1), uint32(0))
	f.Add([]byte{}, uint64(2), uint16(1), uint8(7), uint32(0))
	f.Add(bytes.Repeat([]byte("abc"), 100), uint64(3), uint16(16), uint8(2), uint32(0))
	f.Add([]byte("x"), uint64(4), uint16(4096), uint8(5), uint32(3<<20))
	drv, err := fs.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	inlDrv, err := fs.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	emptyDrv, err := fs.New(f.TempDir()) // never written to
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, bufSize uint16, extras uint8, grow uint32) {
		rnd := rand.New(rand.NewPCG(seed, seed>>3))
		if grow > 0 { // random data of a random size past the fuzzer's input, up to 2000 buffers
			extra := make([]byte, int(grow)%min(5<<20, 2000*(1+int(bufSize))))
			var key [32]byte
			key[0], key[1] = byte(seed), byte(grow)
			rand.NewChaCha8(key).Read(extra)
			data = append(data, extra...)
		}
		extra := blob.Hashes(extras & 7)
		s := blob.New(drv, nil)
		blob.SetBufSize(s, 1+int(bufSize))
		ctx := context.Background()

		w, err := s.Create(ctx, extra)
		if err != nil {
			t.Fatal(err)
		}
		body := &chunky{data: data, rnd: rnd, max: 1 + rnd.IntN(3*int(bufSize)+2), failAt: -1}
		if n, err := io.Copy(w, body); err != nil || n != int64(len(data)) {
			t.Fatalf("io.Copy = %d, %v; want %d bytes", n, err, len(data))
		}
		piped, err := w.Commit(ctx, blob.Expect{})
		if err != nil {
			t.Fatal(err)
		}
		w, err = s.Create(ctx, extra)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); {
			n := min(len(data)-off, 1+rnd.IntN(1<<16))
			if _, err := w.Write(data[off : off+n]); err != nil {
				t.Fatal(err)
			}
			off += n
		}
		simple, err := w.Commit(ctx, blob.Expect{})
		if err != nil {
			t.Fatal(err)
		}
		// The inline writer, with a limit below, at or above the size.
		inl := blob.New(inlDrv, nil)
		blob.SetBufSize(inl, 1+int(bufSize))
		src := memInline{}
		limit := rnd.IntN(2*len(data) + 2)
		inl.SetInline(src, limit)
		w, err = inl.CreateInline(ctx, extra)
		if err != nil {
			t.Fatal(err)
		}
		body = &chunky{data: data, rnd: rnd, max: 1 + rnd.IntN(3*int(bufSize)+2), failAt: -1}
		if n, err := io.Copy(w, body); err != nil || n != int64(len(data)) {
			t.Fatalf("inline io.Copy = %d, %v; want %d bytes", n, err, len(data))
		}
		inline, err := w.Commit(ctx, blob.Expect{Size: int64(len(data)), SizeKnown: true})
		if err != nil {
			t.Fatal(err)
		}
		if (inline.Inline != nil) != (limit > 0 && len(data) <= limit) { // a limit of 0 turns inline writes off
			t.Fatalf("%d bytes with an inline limit of %d: Info.Inline is %d bytes (nil: %v)", len(data), limit, len(inline.Inline), inline.Inline == nil)
		}
		if inline.Inline != nil {
			if !bytes.Equal(inline.Inline, data) {
				t.Fatalf("Info.Inline holds %d bytes that differ from the %d written", len(inline.Inline), len(data))
			}
			src[inline.Digest] = inline.Inline
			// A store whose driver never saw the bytes reads them from
			// the inline source alone.
			only := blob.New(emptyDrv, nil)
			only.SetInline(src, 0)
			if got := readBack(t, only, inline.Digest); !bytes.Equal(got, data) {
				t.Fatalf("inline blob read back as %d bytes that differ from the %d written", len(got), len(data))
			}
			if st, err := only.Stat(ctx, inline.Digest); err != nil || st.Size != int64(len(data)) {
				t.Fatalf("Stat of an inline blob = %+v, %v", st, err)
			}
		} else if got := readBack(t, inl, inline.Digest); !bytes.Equal(got, data) {
			t.Fatalf("stored %d bytes differ from the %d written", len(got), len(data))
		}
		inline.Inline = nil
		if exp := want(data, extra); !reflect.DeepEqual(piped, exp) || !reflect.DeepEqual(simple, exp) || !reflect.DeepEqual(inline, exp) {
			t.Fatalf("pipelined %+v, simple %+v, inline %+v, want %+v", piped, simple, inline, exp)
		}
		if got := readBack(t, s, piped.Digest); !bytes.Equal(got, data) {
			t.Fatalf("stored %d bytes differ from the %d written", len(got), len(data))
		}
	})
}

// memInline is an InlineSource over a map, standing in for the blobs
// table that gc.Record fills.
type memInline map[blob.Digest][]byte

func (m memInline) Inline(_ context.Context, d blob.Digest) ([]byte, time.Time, error) {
	if b, ok := m[d]; ok {
		return b, time.Now(), nil
	}
	return nil, time.Time{}, errs.E(errs.NotFound, "no inline blob %s", d)
}

// published lists what a store under dir holds: committed blobs and
// staged files.
func published(t *testing.T, s *blob.Store, dir string) (blobs, staged int) {
	t.Helper()
	s.Walk(context.Background(), func(blob.Stat) error { blobs++; return nil })
	entries, err := os.ReadDir(filepath.Join(dir, "staging"))
	if err != nil {
		t.Fatal(err)
	}
	return blobs, len(entries)
}

// A body that ends with an error at any point — before the first buffer
// is full, on a buffer boundary, in the middle of the pipeline, within or
// past an inline write's limit — stores nothing: Put fails, no blob is
// visible and no staged bytes remain.
func TestBrokenBodyPublishesNothing(t *testing.T) {
	const buf = 64
	data := make([]byte, 20*buf+7)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, inline := range []bool{false, true} {
		dir := t.TempDir()
		drv, err := fs.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		s := blob.New(drv, nil)
		blob.SetBufSize(s, buf)
		put := s.Put
		if inline {
			s.SetInline(memInline{}, 3*buf+5)
			put = s.PutInline
		}
		for _, extra := range []blob.Hashes{0, blob.MD5, blob.MD5 | blob.SHA1 | blob.SHA512} {
			for _, cut := range []int{0, 1, buf - 1, buf, buf + 1, 2 * buf, 3*buf + 5, 3*buf + 6, 5*buf + 3, 19 * buf, len(data) - 1} {
				body := &chunky{data: data, rnd: rand.New(rand.NewPCG(uint64(cut), 1)), max: 50, failAt: cut, failErr: io.ErrUnexpectedEOF}
				info, err := put(context.Background(), body, blob.Expect{}, extra)
				if err == nil || info.Inline != nil {
					t.Fatalf("cut at %d (inline %v): Put succeeded", cut, inline)
				}
				if b, st := published(t, s, dir); b != 0 || st != 0 {
					t.Fatalf("cut at %d (extra %d, inline %v): %d blobs and %d staged files left", cut, extra, inline, b, st)
				}
			}
		}
	}
}

// A client that disconnects in the middle of a real HTTP upload, at any
// point, leaves nothing published.
func TestClientDisconnectPublishesNothing(t *testing.T) {
	dir := t.TempDir()
	drv, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(drv, nil)
	blob.SetBufSize(s, 4096)
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := s.Put(r.Context(), r.Body, blob.Expect{}, blob.MD5)
		done <- err
	}))
	defer srv.Close()
	const size = 100 << 10
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for _, cut := range []int{0, 1, 4095, 4096, 4097, 30000, size - 1} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		conn.Write(body[:cut])
		time.Sleep(20 * time.Millisecond)
		conn.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("cut at %d: Put succeeded", cut)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("cut at %d: the handler did not end", cut)
		}
		if b, st := published(t, s, dir); b != 0 || st != 0 {
			t.Fatalf("cut at %d: %d blobs and %d staged files left", cut, b, st)
		}
	}
	// And a whole body is stored.
	resp, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, _ := published(t, s, dir); b != 1 {
		t.Fatalf("%d blobs after a whole upload, want 1", b)
	}
	if got := readBack(t, s, want(body, 0).Digest); !bytes.Equal(got, body) {
		t.Fatal("stored bytes differ")
	}
}

// BenchmarkPut64MiB: a 64 MiB body with MD5 (an S3 PUT's digests) through
// the pipelined writer (io.Copy of a reader that is not an io.WriterTo,
// as a request body) and through the simple one (Write per 1 MiB), onto
// tmpfs when /dev/shm exists, so that the disk is out of the picture.
func BenchmarkPut64MiB(b *testing.B) {
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "arca-bench-"); err == nil {
			dir = d
			defer os.RemoveAll(d)
		}
	}
	drv, err := fs.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	s := blob.New(drv, nil)
	data := make([]byte, 64<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	ctx := context.Background()
	b.Run("pipelined", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			data[0] = byte(i)
			w, _ := s.Create(ctx, blob.MD5)
			if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Commit(ctx, blob.Expect{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("simple", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			data[0] = byte(i + 128)
			w, _ := s.Create(ctx, blob.MD5)
			for off := 0; off < len(data); off += 1 << 20 {
				w.Write(data[off : off+1<<20])
			}
			if _, err := w.Commit(ctx, blob.Expect{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// laneStore is a store on a fresh directory with 64 KiB pipeline buffers,
// so that a few MiB make many buffers; it is closed when t ends.
func laneStore(t *testing.T) *blob.Store {
	drv, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(drv, nil)
	t.Cleanup(s.Close)
	blob.SetBufSize(s, 64<<10)
	return s
}

// Concurrent large writes compute their MD5 in shared SIMD lanes: the
// sums are crypto/md5's for every size and chunking, a write cancelled
// midway (a client gone) gives its lane back, and nothing stays counted.
func TestMD5Lanes(t *testing.T) {
	s := laneStore(t)
	ctx := context.Background()
	const writers = 12
	errc := make(chan error, writers)
	for i := range writers {
		go func() {
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			data := make([]byte, 256<<10+rnd.IntN(4<<20))
			var key [32]byte
			key[0] = byte(i)
			rand.NewChaCha8(key).Read(data)
			w, err := s.Create(ctx, blob.MD5|blob.SHA1)
			if err != nil {
				errc <- err
				return
			}
			body := &chunky{data: data, rnd: rnd, max: 1 + rnd.IntN(200<<10), failAt: -1}
			if i%4 == 3 { // this client goes away halfway
				body.failAt, body.failErr = len(data)/2, io.ErrUnexpectedEOF
				if _, err := io.Copy(w, body); err == nil {
					errc <- fmt.Errorf("writer %d: a broken body copied without error", i)
					return
				}
				errc <- w.Cancel(ctx)
				return
			}
			if _, err := io.Copy(w, body); err != nil {
				errc <- err
				return
			}
			info, err := w.Commit(ctx, blob.Expect{})
			if exp := want(data, blob.MD5|blob.SHA1); err != nil || !reflect.DeepEqual(info, exp) {
				errc <- fmt.Errorf("writer %d: %+v, %v; want %+v", i, info, err, exp)
				return
			}
			errc <- nil
		}()
	}
	for range writers {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	n, started := blob.LaneWrites(s)
	if n != 0 {
		t.Errorf("%d writes still counted in the MD5 lanes after all ended", n)
	}
	if !started {
		t.Errorf("%d concurrent writes of several buffers never used the MD5 lanes", writers)
	}
}

// A write whose MD5 went to the lanes cannot save its hash states: Suspend
// says so (instead of panicking) and gives its place back.
func TestMD5LanesRefuseSuspend(t *testing.T) {
	s := laneStore(t)
	blob.SetLaneThreshold(s, 1)
	ctx := context.Background()
	w, err := s.Create(ctx, blob.MD5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, &chunky{data: make([]byte, 1<<20), rnd: rand.New(rand.NewPCG(1, 2)), max: 1 << 20, failAt: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Suspend(ctx); err == nil {
		t.Fatal("Suspend of a write hashed in MD5 lanes succeeded; its state cannot be saved")
	}
	if n, started := blob.LaneWrites(s); n != 0 || !started {
		t.Fatalf("after Suspend: %d writes counted, lanes started %v; want 0, true", n, started)
	}
}

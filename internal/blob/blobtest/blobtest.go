// Package blobtest is the conformance suite every blob driver runs:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Driver { return newDriver(t) })
//	}
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// Run runs the suite. newDriver must return an empty driver each call.
func Run(t *testing.T, newDriver func(t *testing.T) blob.Driver) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *blob.Store)
	}{
		{"PutOpenRoundTrip", testRoundTrip},
		{"EmptyBlob", testEmpty},
		{"ExtraHashes", testExtraHashes},
		{"DigestMismatchStoresNothing", testDigestMismatch},
		{"SizeMismatchStoresNothing", testSizeMismatch},
		{"CancelStoresNothing", testCancel},
		{"InterruptedWriteInvisibleAndPurged", testInterrupted},
		{"RangeReads", testRangeReads},
		{"StatAndDeleteMissing", testMissing},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"ConcurrentWritersSameDigest", testConcurrentSameDigest},
		{"ConcurrentWritersDifferentDigests", testConcurrentDifferent},
		{"SuspendResume", testSuspendResume},
		{"ResumeDiscardsUnrecordedTail", testResumeTail},
		{"Ping", func(t *testing.T, s *blob.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, blob.New(newDriver(t), nil))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func digestOf(b []byte) blob.Digest {
	sum := sha256.Sum256(b)
	return blob.FromSum(sum[:])
}

func put(t *testing.T, s *blob.Store, b []byte) blob.Info {
	t.Helper()
	info, err := s.Put(context.Background(), bytes.NewReader(b), blob.Expect{Digest: digestOf(b), Size: int64(len(b)), SizeKnown: true}, 0)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return info
}

func readAll(t *testing.T, s *blob.Store, d blob.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return b
}

func mustNotExist(t *testing.T, s *blob.Store, d blob.Digest) {
	t.Helper()
	if _, err := s.Stat(context.Background(), d); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Stat(%s) = %v, want not found", d, err)
	}
	if _, err := s.Open(context.Background(), d); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Open(%s) = %v, want not found", d, err)
	}
}

func testRoundTrip(t *testing.T, s *blob.Store) {
	b := randomBytes(t, 3<<20+17)
	info := put(t, s, b)
	if info.Digest != digestOf(b) || info.Size != int64(len(b)) {
		t.Fatalf("Info = %+v, want digest %s size %d", info, digestOf(b), len(b))
	}
	if got := readAll(t, s, info.Digest); !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(b))
	}
	st, err := s.Stat(context.Background(), info.Digest)
	if err != nil || st.Size != int64(len(b)) || st.Digest != info.Digest {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	// Writing the same bytes again is idempotent.
	put(t, s, b)
	if got := readAll(t, s, info.Digest); !bytes.Equal(got, b) {
		t.Fatal("content changed after a second identical put")
	}
}

func testEmpty(t *testing.T, s *blob.Store) {
	info := put(t, s, nil)
	if info.Digest != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || info.Size != 0 {
		t.Fatalf("empty blob info = %+v", info)
	}
	if got := readAll(t, s, info.Digest); len(got) != 0 {
		t.Fatalf("empty blob read %d bytes", len(got))
	}
}

func testExtraHashes(t *testing.T, s *blob.Store) {
	info, err := s.Put(context.Background(), bytes.NewReader([]byte("hello\n")), blob.Expect{}, blob.MD5|blob.SHA1|blob.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	want := blob.Info{
		Digest: "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
		Size:   6,
		MD5:    "b1946ac92492d2347c6235b4d2611184",
		SHA1:   "f572d396fae9206628714fb2ce00f72e94f2258f",
		SHA512: "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629",
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("Info = %+v\nwant   %+v", info, want)
	}
	// Without extra hashes only sha256 is computed.
	info, err = s.Put(context.Background(), bytes.NewReader([]byte("hello\n")), blob.Expect{}, 0)
	if err != nil || info.MD5 != "" || info.SHA1 != "" || info.SHA512 != "" {
		t.Fatalf("Info without extra hashes = %+v, %v", info, err)
	}
}

func testDigestMismatch(t *testing.T, s *blob.Store) {
	b := randomBytes(t, 1000)
	claimed := digestOf([]byte("something else"))
	_, err := s.Put(context.Background(), bytes.NewReader(b), blob.Expect{Digest: claimed}, 0)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Put with wrong digest = %v, want invalid", err)
	}
	mustNotExist(t, s, digestOf(b))
	mustNotExist(t, s, claimed)
	assertNoBlobs(t, s)
	// A wrong MD5, SHA-1 or SHA-512 claim stores nothing either.
	for _, want := range []blob.Expect{{MD5: strings.Repeat("0", 32)}, {SHA1: strings.Repeat("0", 40)}, {SHA512: strings.Repeat("0", 128)}} {
		if _, err := s.Put(context.Background(), bytes.NewReader(b), want, 0); !errs.Is(err, errs.Invalid) {
			t.Fatalf("Put with %+v = %v, want invalid", want, err)
		}
		assertNoBlobs(t, s)
	}
}

func testSizeMismatch(t *testing.T, s *blob.Store) {
	b := randomBytes(t, 1000)
	_, err := s.Put(context.Background(), bytes.NewReader(b), blob.Expect{Size: 999, SizeKnown: true}, 0)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Put with wrong size = %v, want invalid", err)
	}
	mustNotExist(t, s, digestOf(b))
	assertNoBlobs(t, s)
}

func testCancel(t *testing.T, s *blob.Store) {
	ctx := context.Background()
	w, err := s.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBytes(t, 4096)
	w.Write(b)
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	mustNotExist(t, s, digestOf(b))
	assertNoBlobs(t, s)
	if n, err := s.PurgeStaged(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("after Cancel, PurgeStaged = %d, %v; want nothing left staged", n, err)
	}
}

// failingReader returns an error after n bytes, like a client that hangs up.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func testInterrupted(t *testing.T, s *blob.Store) {
	ctx := context.Background()
	b := randomBytes(t, 1<<20)
	// A client that hangs up mid-body: Put fails and leaves nothing.
	if _, err := s.Put(ctx, &failingReader{r: bytes.NewReader(b), n: 1 << 19}, blob.Expect{}, 0); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	mustNotExist(t, s, digestOf(b))

	// A process that dies mid-write never calls Commit or Cancel: the
	// staged bytes stay invisible, and PurgeStaged removes them.
	w, err := s.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b[:1<<19])
	assertNoBlobs(t, s)
	if n, err := s.PurgeStaged(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeStaged with an old cutoff removed %d (%v); a fresh write must survive", n, err)
	}
	n, err := s.PurgeStaged(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PurgeStaged = %d, %v; want the one abandoned write removed", n, err)
	}
	assertNoBlobs(t, s)
}

func testRangeReads(t *testing.T, s *blob.Store) {
	b := randomBytes(t, 1<<20)
	info := put(t, s, b)
	r, err := s.Open(context.Background(), info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != int64(len(b)) {
		t.Fatalf("Size = %d", r.Size())
	}
	for _, rg := range []struct{ off, n int64 }{{0, 10}, {500000, 1000}, {int64(len(b)) - 7, 7}, {3, 1}, {0, int64(len(b))}} {
		if _, err := r.Seek(rg.off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, rg.n)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("read %d@%d: %v", rg.n, rg.off, err)
		}
		if !bytes.Equal(got, b[rg.off:rg.off+rg.n]) {
			t.Fatalf("range %d@%d differs", rg.n, rg.off)
		}
	}
	if end, _ := r.Seek(0, io.SeekEnd); end != int64(len(b)) {
		t.Fatalf("Seek(0, End) = %d", end)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read at end = %d, %v; want EOF", n, err)
	}
}

func testMissing(t *testing.T, s *blob.Store) {
	d := digestOf([]byte("never written"))
	mustNotExist(t, s, d)
	if err := s.Delete(context.Background(), d); err != nil {
		t.Fatalf("Delete of a missing blob = %v, want nil", err)
	}
}

func testDelete(t *testing.T, s *blob.Store) {
	a, b := put(t, s, []byte("a")), put(t, s, []byte("b"))
	if err := s.Delete(context.Background(), a.Digest); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, s, a.Digest)
	if got := readAll(t, s, b.Digest); string(got) != "b" {
		t.Fatalf("other blob damaged by delete: %q", got)
	}
}

func testWalk(t *testing.T, s *blob.Store) {
	want := map[blob.Digest]int64{}
	for i := 0; i < 20; i++ {
		b := randomBytes(t, i*10)
		want[put(t, s, b).Digest] = int64(len(b))
	}
	// A staged write in progress is not walked.
	w, _ := s.Create(context.Background(), 0)
	w.Write([]byte("in progress"))
	defer w.Cancel(context.Background())

	got := map[blob.Digest]int64{}
	err := s.Walk(context.Background(), func(st blob.Stat) error {
		got[st.Digest] = st.Size
		if st.ModTime.IsZero() {
			t.Errorf("Walk gave %s a zero ModTime", st.Digest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk saw %d blobs, want %d", len(got), len(want))
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("Walk: %s size %d, want %d", d, got[d], n)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(context.Background(), func(blob.Stat) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk did not stop at the callback's error: %v after %d calls", err, calls)
	}
}

func assertNoBlobs(t *testing.T, s *blob.Store) {
	t.Helper()
	s.Walk(context.Background(), func(st blob.Stat) error {
		t.Fatalf("unexpected blob %s", st.Digest)
		return nil
	})
}

func testConcurrentSameDigest(t *testing.T, s *blob.Store) {
	b := randomBytes(t, 2<<20)
	const writers = 8
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Small reads interleave the writers' staged files.
			_, err := s.Put(context.Background(), io.LimitReader(&slowReader{b: b}, int64(len(b))), blob.Expect{Digest: digestOf(b)}, 0)
			errc <- err
		}()
	}
	// Readers during the writes see either not-found or the whole blob.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			r, err := s.Open(context.Background(), digestOf(b))
			if err != nil {
				continue
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("reader saw a partial blob (%d bytes, %v)", len(got), err)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	if got := readAll(t, s, digestOf(b)); !bytes.Equal(got, b) {
		t.Fatal("blob differs after concurrent writers")
	}
	if n, _ := s.PurgeStaged(context.Background(), time.Now().Add(time.Hour)); n != 0 {
		t.Fatalf("%d staged files left behind by committed writers", n)
	}
}

type slowReader struct {
	b   []byte
	off int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func testConcurrentDifferent(t *testing.T, s *blob.Store) {
	const writers = 16
	blobs := make([][]byte, writers)
	for i := range blobs {
		blobs[i] = randomBytes(t, 64<<10+i)
	}
	var wg sync.WaitGroup
	for i := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(context.Background(), &slowReader{b: blobs[i]}, blob.Expect{Digest: digestOf(blobs[i])}, 0); err != nil {
				t.Errorf("Put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for _, b := range blobs {
		if got := readAll(t, s, digestOf(b)); !bytes.Equal(got, b) {
			t.Fatal("blob differs after concurrent writers")
		}
	}
}

func testSuspendResume(t *testing.T, s *blob.Store) {
	ctx := context.Background()
	b := randomBytes(t, 3<<20)
	w, err := s.Create(ctx, blob.MD5|blob.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b[:1<<20])
	st, err := w.Suspend(ctx)
	if err != nil {
		t.Fatalf("Suspend: %v", err)
	}
	if st.Size != 1<<20 || st.ID == "" {
		t.Fatalf("state = %+v", st)
	}
	assertNoBlobs(t, s)
	// Two more chunks, as if each arrived at a different process.
	w, err = s.Resume(ctx, st)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	w.Write(b[1<<20 : 2<<20])
	if st, err = w.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	if w, err = s.Resume(ctx, st); err != nil {
		t.Fatalf("second Resume: %v", err)
	}
	w.Write(b[2<<20:])
	info, err := w.Commit(ctx, blob.Expect{Digest: digestOf(b)})
	if err != nil {
		t.Fatalf("Commit after resume: %v", err)
	}
	if info.Size != int64(len(b)) || info.MD5 == "" || info.SHA512 == "" {
		t.Fatalf("info = %+v", info)
	}
	if got := readAll(t, s, info.Digest); !bytes.Equal(got, b) {
		t.Fatal("resumed blob differs")
	}
	if _, err := s.Resume(ctx, blob.WriterState{ID: "0123456789abcdef0123456789abcdef", Hashes: st.Hashes}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Resume of an unknown write = %v, want not found", err)
	}
}

func testResumeTail(t *testing.T, s *blob.Store) {
	ctx := context.Background()
	w, err := s.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello "))
	st, err := w.Suspend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A chunk written but never recorded (its process died before saving
	// the new state) must not survive into the blob.
	w2, err := s.Resume(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	w2.Write([]byte("GARBAGE"))
	if _, err := w2.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	w3, err := s.Resume(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	w3.Write([]byte("world"))
	info, err := w3.Commit(ctx, blob.Expect{Digest: digestOf([]byte("hello world"))})
	if err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if got := readAll(t, s, info.Digest); string(got) != "hello world" {
		t.Fatalf("got %q", got)
	}
}

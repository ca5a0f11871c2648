package blob

import (
	"cmp"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// The pipelined writer: Writer.ReadFrom, which io.Copy uses whenever the
// source is not an io.WriterTo (a request body), splits a write into
// stages that run on goroutines of their own — one per digest (sha256,
// and md5, sha1, sha512 when asked for) and one for the staged write —
// over a small ring of large buffers, while the caller's goroutine reads
// the next buffer from the client. Every stage sees every buffer, in
// order; a buffer goes back to the ring once all stages are done with it.
// So on a machine with spare cores an upload costs the slowest stage
// (usually sha256 or the disk), not the sum of them, and there is no copy
// beyond the one read into the ring. A body that fits in one buffer is
// hashed and written on the caller's goroutine: small writes pay no
// handoff.

// pipeBuffers is how many buffers of bufSize a pipelined write cycles
// through: one being read, the others being hashed and written.
const pipeBuffers = 4

// defaultBufSize is the size of a pipeline buffer.
const defaultBufSize = 1 << 20

var bufPools sync.Map // buffer size -> *sync.Pool of *[]byte

func getBuf(size int) *[]byte {
	p, _ := bufPools.LoadOrStore(size, &sync.Pool{New: func() any { b := make([]byte, size); return &b }})
	return p.(*sync.Pool).Get().(*[]byte)
}

func putBuf(b *[]byte) {
	if p, ok := bufPools.Load(len(*b)); ok {
		p.(*sync.Pool).Put(b)
	}
}

type chunk struct {
	buf     *[]byte
	n       int
	pending atomic.Int32
}

// ReadFrom reads r to its end through the pipeline. It returns the number
// of bytes read; an error from a stage (the staged write) or from r ends
// the write, and Commit then fails with it.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	first := getBuf(w.store.bufSize)
	var total int64
	n, rerr := 0, error(nil)
	if w.staged == nil {
		// An inline write (inline.go) reads no more than one byte past
		// its limit before it knows whether it stays in memory.
		for {
			room := w.store.inlineMax - len(w.small)
			p := (*first)[:min(room+1, len(*first))]
			n, rerr = readFull(r, p)
			if n > room {
				break // past the limit: staged below, then as any write
			}
			_, werr := w.Write(p[:n])
			total += int64(n)
			if werr != nil || rerr != nil || n < len(p) {
				putBuf(first)
				return total, cmp.Or(werr, rerr)
			}
		}
		if err := w.stage(); err != nil {
			putBuf(first)
			return total, err
		}
		if rerr == nil {
			m, err := readFull(r, (*first)[n:])
			n, rerr = n+m, err
		}
	} else {
		n, rerr = readFull(r, *first)
	}
	if rerr != nil || n < len(*first) {
		// The whole body (or all of it before an error) fits in one
		// buffer: no goroutines.
		_, werr := w.Write((*first)[:n])
		putBuf(first)
		total += int64(n)
		if werr != nil {
			return total, werr
		}
		return total, rerr
	}
	m, err := w.pipeline(r, first)
	return total + m, err
}

// readFull reads into p until it is full, r ends (nil error, short count)
// or r fails.
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (w *Writer) pipeline(r io.Reader, first *[]byte) (int64, error) {
	if w.md5 != nil && !w.counted && w.size == 0 && !w.resumed {
		// The MD5 of a write that has hashed nothing yet may move to the
		// lanes shared with other large writes.
		w.counted = true
		if h := w.store.lanes.join(); h != nil {
			w.lane, w.md5 = h, h
			w.setHashes()
		}
	}
	var stages []func([]byte) error
	for _, h := range w.hashList() {
		stages = append(stages, func(p []byte) error { h.Write(p); return nil })
	}
	var stageErr atomic.Pointer[error]
	stages = append(stages, func(p []byte) error {
		_, err := w.staged.Write(p)
		return err
	})
	free := make(chan *chunk, pipeBuffers)
	chunks := make([]*chunk, pipeBuffers)
	for i := range chunks {
		chunks[i] = &chunk{}
		if i == 0 {
			chunks[i].buf = first
		} else {
			chunks[i].buf = getBuf(len(*first))
		}
	}
	for _, c := range chunks[1:] {
		free <- c
	}
	queues := make([]chan *chunk, len(stages))
	var wg sync.WaitGroup
	for i, stage := range stages {
		q := make(chan *chunk, pipeBuffers)
		queues[i] = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed := false
			for c := range q {
				if !failed {
					if err := stage((*c.buf)[:c.n]); err != nil {
						failed = true
						stageErr.CompareAndSwap(nil, &err)
					}
				}
				if c.pending.Add(-1) == 0 {
					free <- c
				}
			}
		}()
	}
	send := func(c *chunk) {
		c.pending.Store(int32(len(stages)))
		for _, q := range queues {
			q <- c
		}
	}
	total := int64(len(*first))
	c := chunks[0]
	c.n = len(*first)
	send(c)
	var rerr error
	for stageErr.Load() == nil {
		c := <-free
		n, err := readFull(r, *c.buf)
		total += int64(n)
		if n > 0 {
			c.n = n
			send(c)
		} else {
			free <- c
		}
		if err != nil {
			rerr = err
			break
		}
		if n < len(*c.buf) {
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	for _, c := range chunks {
		putBuf(c.buf)
	}
	// Hashes and size account for what the stages were given; a failed
	// staged write poisons the writer, as in Write.
	w.size += total
	if p := stageErr.Load(); p != nil {
		w.err = wrapWriteErr(*p)
		return total, w.err
	}
	return total, rerr
}

// hashList is every digest the writer computes.
func (w *Writer) hashList() []hash.Hash {
	hs := []hash.Hash{w.sha256}
	for _, h := range []hash.Hash{w.md5, w.sha1, w.sha512} {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return hs
}

var _ io.ReaderFrom = (*Writer)(nil)

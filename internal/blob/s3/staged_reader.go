package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Reader reads the staged segments in order, one GET at a time, then the
// bytes still buffered. Each segment is read whole and checked against the
// size it had when listed.
func (w *writer) Reader(ctx context.Context) (io.ReadCloser, error) {
	if w.done {
		return nil, errors.New("s3: writer already finished")
	}
	return &stagedReader{ctx: ctx, d: w.d, segs: w.segs, tail: bytes.NewReader(w.buf)}, nil
}

type stagedReader struct {
	ctx  context.Context
	d    *Driver
	segs []segment
	cur  io.ReadCloser
	left int64 // bytes of the current segment still expected
	tail *bytes.Reader
}

func (r *stagedReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.segs) == 0 {
				return r.tail.Read(p)
			}
			s := r.segs[0]
			r.segs = r.segs[1:]
			rc, err := r.d.get(r.ctx, s.key, 0, s.size)
			if err != nil {
				return 0, err
			}
			r.cur, r.left = rc, s.size
		}
		n, err := r.cur.Read(p)
		r.left -= int64(n)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if r.left != 0 {
				return n, fmt.Errorf("s3: a staged segment is %d bytes short", r.left)
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (r *stagedReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

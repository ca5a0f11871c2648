package blob

import (
	"sync"
	"sync/atomic"

	md5simd "github.com/minio/md5-simd"
)

// md5Lanes computes the MD5 sums of concurrent large writes together, in
// the SIMD lanes of one core (minio/md5-simd: 16 streams per instruction
// with AVX-512, 8 with AVX2; crypto/md5 without either). S3 ETags need an
// MD5 of every object besides its sha256, and crypto/md5 was the largest
// single cost of 16 concurrent 64 MiB PUTs (36% of the server's CPU in a
// perf profile, more than sha256 and the page-cache copy). One stream in
// lanes is slower than crypto/md5 (each 32 KiB block is a round trip to
// the lane server), so a write uses lanes only when at least
// laneThreshold pipelined MD5 writes, itself included, are in flight.
//
// Lane hashes cannot be saved (they have no MarshalBinary), so Suspend
// refuses a write that hashed into them; the writes that suspend (OCI
// chunked uploads) compute no MD5.
type md5Lanes struct {
	active atomic.Int32 // pipelined MD5 writes in flight
	min    int32        // in flight, the joining one included, to use lanes (0: laneThreshold)

	mu     sync.Mutex
	server md5simd.Server // started by the first write that needs it
	closed bool
}

// laneThreshold is how many concurrent pipelined MD5 writes make lanes
// worth their round trips.
const laneThreshold = 3

// join counts a pipelined MD5 write in and returns a lane hasher for it
// when enough others are in flight, or nil (use crypto/md5). Call leave
// once the write is done, with what join returned.
func (l *md5Lanes) join() md5simd.Hasher {
	threshold := l.min
	if threshold == 0 {
		threshold = laneThreshold
	}
	if l.active.Add(1) < threshold {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if l.server == nil {
		l.server = md5simd.NewServer()
	}
	return l.server.NewHash()
}

func (l *md5Lanes) leave(h md5simd.Hasher) {
	if h != nil {
		h.Close()
	}
	l.active.Add(-1)
}

// close stops the lane server; later writes use crypto/md5.
func (l *md5Lanes) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.server != nil {
		l.server.Close()
		l.server = nil
	}
}

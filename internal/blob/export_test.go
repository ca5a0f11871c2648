package blob

// SetBufSize sets the size of s's pipeline buffers, so that tests cover
// many buffers with little data.
func SetBufSize(s *Store, n int) { s.bufSize = n }

// SetLaneThreshold sets how many concurrent pipelined MD5 writes make s
// hash MD5 in SIMD lanes.
func SetLaneThreshold(s *Store, n int) { s.lanes.min = int32(n) }

// LaneWrites is how many pipelined MD5 writes s counts in flight, and
// whether its lane server was started.
func LaneWrites(s *Store) (int, bool) {
	s.lanes.mu.Lock()
	defer s.lanes.mu.Unlock()
	return int(s.lanes.active.Load()), s.lanes.server != nil
}

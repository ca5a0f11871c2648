package blob

// SetBufSize sets the size of s's pipeline buffers, so that tests cover
// many buffers with little data.
func SetBufSize(s *Store, n int) { s.bufSize = n }

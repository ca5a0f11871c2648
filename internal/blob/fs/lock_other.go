//go:build !unix

package fs

import "os"

// lockStaged does nothing where flock is not available; upload sessions
// still take turns through their database lease.
func lockStaged(f *os.File, path string) error { return nil }

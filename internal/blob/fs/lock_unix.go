//go:build unix

package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/arcaproject/arca/internal/errs"
)

// lockStaged takes an exclusive lock on a staged file that f has open at
// path, so that one writer at a time appends to a staged write (two
// requests resuming the same upload session at once would otherwise write
// over each other). The lock is released when f is closed. The file must
// still be the one at path once the lock is held: a writer that held it
// before may have committed (renamed) or cancelled (removed) it meanwhile.
func lockStaged(f *os.File, path string) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return errs.E(errs.Conflict, "the staged write is being written by another request")
		}
		return err
	}
	held, err := f.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(held, now) {
		return errs.E(errs.NotFound, "the staged write was finished by another request")
	}
	return nil
}

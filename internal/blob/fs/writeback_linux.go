package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing a range of f to disk
// without waiting for it, so that the fsync at commit finds little left to
// do: a large upload's disk writes overlap its network reads and hashing
// instead of following them.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// datasync makes f's data and size durable (fdatasync(2)); unlike fsync it
// does not wait for the inode's timestamps to reach the disk.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

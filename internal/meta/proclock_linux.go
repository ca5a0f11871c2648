package meta

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The write turn among processes (Linux).
//
// The server and an admin command beside it (arca import, arca gc) write
// to one SQLite database, and SQLite orders the writers of two processes
// only by polling (its busy handler sleeps up to 100 ms between tries). A
// process whose writers take the lock back to back leaves the other
// process's writer a few microseconds between two of its transactions to
// find the lock free: in TestWritersOfTwoProcesses the quiet process's
// writes waited 2.2 s at p90 and 5 s at worst behind eight busy writers,
// and during an import of 10,000 objects the server's job-runner leader
// gave up its term. So the holder of a process's write turn also takes a
// lock that every process shares, next to the database file, with open
// file description locks (fcntl F_OFD_SETLKW), which the kernel hands on
// the moment they are freed:
//
//   - byte 0 is the write turn among processes, held by at most one
//     process's holder, from before BEGIN to after COMMIT;
//   - byte 1 is the waiting room: a writer that found byte 0 taken holds
//     a shared lock on byte 1 while it waits for byte 0, and a writer
//     about to take byte 0 first lets everyone in the waiting room through
//     (an exclusive lock on byte 1 is granted once they have all left it).
//
// So two busy processes alternate, and a quiet one waits for at most one
// transaction of the busy one. Each wait uses its own open file
// description, so a wait given up (its context ended, or txLockWait
// passed) can finish in the background, and free what it got, without
// being mistaken for the next one.

// procLock is the write turn among the processes sharing a database file.
type procLock struct {
	path   string
	broken atomic.Bool // the lock file could not be used: do without
	mu     sync.Mutex
	free   []*os.File // open descriptions, not locked
	held   *os.File   // the one holding byte 0
}

// Byte ranges of the lock file.
const (
	turnByte    = 0
	waitingByte = 1
)

// newProcLock returns the lock of the database at dbPath, or nil for a
// database in memory.
func newProcLock(dbPath string) *procLock {
	dbPath, _, _ = strings.Cut(dbPath, "?")
	if dbPath == "" || strings.Contains(dbPath, ":memory:") {
		return nil
	}
	return &procLock{path: dbPath + "-turn"}
}

func (l *procLock) file() (*os.File, error) {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		f := l.free[n-1]
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return f, nil
	}
	l.mu.Unlock()
	return os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
}

func (l *procLock) put(f *os.File) {
	l.mu.Lock()
	l.free = append(l.free, f)
	l.mu.Unlock()
}

// close closes the idle descriptions (a wait in progress closes its own
// when it ends).
func (l *procLock) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.free {
		f.Close()
	}
	l.free = nil
}

func flock(f *os.File, cmd int, typ int16, at int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: at, Len: 1}
	for {
		err := unix.FcntlFlock(f.Fd(), cmd, &lk)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// othersWaiting says whether a writer waits in the waiting room.
func othersWaiting(f *os.File) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: waitingByte, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// tryTurn takes byte 0 if it is free and nobody waits for it.
func tryTurn(f *os.File) (bool, error) {
	waiting, err := othersWaiting(f)
	if err != nil || waiting {
		return false, err
	}
	err = flock(f, unix.F_OFD_SETLK, unix.F_WRLCK, turnByte)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

// waitTurn takes byte 0 after the writers already waiting, blocking.
func waitTurn(f *os.File) error {
	// Let the waiting room empty first.
	if err := flock(f, unix.F_OFD_SETLKW, unix.F_WRLCK, waitingByte); err != nil {
		return err
	}
	if err := flock(f, unix.F_OFD_SETLK, unix.F_UNLCK, waitingByte); err != nil {
		return err
	}
	// Wait in the waiting room.
	if err := flock(f, unix.F_OFD_SETLKW, unix.F_RDLCK, waitingByte); err != nil {
		return err
	}
	err := flock(f, unix.F_OFD_SETLKW, unix.F_WRLCK, turnByte)
	if uerr := flock(f, unix.F_OFD_SETLK, unix.F_UNLCK, waitingByte); err == nil {
		err = uerr
	}
	return err
}

// acquire takes the turn among processes, unless ctx ends or expired
// fires first (held false, and ctx's error). A lock file that cannot be
// used (a read-only directory, a file system without the locks) is done
// without: held, and SQLite's busy handler orders the processes.
func (l *procLock) acquire(ctx context.Context, expired <-chan time.Time) (held bool, err error) {
	if l.broken.Load() {
		return true, nil
	}
	f, err := l.file()
	if err != nil {
		l.broken.Store(true)
		return true, nil
	}
	ok, err := tryTurn(f)
	if err != nil {
		l.broken.Store(true)
		l.put(f)
		return true, nil
	}
	if ok {
		l.held = f
		return true, nil
	}
	done := make(chan error, 1)
	go func() { done <- waitTurn(f) }()
	select {
	case err := <-done:
		if err != nil {
			l.broken.Store(true)
			l.put(f)
			return true, nil
		}
		l.held = f
		return true, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
	}
	// Given up: the wait ends in the background and frees what it got.
	go func() {
		if <-done == nil {
			_ = flock(f, unix.F_OFD_SETLK, unix.F_UNLCK, turnByte)
		}
		l.put(f)
	}()
	return false, err
}

// release frees byte 0.
func (l *procLock) release() {
	f := l.held
	l.held = nil
	if f == nil {
		return
	}
	_ = flock(f, unix.F_OFD_SETLK, unix.F_UNLCK, turnByte)
	l.put(f)
}

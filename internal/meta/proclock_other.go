//go:build !linux

package meta

import (
	"context"
	"time"
)

// procLock is the write turn among processes where the kernel has open
// file description locks (proclock_linux.go); elsewhere processes sharing
// a database wait for each other in SQLite's busy handler.
type procLock struct{}

func newProcLock(string) *procLock { return nil }

func (l *procLock) acquire(context.Context, <-chan time.Time) (bool, error) { return true, nil }
func (l *procLock) release()                                                {}
func (l *procLock) close()                                                  {}

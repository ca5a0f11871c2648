//go:build !linux

package fs

import "os"

func startWriteback(f *os.File, off, n int64) {}

func datasync(f *os.File) error { return f.Sync() }

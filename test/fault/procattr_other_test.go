//go:build !linux

package fault

import "syscall"

// dieWithParent has no portable equivalent outside Linux; cleanups kill the
// servers there.
func dieWithParent() *syscall.SysProcAttr { return nil }

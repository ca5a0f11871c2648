package fault

import "syscall"

// dieWithParent makes the kernel kill a server process when the test
// process dies, even without running its cleanups (a test timeout panics).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill a server process when the test
// process dies, even without running its cleanups (a test timeout panics).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// serverGroup starts a server that spawns workers in its own process
// group, killed with the test process.
func serverGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills a process started with serverGroup and its children.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

//go:build !linux

package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent has no portable equivalent outside Linux; cleanups kill the
// servers there.
func dieWithParent() *syscall.SysProcAttr { return nil }

// serverGroup has no portable equivalent outside Linux.
func serverGroup() *syscall.SysProcAttr { return nil }

// killGroup kills the process (its children may outlive it here).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

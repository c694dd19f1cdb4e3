//go:build linux

package bgptest

import "syscall"

// sysProcAttr makes the kernel kill gobgpd if the process that started it
// dies without running its cleanups (a safety net; Stop is the normal way).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

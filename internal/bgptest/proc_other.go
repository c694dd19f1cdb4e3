//go:build !linux

package bgptest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

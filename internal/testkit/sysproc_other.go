//go:build !linux

package testkit

import "syscall"

// childAttr: without Pdeathsig, a killed test leaves the registry running
// until its cleanup would have stopped it.
func childAttr() *syscall.SysProcAttr { return nil }

package testkit

import "syscall"

// childAttr makes a helper process (the registry) die with the test process
// even when the test is killed before its cleanup runs.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

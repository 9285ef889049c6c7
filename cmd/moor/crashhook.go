//go:build moorcrash

package main

import (
	"os"
	"syscall"

	"github.com/moor-dev/moor/reconcile"
)

// In a build with the tag moorcrash, MOOR_TEST_CRASH_AT names a step,
// "KIND RESOURCE #N" as `moor plan --json` lists them ("replace web/web/1
// #5"), after which moor kills itself with SIGKILL: the crash-safety tests
// stop moor at every step boundary of a plan this way.
func init() {
	at := os.Getenv("MOOR_TEST_CRASH_AT")
	if at == "" {
		return
	}
	stepHook = func(op reconcile.Op, step int) {
		if reconcile.StepID(op, step) == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

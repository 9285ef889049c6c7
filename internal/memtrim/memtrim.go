// Package memtrim gives back the memory a long-running moor no longer
// uses: the free pages of the Go heap, and the pages of moor's own code and
// read-only data that start-up and a load touched and the controller at
// rest does not run (about 15 of the 25 MiB a controller with ten stacks
// had resident).
package memtrim

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Trim returns the heap's free pages to the system and drops the
// executable's read-only pages from the process's page tables. Those pages
// are clean copies of the file, which stays in the page cache: a page the
// process needs again is mapped again from it, at the cost of a minor fault.
// Writable mappings are never touched. It returns how many bytes of
// read-only mappings it released.
func Trim() (released int64) {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMapping(sc.Text(), exe)
		if !ok {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); errno == 0 {
			released += int64(end - start)
		}
	}
	return released
}

// readOnlyMapping parses one line of /proc/self/maps and tells whether it
// is a private mapping of path without write permission.
func readOnlyMapping(line, path string) (start, end uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path {
		return 0, 0, false
	}
	perms := fields[1]
	if len(perms) < 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

// After trims once work has been quiet for a while: Note marks work done
// (a revision loaded, an apply), and Trim runs Quiet after the last Note.
// Runs that did nothing call nothing, so a controller at rest never trims.
//
// At rest, the heap may grow to RestGCPercent more than what is live
// (debug.SetGCPercent) instead of the default 100: a controller at rest
// allocates little (a poll, about 70 KB), so the collections this costs
// are rare and small, and the heap it keeps is smaller. A Note restores the
// percentage of before the rest for the work. With GOGC set in the environment, the operator's
// setting stands and After leaves it alone.
type After struct {
	Quiet time.Duration
	// RestGCPercent is the GC percentage at rest; 0 leaves it unchanged.
	RestGCPercent int
	// Trimmed, when set, is told what each trim released.
	Trimmed func(released int64)

	mu      sync.Mutex
	timer   *time.Timer
	resting bool
	working int       // the GC percentage before the rest, restored by Note
	noted   time.Time // the last Note
}

// Note marks work done now.
func (a *After) Note() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.noted = time.Now()
	if a.resting {
		a.resting = false
		debug.SetGCPercent(a.working)
	}
	if a.timer != nil {
		a.timer.Reset(a.Quiet)
		return
	}
	a.timer = time.AfterFunc(a.Quiet, a.rest)
}

// rest trims and, unless the operator set GOGC, lowers the GC percentage.
func (a *After) rest() {
	a.mu.Lock()
	if time.Since(a.noted) < a.Quiet {
		a.mu.Unlock()
		return // work came after the timer fired: its own timer follows
	}
	if a.RestGCPercent > 0 && os.Getenv("GOGC") == "" {
		a.resting = true
		a.working = debug.SetGCPercent(a.RestGCPercent)
	}
	a.mu.Unlock()
	n := Trim()
	if a.Trimmed != nil {
		a.Trimmed(n)
	}
}

// Stop cancels a trim that has not started.
func (a *After) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
}

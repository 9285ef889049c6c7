package memtrim

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssFile reads the process's resident file-backed memory, in KiB.
func rssFile(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestTrimReleasesTheExecutablesPages(t *testing.T) {
	before := rssFile(t)
	released := Trim()
	after := rssFile(t)
	if released <= 0 {
		t.Fatalf("Trim released %d bytes", released)
	}
	// The test binary's code and read-only data that start-up touched are
	// no longer mapped; what this test runs after Trim is mapped again.
	if after >= before {
		t.Fatalf("RssFile %d KiB before Trim, %d KiB after", before, after)
	}
	t.Logf("RssFile %d KiB before, %d KiB after; %d bytes of mappings released", before, after, released)
}

func TestReadOnlyMapping(t *testing.T) {
	const exe = "/usr/bin/moor"
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"00400000-00c52000 r-xp 00000000 08:01 123 /usr/bin/moor", true},
		{"00c52000-01505000 r--p 00852000 08:01 123 /usr/bin/moor", true},
		{"01505000-015b0000 rw-p 01105000 08:01 123 /usr/bin/moor", false}, // data: written
		{"015b0000-035f7000 rw-p 00000000 00:00 0", false},                 // bss, heap
		{"7f00-8f00 r-xp 00000000 08:01 9 /usr/lib/libc.so.6", false},      // not ours
		{"7f00-8f00 r-xs 00000000 08:01 123 /usr/bin/moor", false},         // shared
		{"00400000-00c52000 r-xp 00000000 08:01 123 /usr/bin/moor (deleted)", false},
		{"garbage", false},
	} {
		if _, _, ok := readOnlyMapping(c.line, exe); ok != c.ok {
			t.Errorf("%q: %v, want %v", c.line, ok, c.ok)
		}
	}
}

func TestAfterTrimsOnceQuiet(t *testing.T) {
	got := make(chan int64, 4)
	a := &After{Quiet: 50 * time.Millisecond, Trimmed: func(n int64) { got <- n }}
	defer a.Stop()
	for range 3 {
		a.Note()
	}
	select {
	case n := <-got:
		if n <= 0 {
			t.Fatalf("trim released %d bytes", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no trim after the work went quiet")
	}
	select {
	case <-got:
		t.Fatal("three notes in a row trimmed twice")
	case <-time.After(200 * time.Millisecond):
	}
}

// gcPercent reads the GC percentage (SetGCPercent returns the one before).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestAfterRestsTheHeapUntilTheNextWork(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(100)
	trimmed := make(chan int64, 4)
	a := &After{Quiet: 20 * time.Millisecond, RestGCPercent: 30, Trimmed: func(n int64) { trimmed <- n }}
	defer a.Stop()
	a.Note()
	select {
	case <-trimmed:
	case <-time.After(10 * time.Second):
		t.Fatal("no trim after the work went quiet")
	}
	if p := gcPercent(); p != 30 {
		t.Fatalf("GC percentage at rest %d, want 30", p)
	}
	a.Note()
	if p := gcPercent(); p != 100 {
		t.Fatalf("GC percentage during work %d, want 100", p)
	}
	<-trimmed
	a.Note() // back to work, at 100
	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200)
	a.Note()
	<-trimmed
	if p := gcPercent(); p != 200 {
		t.Fatalf("GC percentage at rest with GOGC=200 set: %d, want 200 kept", p)
	}
}

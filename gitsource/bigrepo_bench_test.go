package gitsource_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moor-dev/moor/gitsource"
)

// The shape of the generated repository: bigStacks directories of
// bigFiles/bigStacks files each (a compose.yaml and config files), and a
// history of bigCommits commits, each after the first changing
// bigTouched files.
const (
	bigFiles   = 5000
	bigStacks  = 100
	bigCommits = 10000
	bigTouched = 3
)

// BenchmarkBigRepo measures a source on a generated repository of 10,000
// commits and 5,000 files, made once per run with git fast-import (a few
// seconds; only when benchmarks run). The results are in BENCHMARKS.md.
//
//	go test -run '^$' -bench BigRepo -benchmem ./gitsource/
func BenchmarkBigRepo(b *testing.B) {
	start := time.Now()
	remote := bigRepo(b)
	took := time.Since(start).Round(time.Millisecond)
	for line := range strings.Lines(gitOut(b, remote, nil, "count-objects", "-vH")) {
		if size, ok := strings.CutPrefix(line, "size-pack: "); ok {
			b.Logf("generated %d commits of %d files in %s, pack %s", bigCommits, bigFiles, took, strings.TrimSpace(size))
		}
	}

	// A sync of an unchanged remote: one ref listing, nothing fetched.
	b.Run("UnchangedPoll", func(b *testing.B) {
		s := newSource(b, remote, "main")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Resolve(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})

	// A sync after a push: Checkout of the new tip (shallow fetch,
	// materialize, place). The push and the removal of the previous
	// snapshot are not timed.
	b.Run("Change", func(b *testing.B) {
		s := newSource(b, remote, "main")
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			if err := s.Prune(nil); err != nil {
				b.Fatal(err)
			}
			n++
			head := pushChange(b, remote, "change", n)
			b.StartTimer()
			snap, err := s.Checkout(b.Context(), gitsource.Revision{Ref: "main", Commit: head})
			if err != nil {
				b.Fatal(err)
			}
			if snap.Revision.Commit != head {
				b.Fatalf("checked out %s, want %s", snap.Revision.Commit, head)
			}
		}
	})

	// The floor for Change: the git binary's own shallow clone of the same
	// tip onto the same disk.
	b.Run("GitCloneDepth1", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "clone")
		for b.Loop() {
			gitOut(b, "", nil, "clone", "--quiet", "--depth", "1", "file://"+remote, dir)
			b.StopTimer()
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})

	// History-rewrite detection after a one-commit push: decided by the
	// first, shallow fetch.
	b.Run("IsAncestorPush", func(b *testing.B) {
		s := newSource(b, remote, "main")
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			old := gitOut(b, remote, nil, "rev-parse", "main")
			n++
			head := pushChange(b, remote, "ancestry", n)
			b.StartTimer()
			if ok, err := s.IsAncestor(b.Context(), old, head); err != nil || !ok {
				b.Fatalf("IsAncestor(%s, %s) = %v, %v; want true", old, head, ok, err)
			}
		}
	})

	// The worst case: old is not in the history, so every depth is tried,
	// the last one the whole history.
	tree := gitOut(b, remote, nil, "rev-parse", "main^{tree}")
	dropped := gitOut(b, remote, nil, "commit-tree", tree, "-p", "main~1", "-m", "dropped by a force-push")
	b.Run("IsAncestorRewritten", func(b *testing.B) {
		s := newSource(b, remote, "main")
		b.ReportAllocs()
		for b.Loop() {
			head := gitOut(b, remote, nil, "rev-parse", "main")
			if ok, err := s.IsAncestor(b.Context(), dropped, head); err != nil || ok {
				b.Fatalf("IsAncestor(%s, %s) = %v, %v; want false", dropped, head, ok, err)
			}
		}
	})

	// Peak RSS, each in a process of its own (TestBigRepoChild): one
	// change (Resolve and Checkout), and the worst case of IsAncestor.
	for _, rss := range []struct{ name, old string }{{"ChangePeakRSS", ""}, {"IsAncestorRewrittenPeakRSS", dropped}} {
		b.Run(rss.name, func(b *testing.B) {
			var startKB, peakKB int
			var cpu, serverCPU time.Duration
			for b.Loop() {
				c := childRun(b, remote, rss.old)
				startKB, peakKB = max(startKB, c.startKB), max(peakKB, c.peakKB)
				cpu, serverCPU = cpu+c.cpu, serverCPU+c.serverCPU
			}
			b.ReportMetric(float64(startKB)/1024, "start-RSS-MB")
			b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MB")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(serverCPU.Milliseconds())/float64(b.N), "upload-pack-cpu-ms/op")
		})
	}
}

// TestBigRepoChild is the process the PeakRSS benchmarks start. It
// resolves main of MOOR_BIGREPO_URL and checks it out into
// MOOR_BIGREPO_STATE, or, when MOOR_BIGREPO_OLD is set, asks whether that
// commit is an ancestor of main (and expects not). Then it prints the
// process's VmHWM from before and after.
func TestBigRepoChild(t *testing.T) {
	url := os.Getenv("MOOR_BIGREPO_URL")
	if url == "" {
		t.Skip("run by BenchmarkBigRepo's PeakRSS benchmarks")
	}
	start := vmHWM(t)
	self, server := cpuTime(t)
	s := &gitsource.Source{URL: url, Ref: "main", Dir: os.Getenv("MOOR_BIGREPO_STATE")}
	if old := os.Getenv("MOOR_BIGREPO_OLD"); old != "" {
		rev, err := s.Resolve(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.IsAncestor(t.Context(), old, rev.Commit); err != nil || ok {
			t.Fatalf("IsAncestor(%s, %s) = %v, %v; want false", old, rev.Commit, ok, err)
		}
	} else {
		checkout(t, s)
	}
	self2, server2 := cpuTime(t)
	fmt.Printf("bigrepo-child start_kb=%d peak_kb=%d cpu_us=%d server_cpu_us=%d\n",
		start, vmHWM(t), (self2 - self).Microseconds(), (server2 - server).Microseconds())
}

// cpuTime returns the user and system time of this process, and of its
// finished children (git-upload-pack, for a local repository).
func cpuTime(t testing.TB) (self, children time.Duration) {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		t.Fatal(err)
	}
	return self, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var childLine = regexp.MustCompile(`bigrepo-child start_kb=(\d+) peak_kb=(\d+) cpu_us=(\d+) server_cpu_us=(\d+)`)

// child is what TestBigRepoChild reports: its VmHWM before and after its
// work, and the CPU time of that work in the process and in
// git-upload-pack.
type child struct {
	startKB, peakKB int
	cpu, serverCPU  time.Duration
}

// childRun runs TestBigRepoChild in a new process of this test binary.
func childRun(b *testing.B, remote, old string) child {
	b.Helper()
	state := filepath.Join(b.TempDir(), "state")
	defer func() {
		if err := (&gitsource.Source{Dir: state}).Prune(nil); err != nil {
			b.Error(err)
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBigRepoChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MOOR_BIGREPO_URL="+remote, "MOOR_BIGREPO_STATE="+state, "MOOR_BIGREPO_OLD="+old)
	out, err := cmd.CombinedOutput()
	m := childLine.FindStringSubmatch(string(out))
	if err != nil || m == nil {
		b.Fatalf("child process: %v\n%s", err, out)
	}
	n := make([]int, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	return child{startKB: n[1], peakKB: n[2], cpu: time.Duration(n[3]) * time.Microsecond, serverCPU: time.Duration(n[4]) * time.Microsecond}
}

// vmHWM returns the process's peak resident set size in kB.
func vmHWM(t testing.TB) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// bigRepo generates the repository with git fast-import into a bare
// repository in b.TempDir and returns its path.
func bigRepo(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "big.git")
	gitOut(b, "", nil, "init", "--quiet", "--bare", "--initial-branch=main", dir)
	var stream bytes.Buffer
	for i := range bigCommits {
		var files []int
		if i == 0 {
			for f := range bigFiles {
				files = append(files, f)
			}
		} else {
			for j := range bigTouched {
				files = append(files, (i*7919+j*104729)%bigFiles)
			}
		}
		writeCommit(&stream, "", i, files)
	}
	gitOut(b, dir, &stream, "fast-import", "--quiet")
	if n := gitOut(b, dir, nil, "rev-list", "--count", "main"); n != strconv.Itoa(bigCommits) {
		b.Fatalf("generated %s commits, want %d", n, bigCommits)
	}
	return dir
}

// pushChange adds a commit changing bigTouched files on top of main of the
// repository at dir, as a push would, and returns it.
func pushChange(b *testing.B, dir, what string, n int) string {
	b.Helper()
	var stream bytes.Buffer
	var files []int
	for j := range bigTouched {
		files = append(files, (n*31+j*1009)%bigFiles)
	}
	writeCommit(&stream, what, bigCommits+n, files)
	gitOut(b, dir, &stream, "fast-import", "--quiet")
	return gitOut(b, dir, nil, "rev-parse", "main")
}

// writeCommit writes commit number i of branch main to a fast-import
// stream, with new contents for the given files. A commit that is not the
// first of the history continues from main as it is in the repository.
func writeCommit(w *bytes.Buffer, what string, i int, files []int) {
	when := 1_700_000_000 + int64(i)*60
	msg := fmt.Sprintf("change %d %s", i, what)
	fmt.Fprintf(w, "commit refs/heads/main\n")
	fmt.Fprintf(w, "committer Bench <bench@moor.invalid> %d +0000\n", when)
	fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
	if i > 0 && what != "" {
		fmt.Fprintf(w, "from refs/heads/main^0\n")
	}
	for _, f := range files {
		content := fileContent(f, i)
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", filePath(f), len(content), content)
	}
	w.WriteString("\n")
}

// filePath spreads the files over the stacks: each stack has a
// compose.yaml and config files.
func filePath(f int) string {
	stack, n := f%bigStacks, f/bigStacks
	if n == 0 {
		return fmt.Sprintf("stack-%02d/compose.yaml", stack)
	}
	return fmt.Sprintf("stack-%02d/conf/file-%04d.conf", stack, f)
}

// fileContent is a few hundred bytes that differ with the file and its
// version.
func fileContent(f, version int) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# %s, version %d\n", filePath(f), version)
	for k := range 8 {
		fmt.Fprintf(&s, "key_%d = %08x\n", k, uint32(f*2654435761+version*40503+k*97))
	}
	return s.String()
}

// gitOut runs git in dir with stdin (or none) and returns its trimmed
// stdout.
func gitOut(b *testing.B, dir string, stdin *bytes.Buffer, args ...string) string {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Bench", "GIT_AUTHOR_EMAIL=bench@moor.invalid",
		"GIT_COMMITTER_NAME=Bench", "GIT_COMMITTER_EMAIL=bench@moor.invalid")
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/scalerepo"
	"github.com/moor-dev/moor/internal/testkit"
)

// BenchmarkScaleProcess runs the moor binary on a repository of
// MOOR_BENCH_STACKS stacks (default 1,000; internal/scalerepo) and
// reports what each process cost: wall time, CPU time (user + system,
// git-upload-pack included) and peak resident memory (the rusage's
// maxrss). Recorded in BENCHMARKS.md ("Scale: many stacks, many hosts").
//
//	go test -run '^$' -bench ScaleProcess -benchtime 3x ./cmd/moor/
//
// validate checks the working tree (no engine, no git); plan/first is
// `moor plan` on a new state dir (fetch, snapshot, load of every stack,
// observe of the engine, plan); plan/cached plans the same revision
// again in a new process, from the load cache. The plans observe the real
// engine, which holds none of these stacks: every service is a create.
func BenchmarkScaleProcess(b *testing.B) {
	bin, err := buildMoor()
	if err != nil {
		b.Fatal(err)
	}
	l := scalerepo.Layout{Stacks: benchEnv("MOOR_BENCH_STACKS", 1000)}
	repo := testkit.NewRepo(b)
	if err := scalerepo.Write(repo.Dir, l); err != nil {
		b.Fatal(err)
	}
	repo.Commit("stacks")

	b.Run("validate", func(b *testing.B) {
		var u procUse
		for b.Loop() {
			u.add(runProc(b, bin, "validate", repo.Dir))
		}
		u.report(b)
	})

	testkit.Docker(b)
	plan := func(state string) []string {
		return []string{"plan", "--repo", repo.Dir, "--ref", "main", "--name", "scale", "--state-dir", state, "--log-level", "error"}
	}
	b.Run("plan/first", func(b *testing.B) {
		var u procUse
		for b.Loop() {
			b.StopTimer()
			state := b.TempDir()
			b.StartTimer()
			u.add(runProc(b, bin, plan(state)...))
		}
		u.report(b)
	})
	b.Run("plan/cached", func(b *testing.B) {
		state := b.TempDir()
		runProc(b, bin, plan(state)...)
		var u procUse
		for b.Loop() {
			u.add(runProc(b, bin, plan(state)...))
		}
		u.report(b)
	})
}

// procUse sums what processes cost.
type procUse struct {
	n           int
	wall, cpu   time.Duration
	maxRSSBytes int64
}

func (u *procUse) add(v procUse) {
	u.n++
	u.wall += v.wall
	u.cpu += v.cpu
	u.maxRSSBytes = max(u.maxRSSBytes, v.maxRSSBytes)
}

func (u *procUse) report(b *testing.B) {
	b.ReportMetric(float64(u.wall.Milliseconds())/float64(u.n), "wall-ms/proc")
	b.ReportMetric(float64(u.cpu.Milliseconds())/float64(u.n), "cpu-ms/proc")
	b.ReportMetric(float64(u.maxRSSBytes)/(1<<20), "peak-RSS-MiB")
}

// runProc runs bin with args to its end, fails the benchmark unless it
// exits 0, and returns its cost.
func runProc(b *testing.B, bin string, args ...string) procUse {
	b.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(out.String(), 2000))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	// ru.Maxrss is in kB on Linux; the children's CPU (git-upload-pack)
	// is in the process's own, since it waited for them.
	return procUse{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), maxRSSBytes: ru.Maxrss * 1024}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/runtime"
)

// BenchmarkNoopApply measures one whole run on a converged host against the
// real engine: ref listing, snapshot reuse, compose loading, observe, plan.
// MOOR_BENCH_SERVICES sets the number of services (default 20, in stacks
// of 10). Engine API calls per run are reported as calls/op. Recorded in
// BENCHMARKS.md.
//
//	MOOR_BENCH_SERVICES=100 go test -run '^$' -bench NoopApply -benchtime 20x ./cmd/moor/
func BenchmarkNoopApply(b *testing.B) {
	prefix, repo := benchRepo(b)
	ctl, d := benchController(b, prefix, repo, zap.NewNop())
	ctl.Executor.Parallel = 8
	if _, err := ctl.Apply(b.Context()); err != nil {
		b.Fatal(err)
	}
	before := d.Calls()
	b.ResetTimer()
	for b.Loop() {
		out, err := ctl.Apply(b.Context())
		if err != nil || out.Result != nil {
			b.Fatalf("not a no-op: %v", err)
		}
	}
	b.ReportMetric(float64(d.Calls()-before)/float64(b.N), "calls/op")
}

// BenchmarkOneShotApply measures `moor apply` on a converged host as a
// one-shot process runs it, in this process: each run wires its parts
// anew (flags, state dir, lock, ledger, engine client, controller), so
// nothing is kept in memory from the run before. Process start is not
// included. MOOR_BENCH_SERVICES and MOOR_BENCH_PER_STACK set the layout
// (default 20 services in stacks of 10).
//
//	MOOR_BENCH_SERVICES=100 MOOR_BENCH_PER_STACK=100 go test -run '^$' -bench OneShotApply -benchtime 20x ./cmd/moor/
func BenchmarkOneShotApply(b *testing.B) {
	prefix, repo := benchRepo(b)
	args := []string{"apply", "--repo", repo.Dir, "--ref", "main", "--name", prefix, "--state-dir", b.TempDir(), "--log-level", "error"}
	var out, errOut bytes.Buffer
	if code := run(b.Context(), args, &out, &errOut); code != exitOK {
		b.Fatalf("first apply: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		errOut.Reset()
		if code := run(b.Context(), args, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "no changes") {
			b.Fatalf("not a no-op: exit %d\n%s%s", code, out.String(), errOut.String())
		}
	}
}

// benchRepo makes the benchmarks' repository: MOOR_BENCH_SERVICES services
// (default 20) of the test image in stacks of MOOR_BENCH_PER_STACK
// (default 10), each stack cleaned up by label when the benchmark ends.
func benchRepo(b *testing.B) (prefix string, repo *testkit.Repo) {
	n, per := benchEnv("MOOR_BENCH_SERVICES", 20), benchEnv("MOOR_BENCH_PER_STACK", 10)
	testkit.Docker(b)
	img := testkit.TestImage(b)
	prefix = testkit.StackName(b)
	repo = testkit.NewRepo(b)
	for s := 0; s*per < n; s++ {
		stack := fmt.Sprintf("%s-%d", prefix, s)
		testkit.CleanupStack(b, stack)
		var c strings.Builder
		c.WriteString("services:\n")
		for i := s * per; i < n && i < (s+1)*per; i++ {
			fmt.Fprintf(&c, "  svc%d:\n    image: %s\n    environment:\n      N: \"%d\"\n", i, img, i)
		}
		repo.Write(stack+"/compose.yaml", c.String())
	}
	repo.Commit("bench")
	return prefix, repo
}

// benchController is a controller of the source NAME following repo's
// main branch, on the real engine, with a state dir and ledger of its
// own; the engine client is closed when the benchmark ends.
func benchController(b *testing.B, name string, repo *testkit.Repo, log *zap.Logger) (*controller.Controller, *runtime.Docker) {
	b.Helper()
	d, err := runtime.NewDocker(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	state := b.TempDir()
	l, err := ledger.Open(state + "/ledger.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return controller.New(config.Source{Name: name, Repo: repo.Dir, Ref: "main"}, state, d, l, log), d
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkUnchangedPoll measures one turn of moor run's loop on a
// converged host against the real engine, as Controller.Poll does it:
// "check" is a poll with a drift check due (ref listing, snapshot reuse,
// cached stacks, observe, plan: what every poll cost before the drift
// check had a schedule of its own), "quiet" one with none due (the ref
// listing only). Engine API calls per poll are reported as calls/op.
// Recorded in BENCHMARKS.md.
//
//	go test -run '^$' -bench UnchangedPoll -benchtime 200x -benchmem ./cmd/moor/
func BenchmarkUnchangedPoll(b *testing.B) {
	prefix, repo := benchRepo(b)
	ctl, d := benchController(b, prefix, repo, zap.NewNop())
	ctl.Executor.Parallel = 8
	if _, err := ctl.Apply(b.Context()); err != nil {
		b.Fatal(err)
	}
	for _, check := range []bool{true, false} {
		name := "quiet"
		if check {
			name = "check"
		}
		b.Run(name, func(b *testing.B) {
			before := d.Calls()
			for b.Loop() {
				out, err := ctl.Poll(b.Context(), check)
				if err != nil || out.Result != nil || out.Quiet == check {
					b.Fatalf("not an unchanged poll (quiet %v): %v", out.Quiet, err)
				}
			}
			b.ReportMetric(float64(d.Calls()-before)/float64(b.N), "calls/op")
		})
	}
}

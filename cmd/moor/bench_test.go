package main

import (
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
	n := 20
	if v, err := strconv.Atoi(os.Getenv("MOOR_BENCH_SERVICES")); err == nil && v > 0 {
		n = v
	}
	testkit.Docker(b)
	img := testkit.TestImage(b)
	prefix := testkit.StackName(b)
	repo := testkit.NewRepo(b)
	for s := 0; s*10 < n; s++ {
		stack := fmt.Sprintf("%s-%d", prefix, s)
		testkit.CleanupStack(b, stack)
		var c strings.Builder
		c.WriteString("services:\n")
		for i := s * 10; i < n && i < (s+1)*10; i++ {
			fmt.Fprintf(&c, "  svc%d:\n    image: %s\n    environment:\n      N: \"%d\"\n", i, img, i)
		}
		repo.Write(stack+"/compose.yaml", c.String())
	}
	repo.Commit("bench")
	d, err := runtime.NewDocker(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	state := b.TempDir()
	l, err := ledger.Open(state + "/ledger.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctl := controller.New(config.Source{Name: prefix, Repo: repo.Dir, Ref: "main"}, state, d, l, zap.NewNop())
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
	testkit.Docker(b)
	img := testkit.TestImage(b)
	prefix := testkit.StackName(b)
	repo := testkit.NewRepo(b)
	for s := range 2 {
		stack := fmt.Sprintf("%s-%d", prefix, s)
		testkit.CleanupStack(b, stack)
		var c strings.Builder
		c.WriteString("services:\n")
		for i := s * 10; i < (s+1)*10; i++ {
			fmt.Fprintf(&c, "  svc%d:\n    image: %s\n    environment:\n      N: \"%d\"\n", i, img, i)
		}
		repo.Write(stack+"/compose.yaml", c.String())
	}
	repo.Commit("bench")
	d, err := runtime.NewDocker(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	state := b.TempDir()
	l, err := ledger.Open(state + "/ledger.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctl := controller.New(config.Source{Name: prefix, Repo: repo.Dir, Ref: "main"}, state, d, l, zap.NewNop())
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

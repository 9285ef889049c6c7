package scalerepo_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/internal/scalerepo"
)

// BenchmarkLoad is compose.Load of MOOR_BENCH_STACKS generated stacks
// (default 100), the load stage of a run without git or the controller:
// what to profile, and to compare across compose-go versions. Recorded in
// BENCHMARKS.md ("Scale: many stacks, many hosts").
//
//	go test -run '^$' -bench Load -benchtime 3x -benchmem -cpuprofile cpu.out ./internal/scalerepo/
func BenchmarkLoad(b *testing.B) {
	n := 100
	if _, err := fmt.Sscan(os.Getenv("MOOR_BENCH_STACKS"), &n); err != nil || n <= 0 {
		n = 100
	}
	l := scalerepo.Layout{Stacks: n}
	dir := b.TempDir()
	if err := scalerepo.Write(dir, l); err != nil {
		b.Fatal(err)
	}
	stacks := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		d, err := compose.Load(b.Context(), dir, compose.Options{Repo: dir, StacksRoot: stacks})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Stacks) != n || len(d.Broken) > 0 {
			b.Fatalf("loaded %d stacks (%d broken), want %d", len(d.Stacks), len(d.Broken), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/stack")
}

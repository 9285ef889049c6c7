package controller_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/scalerepo"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/runtime"
)

// BenchmarkScaleStacks measures one source following a repository of
// MOOR_BENCH_STACKS stacks (default 1,000; internal/scalerepo) over the
// real git transports, file:// (git-upload-pack) and smart HTTP (git
// http-backend), with an in-memory engine: what the stages of a run cost
// when the repository, not the engine, is large. Each stage is reported
// in ms/op (resolve-ms, checkout-ms, trust-ms, load-ms, observe-ms,
// plan-ms...), the snapshot's size on disk as snapshot-MB. Recorded in
// BENCHMARKS.md ("Scale: many stacks, many hosts").
//
//	go test -run '^$' -bench ScaleStacks -benchtime 5x -benchmem ./controller/
//
// FirstLoad is a host's first plan (a new state dir: fetch, snapshot,
// load of every stack, plan against an empty engine); CachedLoad is a new
// process planning the same revision again (the load cache of
// desired.json); UnchangedPoll is a turn of moor run when nothing
// changed; ChangeOne is a turn after a commit that changes the .env of
// one stack: apply of that stack's services included, on the fake.
func BenchmarkScaleStacks(b *testing.B) {
	l := scalerepo.Layout{Stacks: benchStacks()}
	repo := testkit.NewRepo(b)
	if err := scalerepo.Write(repo.Dir, l); err != nil {
		b.Fatal(err)
	}
	repo.Commit(fmt.Sprintf("%d stacks", l.Stacks))
	bare := filepath.FromSlash(repo.Bare()[len("file://"):])
	// A server's repository is packed (a push arrives as a pack; gc packs
	// the rest): repack, so the fetches read a pack, not loose objects.
	if out, err := exec.Command("git", "-C", bare, "repack", "-a", "-d", "-q").CombinedOutput(); err != nil {
		b.Fatalf("repack: %v\n%s", err, out)
	}
	urls := map[string]string{
		"file": repo.Bare(),
		"http": testkit.GitHTTP(b, filepath.Dir(bare), "", "").URL(filepath.Base(bare)),
	}
	changes := 0
	for _, transport := range []string{"file", "http"} {
		url := urls[transport]
		b.Run(transport+"/FirstLoad", func(b *testing.B) {
			var st stageTimes
			var snapMB float64
			var snapFiles int
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ctl, state := scaleController(b, url, "")
				b.StartTimer()
				out, err := ctl.Plan(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if len(out.Desired.Stacks) != l.Stacks || len(out.Desired.Broken) > 0 {
					b.Fatalf("loaded %d stacks (%d broken), want %d", len(out.Desired.Stacks), len(out.Desired.Broken), l.Stacks)
				}
				st.add(out.Stages)
				snapMB, snapFiles = diskUsage(b, filepath.Join(state, "sources", "scale", "snapshots"))
				b.StartTimer()
			}
			st.report(b)
			b.ReportMetric(snapMB, "snapshot-MB")
			b.ReportMetric(float64(snapFiles), "snapshot-files")
		})

		b.Run(transport+"/CachedLoad", func(b *testing.B) {
			ctl, state := scaleController(b, url, "")
			if _, err := ctl.Plan(b.Context()); err != nil {
				b.Fatal(err)
			}
			var st stageTimes
			b.ReportAllocs()
			for b.Loop() {
				ctl := controller.New(ctl.Source, state, runtime.NewFake(), nil, zap.NewNop())
				out, err := ctl.Plan(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				st.add(out.Stages)
			}
			st.report(b)
		})

		// One controller, as moor run keeps it, on a host converged to
		// the repository (on the fake engine).
		ctl, _ := scaleController(b, url, "")
		if _, err := ctl.Apply(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.Run(transport+"/UnchangedPoll", func(b *testing.B) {
			var st stageTimes
			b.ReportAllocs()
			for b.Loop() {
				out, err := ctl.Poll(b.Context(), false)
				if err != nil || !out.Quiet {
					b.Fatalf("not a quiet poll: %v", err)
				}
				st.add(out.Stages)
			}
			st.report(b)
		})

		b.Run(transport+"/ChangeOne", func(b *testing.B) {
			var st stageTimes
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				changes++
				if _, err := scalerepo.Change(repo.Dir, l, changes%l.Stacks, changes); err != nil {
					b.Fatal(err)
				}
				head := repo.Commit("change one stack")
				repo.Push()
				b.StartTimer()
				out, err := ctl.Poll(b.Context(), false)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if out.Snapshot.Revision.Commit != head || out.Plan.Empty() {
					b.Fatalf("at %s with a plan of %d ops; want %s and the changed stack's services", out.Snapshot.Revision.Commit, len(out.Plan.Ops), head)
				}
				st.add(out.Stages)
				b.StartTimer()
			}
			st.report(b)
		})
	}
}

// BenchmarkScaleHostPath is a host of a fleet whose repository holds
// MOOR_BENCH_STACKS stacks (default 1,000) under hosts/h001 to
// hosts/h100, ten each, and whose source's path is its own directory,
// hosts/h001 (file:// transport). FirstLoad is its first plan;
// ChangeOther a turn of moor run after a commit that changes a stack of
// another host (the plan is empty), ChangeOwn after one that changes one
// of its own.
//
//	go test -run '^$' -bench ScaleHostPath -benchtime 5x -benchmem ./controller/
func BenchmarkScaleHostPath(b *testing.B) {
	l := scalerepo.Layout{Stacks: benchStacks(), Hosts: 100}
	repo := testkit.NewRepo(b)
	if err := scalerepo.Write(repo.Dir, l); err != nil {
		b.Fatal(err)
	}
	repo.Commit(fmt.Sprintf("%d stacks on %d hosts", l.Stacks, l.Hosts))
	url := repo.Bare()
	own := l.Host(0)
	b.Run("FirstLoad", func(b *testing.B) {
		var st stageTimes
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			ctl, _ := scaleController(b, url, own)
			b.StartTimer()
			out, err := ctl.Plan(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if want := l.Stacks / l.Hosts; len(out.Desired.Stacks) != want {
				b.Fatalf("loaded %d stacks, want %d", len(out.Desired.Stacks), want)
			}
			st.add(out.Stages)
		}
		st.report(b)
	})
	ctl, _ := scaleController(b, url, own)
	if _, err := ctl.Apply(b.Context()); err != nil {
		b.Fatal(err)
	}
	changes := 0
	for _, which := range []string{"ChangeOther", "ChangeOwn"} {
		b.Run(which, func(b *testing.B) {
			var st stageTimes
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				changes++
				i := changes * l.Hosts // a stack of h001
				if which == "ChangeOther" {
					i++ // of h002
				}
				if _, err := scalerepo.Change(repo.Dir, l, i%l.Stacks, changes); err != nil {
					b.Fatal(err)
				}
				repo.Commit(which)
				repo.Push()
				b.StartTimer()
				out, err := ctl.Poll(b.Context(), false)
				if err != nil {
					b.Fatal(err)
				}
				if out.Plan.Empty() != (which == "ChangeOther") {
					b.Fatalf("%s: plan of %d ops", which, len(out.Plan.Ops))
				}
				st.add(out.Stages)
			}
			st.report(b)
		})
	}
}

// scaleController is a controller of the source "scale" following path in
// main of url, on a new state dir, with an in-memory engine that has the stacks'
// images, and the state dir.
func scaleController(b *testing.B, url, path string) (*controller.Controller, string) {
	b.Helper()
	fake := runtime.NewFake()
	for i, img := range scalerepo.Images {
		fake.Publish(img, fmt.Sprintf("sha256:%064d", i+1))
	}
	state := b.TempDir()
	l, err := ledger.Open(filepath.Join(state, "ledger.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	ctl := controller.New(config.Source{Name: "scale", Repo: url, Ref: "main", Path: path}, state, fake, l, zap.NewNop())
	ctl.Executor.Clock = fakeclock.NewAuto()
	return ctl, state
}

func benchStacks() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("MOOR_BENCH_STACKS"), &n); err != nil || n <= 0 {
		return 1000
	}
	return n
}

// stageTimes sums the stages of many runs.
type stageTimes struct {
	runs int
	sum  map[string]time.Duration
}

func (s *stageTimes) add(stages []controller.Stage) {
	if s.sum == nil {
		s.sum = map[string]time.Duration{}
	}
	s.runs++
	for _, st := range stages {
		s.sum[st.Name] += st.Took
	}
}

// report reports each stage's mean in ms/op.
func (s *stageTimes) report(b *testing.B) {
	names := make([]string, 0, len(s.sum))
	for name := range s.sum {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.ReportMetric(float64(s.sum[name].Microseconds())/1000/float64(s.runs), name+"-ms")
	}
}

// diskUsage returns the space the files under dir take on disk, in MB
// (allocated blocks, as du counts them), and how many files there are.
func diskUsage(b *testing.B, dir string) (mb float64, files int) {
	b.Helper()
	var blocks int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			blocks += st.Blocks
		}
		if d.Type().IsRegular() {
			files++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(blocks*512) / 1e6, files
}

package controller_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/runtime"
)

// BenchmarkFleetCommit: one host of a fleet repository of 100 hosts x 10
// stacks (plus 10 shared stacks and 2 groups of 5), converged, applies a
// new commit: "other-host" touches another host's stack (nothing this
// host reads), "own-host" one of this host's own. Each run is a whole
// Apply (ref listing, depth-1 fetch, snapshot, load, plan, record) on the
// fake runtime, so the figures are moor's own cost; the repository is a
// local one (git-upload-pack). files/op is what each snapshot writes;
// ms-STAGE/op the wall time of the stages that take any.
// Recorded in BENCHMARKS.md ("Fleet").
//
//	go test -run '^$' -bench FleetCommit -benchtime 20x -benchmem ./controller/
func BenchmarkFleetCommit(b *testing.B) {
	const hosts, perHost = 100, 10
	repo := testkit.NewRepo(b)
	// Each file differs (ID), as real stacks do: the fetch carries a blob
	// for each.
	svc := func(id, image string) string {
		return "services:\n  app:\n    image: " + image + "\n    environment:\n      HOST: ${MOOR_HOST_NAME}\n      ID: " + id + "\n    restart: unless-stopped\n"
	}
	for i := range 10 {
		repo.Write(fmt.Sprintf("shared%d/compose.yaml", i), svc(fmt.Sprint("shared", i), "app:1"))
	}
	for _, g := range []string{"role=web", "role=db"} {
		for i := range 5 {
			repo.Write(fmt.Sprintf("groups/%s/%s%d/compose.yaml", g, strings.TrimPrefix(g, "role="), i), svc(fmt.Sprint(g, i), "app:1"))
		}
		repo.Write("groups/"+g+"/variables.env", "TIER="+g+"\n")
	}
	for h := range hosts {
		for i := range perHost {
			repo.Write(fmt.Sprintf("hosts/h%03d/s%d/compose.yaml", h, i), svc(fmt.Sprintf("h%03d-s%d", h, i), "app:1"))
		}
		repo.Write(fmt.Sprintf("hosts/h%03d/variables.env", h), fmt.Sprintf("INDEX=%d\n", h))
	}
	repo.Commit("fleet")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:app-1")
	fake.Publish("app:2", "sha256:app-2")
	state := b.TempDir()
	ctl := controller.New(config.Source{Name: "fleet", Repo: repo.Dir, Ref: "main", Interval: config.DefaultInterval}, state, fake, nil, zap.NewNop())
	ctl.Host = config.Host{Name: "h000", Labels: map[string]string{"role": "web"}}
	ctl.Executor.Clock = fakeclock.NewAuto() // the fake's containers start at once
	out, err := ctl.Apply(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if n := len(out.Desired.Stacks); n != 25 {
		b.Fatalf("host h000 has %d stacks, want 25", n)
	}
	for _, tc := range []struct{ name, path string }{
		{"other-host", "hosts/h042/s3/compose.yaml"},
		{"own-host", "hosts/h000/s3/compose.yaml"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			files := 0
			i := 0
			stages := map[string]time.Duration{}
			for b.Loop() {
				b.StopTimer()
				i++
				repo.Write(tc.path, svc(tc.path, fmt.Sprintf("app:%d", 1+i%2)))
				repo.Commit(tc.name)
				b.StartTimer()
				out, err := ctl.Apply(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				touched := len(out.Plan.Ops) > 0
				if touched != (tc.name == "own-host") {
					b.Fatalf("%s: plan:\n%s", tc.name, out.Plan)
				}
				files += countFiles(b, out.Snapshot.Dir)
				for _, st := range out.Stages {
					stages[st.Name] += st.Took
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(files)/float64(b.N), "files/op")
			// Where the wall time goes: the stages of the runs.
			for _, name := range []string{"resolve", "checkout", "trust", "load", "observe"} {
				b.ReportMetric(float64(stages[name].Milliseconds())/float64(b.N), "ms-"+name+"/op")
			}
		})
	}
}

func countFiles(b *testing.B, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

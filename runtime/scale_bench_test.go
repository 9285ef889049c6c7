package runtime_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// BenchmarkObserveScale measures one observe of the real engine (a list
// each of containers, networks, volumes and images, parsed into moor's
// Observed) with MOOR_BENCH_CONTAINERS containers (default 300) of
// moor's labels on it, in stacks of three, created and not started (a
// created container is listed as a running one is; starting hundreds
// would load a shared engine for nothing). Recorded in BENCHMARKS.md
// ("Scale: many stacks, many hosts"), to estimate the observe of 1,000
// stacks.
//
//	go test -run '^$' -bench ObserveScale -benchtime 20x ./runtime/
func BenchmarkObserveScale(b *testing.B) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("MOOR_BENCH_CONTAINERS")); err == nil && v >= 0 {
		n = v
	}
	cli := testkit.Docker(b)
	img := testkit.TestImage(b)
	d, err := runtime.NewDocker(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	prefix := testkit.StackName(b)
	observe := func(b *testing.B, want int) {
		b.ReportAllocs()
		for b.Loop() {
			obs, err := d.Observe(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if got := len(obs.Containers); got < want {
				b.Fatalf("observed %d containers, want at least %d", got, want)
			}
		}
	}
	b.Run("containers=0", func(b *testing.B) { observe(b, 0) })

	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	for i := range n {
		stack := fmt.Sprintf("%s-%d", prefix, i/3)
		if i%3 == 0 {
			testkit.CleanupStack(b, stack)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			svc := fmt.Sprintf("svc%d", i%3)
			_, err := cli.ContainerCreate(b.Context(), client.ContainerCreateOptions{
				Name: fmt.Sprintf("%s-%s-1", stack, svc),
				Config: &container.Config{Image: img, Labels: map[string]string{
					reconcile.LabelStack:                  stack,
					reconcile.LabelService:                svc,
					reconcile.LabelSource:                 "scale",
					reconcile.LabelRevision:               fmt.Sprintf("main@sha1:%040x", i),
					reconcile.LabelConfigHash:             fmt.Sprintf("%064x", i),
					reconcile.LabelConfigFields:           "image=1a2b3c4d,environment=5e6f7a8b,ports=9c0d1e2f",
					reconcile.LabelComposeProject:         stack,
					reconcile.LabelComposeService:         svc,
					reconcile.LabelComposeContainerNumber: "1",
					reconcile.LabelComposeOneoff:          "False",
					reconcile.LabelComposeConfigHash:      fmt.Sprintf("%064x", i+1),
					reconcile.LabelComposeWorkingDir:      "/srv/stacks/" + stack,
					reconcile.LabelComposeConfigFiles:     "/srv/stacks/" + stack + "/compose.yaml",
					reconcile.LabelComposeVersion:         "2.40.3",
				}},
			})
			if err != nil {
				errs <- fmt.Errorf("create container %d of %d: %w", i+1, n, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) { observe(b, n) })
}

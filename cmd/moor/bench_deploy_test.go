package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// benchServices is MOOR_BENCH_SERVICES, else def.
func benchServices(def int) int {
	if v, err := strconv.Atoi(os.Getenv("MOOR_BENCH_SERVICES")); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkFirstDeploy measures a first deploy of N independent services
// (MOOR_BENCH_SERVICES, default 100) in one stack, no healthchecks, against
// the real engine, and the engine's floor for the same work. Each iteration
// starts from a host without the stack; removing it is not timed. Recorded
// in BENCHMARKS.md.
//
//	go test -run '^$' -bench FirstDeploy -benchtime 5x ./cmd/moor/
//
// Engine: one network create, then N creates (attached to the network
// under the service's name, as a create call can) and starts, all at once,
// through the Engine API client: what no tool can beat.
//
// Moor: one whole run of the controller (ref listing, compose loading,
// observe, plan, apply, observe), as `moor apply` does.
//
// MOOR_BENCH_PARALLEL bounds the engine's calls in flight, creates and
// starts, to compare bounds (default: all at once), and sets the
// executor's Parallel (default: its own).
func BenchmarkFirstDeploy(b *testing.B) {
	n := benchServices(100)
	bound, _ := strconv.Atoi(os.Getenv("MOOR_BENCH_PARALLEL"))
	cli := testkit.Docker(b)
	img := testkit.TestImage(b)

	b.Run("engine", func(b *testing.B) {
		stack := testkit.StackName(b)
		testkit.CleanupStack(b, stack)
		labels := map[string]string{reconcile.LabelStack: stack}
		for b.Loop() {
			ctx := b.Context()
			if _, err := cli.NetworkCreate(ctx, stack+"_default", client.NetworkCreateOptions{Labels: labels}); err != nil {
				b.Fatal(err)
			}
			errs := make(chan error, n)
			slots := make(chan struct{}, cmp.Or(bound, n))
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					svc := fmt.Sprintf("svc%d", i)
					slots <- struct{}{}
					res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
						Name: fmt.Sprintf("%s-%s-1", stack, svc),
						Config: &container.Config{Image: img, Labels: labels,
							Env: []string{fmt.Sprintf("N=%d", i)}},
						NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
							stack + "_default": {Aliases: []string{svc}},
						}},
					})
					<-slots
					if err == nil {
						slots <- struct{}{}
						_, err = cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
						<-slots
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			removeBenchStack(b, cli, stack)
			b.StartTimer()
		}
	})

	b.Run("moor", func(b *testing.B) {
		stack := testkit.StackName(b)
		testkit.CleanupStack(b, stack)
		repo := testkit.NewRepo(b)
		var c strings.Builder
		c.WriteString("services:\n")
		for i := range n {
			fmt.Fprintf(&c, "  svc%d:\n    image: %s\n    environment:\n      N: \"%d\"\n", i, img, i)
		}
		repo.Write(stack+"/compose.yaml", c.String())
		repo.Commit("bench")
		lg := zap.NewNop()
		if os.Getenv("MOOR_BENCH_LOG") != "" {
			lg, _ = zap.NewDevelopment()
		}
		ctl, d := benchController(b, stack, repo, lg)
		ctl.Executor.Parallel = bound
		var calls int64
		for b.Loop() {
			before := d.Calls()
			out, err := ctl.Apply(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if out.Result == nil || len(out.Result.Failed()) > 0 {
				b.Fatalf("not a first deploy: %+v", out.Result)
			}
			calls += d.Calls() - before
			b.StopTimer()
			removeBenchStack(b, cli, stack)
			b.StartTimer()
		}
		b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
	})
}

// removeBenchStack removes the stack's containers, then its
// networks; a network is removed once the engine has released its
// endpoints.
func removeBenchStack(b *testing.B, cli *client.Client, stack string) {
	b.Helper()
	// A loaded engine can take minutes over a hundred removals.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := make(client.Filters).Add("label", reconcile.LabelStack+"="+stack)
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		b.Fatal(err)
	}
	// One at a time: force-removing many running containers of one
	// network at once can leave the engine (20.10) holding an endpoint of
	// the network that no container has.
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			b.Fatal(err)
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		b.Fatal(err)
	}
	for _, nw := range ns.Items {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
			if err == nil || !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
				if err != nil {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

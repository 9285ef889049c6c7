package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

func svc(name, image string, replicas int, env ...string) *reconcile.Service {
	s := &reconcile.Service{Name: name, Replicas: replicas, PullPolicy: reconcile.PullMissing,
		Spec: reconcile.ContainerSpec{Image: image, Env: env, Restart: "always",
			Networks: []reconcile.NetworkAttachment{{Name: "web_default"}}}}
	s.Hash = s.Spec.Hash()
	return s
}

// built is a service whose image is built from a context hashing to hash.
func built(name, hash string, replicas int) *reconcile.Service {
	b := &reconcile.BuildSpec{Image: reconcile.BuildImage("web-"+name, hash), Tags: []string{"web-" + name + ":latest"},
		Hash: hash, Root: "/snapshot", Context: "web/" + name, Dockerfile: "Dockerfile"}
	s := svc(name, b.Image, replicas)
	s.PullPolicy, s.Build = reconcile.PullBuild, b
	return s
}

func want(rev string, svcs ...*reconcile.Service) *reconcile.Desired {
	st := &reconcile.Stack{Name: "web", Services: map[string]*reconcile.Service{},
		Networks: map[string]*reconcile.NetworkSpec{"default": {Key: "default", Name: "web_default"}}}
	for _, s := range svcs {
		st.Services[s.Name] = s
	}
	return &reconcile.Desired{Source: "prod", Revision: rev, Stacks: map[string]*reconcile.Stack{"web": st}}
}

// executor runs on a clock that never waits for real: monitor periods,
// delays and polls pass at once.
func executor(rt reconcile.Runtime) *reconcile.Executor {
	return &reconcile.Executor{Runtime: rt, Clock: fakeclock.NewAuto(), Poll: 250 * time.Millisecond, ReadyTimeout: 2 * time.Minute}
}

// converge plans and applies until the plan is empty, at most n times, and
// returns how many applies it took.
func converge(t *testing.T, rt reconcile.Runtime, d *reconcile.Desired, n int) int {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		obs, err := rt.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := reconcile.MakePlan(d, obs, reconcile.Constraints{})
		if p.Empty() {
			return i
		}
		executor(rt).Apply(ctx, p)
	}
	obs, _ := rt.Observe(ctx)
	t.Fatalf("not converged after %d applies; plan:\n%s\nstate:\n%s", n, reconcile.MakePlan(d, obs, reconcile.Constraints{}), rt)
	return n
}

// TestConvergeFromRandomStates walks the fake engine through many states —
// hand changes, interrupted replacements, scale changes, new revisions — in
// random order, and asserts that one apply always converges it and that
// the plan after that is empty (invariant 7).
func TestConvergeFromRandomStates(t *testing.T) {
	revs := []*reconcile.Desired{
		want("main@sha1:1", svc("api", "app:1", 2, "A=1"), svc("db", "db:1", 1)),
		want("main@sha1:2", svc("api", "app:1", 2, "A=2"), svc("db", "db:1", 1)),
		want("main@sha1:3", svc("api", "app:2", 3, "A=2"), svc("db", "db:1", 1), svc("jobs", "app:2", 1)),
		want("main@sha1:4", svc("api", "app:2", 1, "A=2")),
		want("main@sha1:5", svc("api", "app:2", 1, "A=2"), built("site", "sha256:51", 2)),
		want("main@sha1:6", svc("api", "app:2", 1, "A=2"), built("site", "sha256:52", 1)),
	}
	disturb := []func(f *runtime.Fake){
		func(f *runtime.Fake) { f.StopByHand("web-api-1") },
		func(f *runtime.Fake) { f.RemoveByHand("web-api-1") },
		func(f *runtime.Fake) { f.RenameByHand("web-api-1", "web-api-1"+reconcile.RetiredSuffix) },
		func(f *runtime.Fake) { f.Exit("web-db-1", 1) },
		func(f *runtime.Fake) {
			f.RenameByHand("web-api-1", "web-api-1"+reconcile.RetiredSuffix)
			f.StopByHand("web-api-1" + reconcile.RetiredSuffix)
		},
		func(f *runtime.Fake) {},
	}
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			f := runtime.NewFake()
			for _, img := range []string{"app:1", "app:2", "db:1"} {
				f.Publish(img, "sha256:"+img)
			}
			unmanaged := f.AddUnmanaged("bystander")
			for step := 0; step < 8; step++ {
				d := revs[r.IntN(len(revs))]
				converge(t, f, d, 2)
				if n := converge(t, f, d, 1); n != 0 {
					t.Fatalf("second plan not empty")
				}
				func() {
					defer func() { recover() }() // a disturbance may name a container this revision lacks
					disturb[r.IntN(len(disturb))](f)
				}()
			}
			if c, err := f.InspectContainer(context.Background(), unmanaged); err != nil || !c.Running() {
				t.Fatalf("unmanaged container touched: %+v %v\n%s", c, err, f)
			}
		})
	}
}

// TestFailedPullKeepsOldContainer: a pull that fails leaves the service as
// it ran (invariant 4).
func TestFailedPullKeepsOldContainer(t *testing.T) {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	converge(t, f, want("main@sha1:1", svc("api", "app:1", 1)), 2)
	before := f.String()
	d := want("main@sha1:2", svc("api", "app:missing", 1))
	obs, _ := f.Observe(context.Background())
	res := executor(f).Apply(context.Background(), reconcile.MakePlan(d, obs, reconcile.Constraints{}))
	if len(res.Failed()) != 2 {
		t.Fatalf("want the pull to fail and the replace to be skipped, got %+v", res.Failed())
	}
	if f.String() != before {
		t.Fatalf("a failed pull changed the engine:\n%s\nwas:\n%s", f, before)
	}
}

// TestFailedBuildKeepsOldContainer: a build that fails leaves the service
// as it ran, and a build once done is not done again.
func TestFailedBuildKeepsOldContainer(t *testing.T) {
	f := runtime.NewFake()
	converge(t, f, want("main@sha1:1", built("site", "sha256:1", 1)), 2)
	if n := f.Calls()["Build"]; n != 1 {
		t.Fatalf("built %d times, want 1", n)
	}
	before := f.String()
	next := built("site", "sha256:2", 1)
	f.FailAlways("Build", next.Spec.Image, errors.New("COPY failed"))
	obs, _ := f.Observe(context.Background())
	res := executor(f).Apply(context.Background(), reconcile.MakePlan(want("main@sha1:2", next), obs, reconcile.Constraints{}))
	if len(res.Failed()) != 2 {
		t.Fatalf("want the build to fail and the replace to be skipped, got %+v", res.Failed())
	}
	if f.String() != before {
		t.Fatalf("a failed build changed the engine:\n%s\nwas:\n%s", f, before)
	}
	f.ClearFaults()
	converge(t, f, want("main@sha1:2", next), 2)
	converge(t, f, want("main@sha1:1", built("site", "sha256:1", 1)), 2) // a revert finds its image
	if n := f.Calls()["Build"]; n != 3 {
		t.Fatalf("built %d times, want 3 (the revert reuses the first build)", n)
	}
}

// TestUnhealthyReplacementRestoresOld: a new container that does not come
// up healthy is removed and the old one runs again (invariant 5).
func TestUnhealthyReplacementRestoresOld(t *testing.T) {
	for _, published := range []bool{false, true} {
		t.Run(fmt.Sprintf("published=%v", published), func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			f.Publish("app:bad", "sha256:bad")
			f.UnhealthyImage("app:bad")
			old := svc("api", "app:1", 1)
			bad := svc("api", "app:bad", 1)
			for _, s := range []*reconcile.Service{old, bad} {
				s.Spec.Healthcheck = &reconcile.Healthcheck{Test: []string{"CMD", "true"}}
				if published {
					s.Spec.Ports = []reconcile.Port{{Target: 80, Published: "8080", Protocol: "tcp"}}
				}
				s.Hash = s.Spec.Hash()
			}
			converge(t, f, want("main@sha1:1", old), 2)
			obs, _ := f.Observe(context.Background())
			oldID := obs.Containers[0].ID
			d := want("main@sha1:2", bad)
			res := executor(f).Apply(context.Background(), reconcile.MakePlan(d, obs, reconcile.Constraints{}))
			if len(res.Failed()) != 1 || !strings.Contains(res.Failed()[0].Err.Error(), "old container restored") {
				t.Fatalf("want one failed replace with the old container restored, got %+v", res.Ops)
			}
			obs, _ = f.Observe(context.Background())
			if len(obs.Containers) != 1 || obs.Containers[0].ID != oldID || obs.Containers[0].Name != "web-api-1" || !obs.Containers[0].Running() {
				t.Fatalf("old container not back:\n%s", f)
			}
		})
	}
}

// TestEngineFaultsNeverLeaveZeroRunning injects an engine error at each
// call of a replacement and checks the replica is still served.
func TestEngineFaultsNeverLeaveZeroRunning(t *testing.T) {
	for _, method := range []string{"CreateContainer", "StopContainer", "RenameContainer", "StartContainer"} {
		t.Run(method, func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			converge(t, f, want("main@sha1:1", svc("api", "app:1", 1, "A=1")), 2)
			f.FailOnce(method, "*", errors.New("engine hiccup"))
			d := want("main@sha1:2", svc("api", "app:1", 1, "A=2"))
			obs, _ := f.Observe(context.Background())
			executor(f).Apply(context.Background(), reconcile.MakePlan(d, obs, reconcile.Constraints{}))
			obs, _ = f.Observe(context.Background())
			running := 0
			for _, c := range obs.Containers {
				if c.Running() {
					running++
				}
			}
			if running == 0 {
				t.Fatalf("no container running after a %s fault:\n%s", method, f)
			}
			converge(t, f, d, 2)
		})
	}
}

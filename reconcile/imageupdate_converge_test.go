package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// observeRegistry is an image-update run's observation: the engine, and
// what the registry names each checked tag by.
func observeRegistry(t *testing.T, f *runtime.Fake, d *reconcile.Desired) *reconcile.Observed {
	t.Helper()
	ctx := context.Background()
	obs, err := f.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs.Registry = map[string]string{}
	d.EachService(func(_ string, svc *reconcile.Service) {
		if svc.WatchesTag() {
			if dg, err := f.RegistryDigest(ctx, svc.Spec.Image); err == nil {
				obs.Registry[svc.Spec.Image] = dg
			}
		}
	})
	return obs
}

// TestImageUpdatesConverge pushes tags again in random order, with pulls
// and candidates that fail once, and asserts that image-update runs
// converge every service to what the registry names (a failed pull or
// start leaving the old container running meanwhile), that the plan after
// that is empty, and that the bystander is never touched.
func TestImageUpdatesConverge(t *testing.T) {
	d := want("main@sha1:1", svc("api", "app:1", 2, "A=1"), svc("db", "db:1", 1))
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:app-0")
			f.Publish("db:1", "sha256:db-0")
			unmanaged := f.AddUnmanaged("bystander")
			converge(t, f, d, 2)
			ctx := context.Background()
			for step := 1; step <= 6; step++ {
				switch r.IntN(3) {
				case 0:
					f.Publish("app:1", fmt.Sprintf("sha256:app-%d", step))
				case 1:
					f.Publish("db:1", fmt.Sprintf("sha256:db-%d", step))
				}
				f.ClearFaults() // one that did not fire in the last step
				switch r.IntN(3) {
				case 0:
					f.FailOnce("Pull", "app:1", errors.New("registry: 502"))
				case 1:
					f.FailOnce("StartContainer", "web-api-1"+reconcile.CandidateSuffix, errors.New("start failed"))
				}
				for i := 0; ; i++ {
					p := reconcile.MakePlan(d, observeRegistry(t, f, d), reconcile.Constraints{})
					if p.Empty() {
						break
					}
					if i == 3 {
						t.Fatalf("not converged after 3 image-update runs; plan:\n%s\nstate:\n%s", p, f)
					}
					executor(f).Apply(ctx, p)
				}
				obs := observeRegistry(t, f, d)
				for _, c := range obs.Containers {
					if c.Retired || !c.Running() {
						t.Fatalf("%s left behind, or not running:\n%s", c.Name, f)
					}
					img := map[string]string{"api": "app:1", "db": "db:1"}[c.Service]
					if c.ImageID != obs.Images[img] || obs.Registry[img] != runtime.FakeDigest(c.ImageID) {
						t.Fatalf("%s runs %s, the registry names %s by %s:\n%s", c.Name, c.ImageID, img, obs.Registry[img], f)
					}
				}
			}
			if c, err := f.InspectContainer(ctx, unmanaged); err != nil || !c.Running() {
				t.Fatalf("unmanaged container touched: %+v %v\n%s", c, err, f)
			}
		})
	}
}

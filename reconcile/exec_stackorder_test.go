package reconcile_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// stackOf is a stack of one replica of each named service, of image
// app:1, that needs the stacks needs.
func stackOf(name string, services []string, needs ...string) *reconcile.Stack {
	st := &reconcile.Stack{Name: name, Services: map[string]*reconcile.Service{}, DependsOn: needs,
		Networks: map[string]*reconcile.NetworkSpec{"default": {Key: "default", Name: name + "_default"}}}
	for _, s := range services {
		svc := &reconcile.Service{Name: s, Replicas: 1, PullPolicy: reconcile.PullMissing,
			Spec: reconcile.ContainerSpec{Image: "app:1", Restart: "always",
				Networks: []reconcile.NetworkAttachment{{Name: name + "_default"}}}}
		svc.Hash = svc.Spec.Hash()
		st.Services[s] = svc
	}
	return st
}

func stacksOf(stacks ...*reconcile.Stack) *reconcile.Desired {
	d := &reconcile.Desired{Source: "prod", Revision: "main@sha1:1", Stacks: map[string]*reconcile.Stack{}}
	for _, st := range stacks {
		d.Stacks[st.Name] = st
	}
	return d
}

// chain is stacks a, b needing a, and c needing b, a's db with a
// healthcheck, and x of n services that need nothing.
func chain(n int) *reconcile.Desired {
	a := stackOf("a", []string{"db"})
	db := a.Services["db"]
	db.Spec.Image = "db:1"
	db.Spec.Healthcheck = &reconcile.Healthcheck{Test: []string{"CMD", "true"}}
	db.Hash = db.Spec.Hash()
	var others []string
	for i := range n {
		others = append(others, fmt.Sprintf("s%02d", i))
	}
	return stacksOf(a, stackOf("b", []string{"api"}, "a"), stackOf("c", []string{"web"}, "b"), stackOf("x", others))
}

func before(t *testing.T, j []string, first, then string) {
	t.Helper()
	i, k := slices.Index(j, first), slices.Index(j, then)
	if i < 0 || k < 0 || k < i {
		t.Errorf("%q not before %q:\n%s", first, then, strings.Join(j, "\n"))
	}
}

// TestNeededStackIsUpFirst: a's create waits until the creates of the
// stack that needs nothing are all in flight, so b's create, were it not
// waiting for a, would be made before a's container started; and c's
// before b's.
func TestNeededStackIsUpFirst(t *testing.T) {
	d := chain(6)
	rt := newInFlight(6 + 1) // x's and a's
	rt.Publish("db:1", "sha256:db")
	res := applyOnce(t, executor(rt), rt.Fake, d)
	if failed := res.Failed(); len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	j := rt.Journal()
	before(t, j, "StartContainer a-db-1", "CreateContainer b-api-1")
	before(t, j, "StartContainer b-api-1", "CreateContainer c-web-1")
}

// TestDependentsOfAFailedStackAreHeld: a's db never becomes healthy, so
// b and c, which need it, are not touched, each op saying why, while x
// goes on.
func TestDependentsOfAFailedStackAreHeld(t *testing.T) {
	d := chain(2)
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	f.Publish("db:1", "sha256:db")
	f.UnhealthyImage("db:1")
	res := applyOnce(t, executor(f), f, d)
	byResource := map[string]reconcile.OpResult{}
	for _, r := range res.Ops {
		byResource[r.Op.Resource] = r
	}
	if r := byResource["a/db/1"]; r.Err == nil || r.Skipped {
		t.Errorf("a/db/1: %v, want it failed", r.Err)
	}
	for _, key := range []string{"b/api/1", "c/web/1"} {
		r := byResource[key]
		if !r.Skipped || !strings.Contains(fmt.Sprint(r.Err), "needed stack a failed: a/db") {
			t.Errorf("%s: skipped %v, %v; want skipped, naming stack a", key, r.Skipped, r.Err)
		}
	}
	for _, key := range []string{"x/s00/1", "x/s01/1"} {
		if r := byResource[key]; r.Err != nil {
			t.Errorf("%s: %v", key, r.Err)
		}
	}
	for _, line := range f.Journal() {
		if strings.Contains(line, "b-api-1") || strings.Contains(line, "c-web-1") {
			t.Errorf("a dependent of the failed stack was touched: %s", line)
		}
	}
}

// TestStacksRemovedInReverse: a, b and c go from git in one revision; c
// is removed first, then b, then a.
func TestStacksRemovedInReverse(t *testing.T) {
	d := chain(0)
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	f.Publish("db:1", "sha256:db")
	converge(t, f, d, 3)
	f.ResetCalls()
	gone := stacksOf(stackOf("x", []string{"s00"}))
	obs, err := f.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{}
	for name, st := range d.Stacks {
		needs[name] = st.DependsOn
	}
	p := reconcile.MakePlan(gone, obs, reconcile.Constraints{StackNeeds: needs})
	res := executor(f).Apply(context.Background(), p)
	if failed := res.Failed(); len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	j := f.Journal()
	before(t, j, "RemoveContainer c-web-1", "RemoveContainer b-api-1")
	before(t, j, "RemoveContainer b-api-1", "RemoveContainer a-db-1")
}

// TestConvergeOrderedStacksFromRandomStates: stacks that need others, in
// revisions that add, drop and rewire them, converge from hand changes in
// random order in one apply, and the plan after that is empty.
func TestConvergeOrderedStacksFromRandomStates(t *testing.T) {
	revs := []*reconcile.Desired{
		chain(1),
		stacksOf(stackOf("a", []string{"db"}), stackOf("b", []string{"api"}, "a"), stackOf("x", []string{"s00"})),
		stacksOf(stackOf("a", []string{"db", "cache"}), stackOf("c", []string{"web"}, "a"), stackOf("x", []string{"s00"}, "c")),
		stacksOf(stackOf("b", []string{"api"}), stackOf("a", []string{"db"}, "b"), stackOf("c", []string{"web"}, "a", "b")),
	}
	disturb := []func(f *runtime.Fake){
		func(f *runtime.Fake) { f.StopByHand("a-db-1") },
		func(f *runtime.Fake) { f.RemoveByHand("b-api-1") },
		func(f *runtime.Fake) { f.Exit("c-web-1", 1) },
		func(f *runtime.Fake) {},
	}
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			f.Publish("db:1", "sha256:db")
			unmanaged := f.AddUnmanaged("bystander")
			for range 8 {
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

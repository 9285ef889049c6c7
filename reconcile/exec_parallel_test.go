package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// inFlight is a runtime that counts its creates and starts in flight. A
// create waits, at most a minute, until hold creates are in flight at
// once (hold 0: it does not wait), so a test learns that the executor
// really makes them concurrently, without timing anything.
type inFlight struct {
	*runtime.Fake
	hold int

	mu       sync.Mutex
	now      int           // creates and starts in flight
	max      int           // the most ever in flight
	creates  int           // creates in flight
	full     chan struct{} // closed once hold creates were in flight
	released bool          // full is closed
}

func newInFlight(hold int) *inFlight {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	return &inFlight{Fake: f, hold: hold, full: make(chan struct{})}
}

func (r *inFlight) enter(create bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now++
	r.max = max(r.max, r.now)
	if create {
		r.creates++
		if r.creates == r.hold && !r.released {
			r.released = true
			close(r.full)
		}
	}
}

func (r *inFlight) leave(create bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now--
	if create {
		r.creates--
	}
}

func (r *inFlight) CreateContainer(ctx context.Context, name string, spec reconcile.ContainerSpec, labels map[string]string) (string, error) {
	r.enter(true)
	defer r.leave(true)
	if r.hold > 0 {
		select {
		case <-r.full:
		case <-time.After(time.Minute):
			return "", fmt.Errorf("create %s: %d creates never were in flight at once", name, r.hold)
		}
	}
	return r.Fake.CreateContainer(ctx, name, spec, labels)
}

func (r *inFlight) StartContainer(ctx context.Context, id string) error {
	r.enter(false)
	defer r.leave(false)
	return r.Fake.StartContainer(ctx, id)
}

func services(n int) []*reconcile.Service {
	var out []*reconcile.Service
	for i := range n {
		out = append(out, svc(fmt.Sprintf("s%02d", i), "app:1", 1))
	}
	return out
}

// TestFirstDeployIsConcurrent: a first deploy of independent services
// makes their creates at once, as many as Parallel allows and never more.
func TestFirstDeployIsConcurrent(t *testing.T) {
	for _, tc := range []struct{ services, parallel, want int }{
		{40, 8, 8},
		{reconcile.DefaultParallel + 10, 0, reconcile.DefaultParallel},
		{5, 0, 5},
	} {
		t.Run(fmt.Sprintf("%d services, parallel %d", tc.services, tc.parallel), func(t *testing.T) {
			rt := newInFlight(tc.want)
			ex := executor(rt)
			ex.Parallel = tc.parallel
			res := applyOnce(t, ex, rt.Fake, want("main@sha1:1", services(tc.services)...))
			if failed := res.Failed(); len(failed) > 0 {
				t.Fatalf("failed: %v", failed)
			}
			if rt.max != tc.want {
				t.Errorf("at most %d calls in flight, want %d", rt.max, tc.want)
			}
			if n := rt.Calls()["CreateContainer"]; n != tc.services {
				t.Errorf("%d creates, want %d", n, tc.services)
			}
		})
	}
}

// TestDependentsWaitWhileOthersGoOn: app depends on db; db's create waits
// until the creates of the services that depend on nothing are all in
// flight, so app's create, were it not waiting for db, would be made
// before db started.
func TestDependentsWaitWhileOthersGoOn(t *testing.T) {
	for _, cond := range []string{reconcile.ConditionStarted, reconcile.ConditionHealthy} {
		t.Run(cond, func(t *testing.T) {
			others := services(6)
			db := svc("db", "app:1", 1)
			if cond == reconcile.ConditionHealthy {
				db.Spec.Healthcheck = &reconcile.Healthcheck{Test: []string{"CMD", "true"}}
				db.Hash = db.Spec.Hash()
			}
			app := svc("app", "app:1", 1)
			app.DependsOn = map[string]reconcile.Dependency{"db": {Condition: cond, Required: true}}
			rt := newInFlight(len(others) + 1) // the others and db
			res := applyOnce(t, executor(rt), rt.Fake, want("main@sha1:1", append(others, db, app)...))
			if failed := res.Failed(); len(failed) > 0 {
				t.Fatalf("failed: %v", failed)
			}
			j := rt.Journal()
			started := slices.Index(j, "StartContainer web-db-1")
			created := slices.Index(j, "CreateContainer web-app-1")
			if started < 0 || created < started {
				t.Errorf("app created before db started:\n%s", strings.Join(j, "\n"))
			}
		})
	}
}

package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// rolloutFixture runs four replicas of api at revision 1 and returns the
// fake, the IDs of the replicas by number, and revision 2's service (a new
// environment) with update config u.
func rolloutFixture(t *testing.T, u reconcile.UpdateConfig) (*runtime.Fake, map[int]string, *reconcile.Desired) {
	t.Helper()
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	converge(t, f, want("main@sha1:1", svc("api", "app:1", 4, "A=1")), 2)
	ids := map[int]string{}
	obs, _ := f.Observe(context.Background())
	for _, c := range obs.Containers {
		ids[c.Number] = c.ID
	}
	next := svc("api", "app:1", 4, "A=2")
	next.Update = u
	return f, ids, want("main@sha1:2", next)
}

func applyOnce(t *testing.T, ex *reconcile.Executor, f *runtime.Fake, d *reconcile.Desired) *reconcile.Result {
	t.Helper()
	obs, err := f.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ex.Apply(context.Background(), reconcile.MakePlan(d, obs, reconcile.Constraints{}))
}

// replicaStates says, per replica number, "new" or "old" (by config hash)
// and whether it is the same container as before, and fails on leftovers.
func replicaStates(t *testing.T, f *runtime.Fake, ids map[int]string, newHash string) string {
	t.Helper()
	obs, _ := f.Observe(context.Background())
	var out []string
	for _, c := range obs.Containers {
		if c.Name != reconcile.ContainerName("web", "api", c.Number) || !c.Running() {
			t.Fatalf("leftover or stopped container %s (%s):\n%s", c.Name, c.State, f)
		}
		v := "old"
		if c.ConfigHash == newHash {
			v = "new"
		} else if c.ID != ids[c.Number] {
			v = "old-but-recreated"
		}
		out = append(out, fmt.Sprintf("%d:%s", c.Number, v))
	}
	return strings.Join(out, " ")
}

func opOutcomes(res *reconcile.Result) string {
	var out []string
	for _, r := range res.Ops {
		if r.Op.Kind != reconcile.OpReplace {
			continue
		}
		s := "ok"
		switch {
		case r.Skipped:
			s = "skipped"
		case r.Err != nil && strings.Contains(r.Err.Error(), "rolled back"):
			s = "rolled-back"
		case r.Err != nil:
			s = "failed"
		}
		out = append(out, fmt.Sprintf("%d:%s", r.Op.Number, s))
	}
	return strings.Join(out, " ")
}

// TestRolloutFailureActions: replica 3's new container never starts. Its
// old container always comes back; what happens to the others is the
// service's failure_action and max_failure_ratio.
func TestRolloutFailureActions(t *testing.T) {
	tests := []struct {
		update   reconcile.UpdateConfig
		replicas string // after the apply
		ops      string
	}{
		{reconcile.UpdateConfig{}, "1:old 2:old 3:old 4:old", "1:rolled-back 2:rolled-back 3:failed 4:skipped"},
		{reconcile.UpdateConfig{FailureAction: reconcile.FailurePause}, "1:new 2:new 3:old 4:old", "1:ok 2:ok 3:failed 4:skipped"},
		{reconcile.UpdateConfig{FailureAction: reconcile.FailureContinue}, "1:new 2:new 3:old 4:new", "1:ok 2:ok 3:failed 4:ok"},
		{reconcile.UpdateConfig{MaxFailureRatio: 0.25}, "1:new 2:new 3:old 4:new", "1:ok 2:ok 3:failed 4:ok"},
		{reconcile.UpdateConfig{Parallelism: 2}, "1:old 2:old 3:old 4:old", "1:rolled-back 2:rolled-back 3:failed 4:rolled-back"},
		{reconcile.UpdateConfig{Order: reconcile.OrderStopFirst}, "1:old 2:old 3:old 4:old", "1:rolled-back 2:rolled-back 3:failed 4:skipped"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.update), func(t *testing.T) {
			f, ids, d := rolloutFixture(t, tt.update)
			ex := executor(f)
			why := "port is already allocated"
			if tt.update.Order == reconcile.OrderStopFirst {
				// The new container is started under the canonical name:
				// make replica 3's exit as soon as it runs.
				why = "exited with code 3"
				ex.Step = func(op reconcile.Op, i int) {
					if op.Number == 3 && stepOf(op, i) == "start new" {
						f.Exit("web-api-3", 3)
					}
				}
			} else {
				f.FailAlways("StartContainer", "web-api-3"+reconcile.CandidateSuffix, errors.New(why))
			}
			res := applyOnce(t, ex, f, d)
			if got := opOutcomes(res); got != tt.ops {
				t.Errorf("ops: got %s, want %s", got, tt.ops)
				for _, r := range res.Ops {
					t.Logf("%s: %v", r.Op, r.Err)
				}
			}
			f.ClearFaults()
			if got := replicaStates(t, f, ids, d.Stacks["web"].Services["api"].Hash); got != tt.replicas {
				t.Errorf("replicas: got %s, want %s\n%s", got, tt.replicas, f)
			}
			for _, r := range res.Ops {
				if r.Op.Number == 3 && !strings.Contains(fmt.Sprint(r.Err), why) {
					t.Errorf("replica 3's error does not say why: %v", r.Err)
				}
			}
			converge(t, f, d, 2) // once the fault is gone, the rollout completes
		})
	}
}

// TestRolloutParallelism: replicas are replaced Parallelism at a time, with
// Delay between batches.
func TestRolloutParallelism(t *testing.T) {
	for _, par := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			const delay = 30 * time.Millisecond
			f, _, d := rolloutFixture(t, reconcile.UpdateConfig{Parallelism: par, Delay: delay})
			var (
				mu       sync.Mutex
				inFlight int
				arrived  int // in this batch
				maxSeen  int
				batchEnd time.Time
				gaps     []time.Duration
			)
			all := sync.NewCond(&mu)
			ex := executor(f)
			clock := ex.Clock
			ex.Step = func(op reconcile.Op, i int) {
				mu.Lock()
				defer mu.Unlock()
				switch stepOf(op, i) {
				case "create new":
					inFlight++
					maxSeen = max(maxSeen, inFlight)
					if inFlight == 1 {
						arrived = 0
						if !batchEnd.IsZero() {
							gaps = append(gaps, clock.Now().Sub(batchEnd))
						}
					}
					arrived++
					// Hold each replica until its whole batch is there, so
					// that concurrency is seen, not hoped for. A rollout
					// one at a time would never get there: the timer ends
					// the wait and the assertion below fails.
					all.Broadcast()
					timer := time.AfterFunc(5*time.Second, func() { mu.Lock(); all.Broadcast(); mu.Unlock() })
					defer timer.Stop()
					start := time.Now()
					for arrived < par && time.Since(start) < 5*time.Second {
						all.Wait()
					}
				case "rename new":
					inFlight--
					if inFlight == 0 {
						batchEnd = clock.Now()
					}
				}
			}
			res := applyOnce(t, ex, f, d)
			if len(res.Failed()) > 0 {
				t.Fatalf("rollout failed: %+v", res.Failed())
			}
			if maxSeen != par {
				t.Errorf("at most %d replicas were replaced at once, want %d", maxSeen, par)
			}
			if want := 4/par - 1; len(gaps) != want {
				t.Errorf("%d pauses between batches, want %d", len(gaps), want)
			}
			for _, g := range gaps {
				if g < delay {
					t.Errorf("batches %v apart, want at least the delay %v", g, delay)
				}
			}
			converge(t, f, d, 1)
		})
	}
}

// TestRolloutOrder: start-first has the old container running when the new
// one starts; stop-first has it stopped.
func TestRolloutOrder(t *testing.T) {
	for _, order := range []string{reconcile.OrderStartFirst, reconcile.OrderStopFirst} {
		t.Run(order, func(t *testing.T) {
			f, ids, d := rolloutFixture(t, reconcile.UpdateConfig{Order: order})
			var oldState []string
			exposedAt := map[string]bool{}
			ex := executor(f)
			ex.Step = func(op reconcile.Op, i int) {
				if op.Number != 1 {
					return
				}
				step := stepOf(op, i)
				for _, name := range []string{"web-api-1" + reconcile.CandidateSuffix, "web-api-1"} {
					if c, err := f.InspectContainer(context.Background(), name); err == nil && c.ID != ids[1] {
						if _, seen := exposedAt[step]; !seen {
							exposedAt[step] = f.Exposed(c.ID)
						}
					}
				}
				if step == "start new" {
					c, err := f.InspectContainer(context.Background(), ids[1])
					if err == nil && len(oldState) == 0 {
						oldState = append(oldState, step+":"+c.State)
					}
				}
			}
			if res := applyOnce(t, ex, f, d); len(res.Failed()) > 0 {
				t.Fatalf("rollout failed: %+v", res.Failed())
			}
			want := "start new:running"
			if order == reconcile.OrderStopFirst {
				want = "start new:exited"
			}
			if len(oldState) != 1 || oldState[0] != want {
				t.Errorf("old container when the new one started: %v, want %s", oldState, want)
			}
			// The new container is reachable by name only once it is
			// ready (start-first), and before the old one stops.
			if order == reconcile.OrderStartFirst && exposedAt["wait new"] {
				t.Errorf("the candidate got traffic before it was ready: %v", exposedAt)
			}
			if !exposedAt["stop old"] {
				t.Errorf("the new container was not reachable by name when the old one stopped: %v", exposedAt)
			}
		})
	}
}

// TestPruneVolumesRemovesAfterContainers: a pruned volume goes once its
// stack's containers are gone, and stays when one of them could not be
// removed.
func TestPruneVolumesRemovesAfterContainers(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("remove fails=%v", fail), func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			api := svc("api", "app:1", 1)
			api.Spec.Mounts = []reconcile.Mount{{Type: reconcile.MountVolume, Source: "web_data", Target: "/data"}}
			api.Hash = api.Spec.Hash()
			d := want("main@sha1:1", api)
			d.Stacks["web"].Volumes = map[string]*reconcile.VolumeSpec{"data": {Key: "data", Name: "web_data"}}
			converge(t, f, d, 2)
			gone := &reconcile.Desired{Source: "prod", Revision: "main@sha1:2", PruneVolumes: true}
			if fail {
				f.FailAlways("RemoveContainer", "web-api-1", errors.New("device busy"))
			}
			res := applyOnce(t, executor(f), f, gone)
			obs, _ := f.Observe(context.Background())
			if fail == (len(obs.Volumes) == 0) {
				t.Errorf("volumes after the stack was removed: %+v\nops: %+v", obs.Volumes, res.Ops)
			}
		})
	}
}

// TestFixedAddressDefaultsToStopFirst: a container with a fixed address is
// replaced stop-first: its old container is stopped before the new one
// starts, since two cannot hold one address.
func TestFixedAddressDefaultsToStopFirst(t *testing.T) {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	fixed := func(env string) *reconcile.Service {
		s := svc("api", "app:1", 1, env)
		s.Spec.Networks[0].IPv4Address = "172.30.0.10"
		s.Hash = s.Spec.Hash()
		return s
	}
	converge(t, f, want("main@sha1:1", fixed("A=1")), 2)
	obs, _ := f.Observe(context.Background())
	oldID := obs.Containers[0].ID
	var steps []string
	ex := executor(f)
	ex.Step = func(op reconcile.Op, i int) { steps = append(steps, stepOf(op, i)) }
	applyOnce(t, ex, f, want("main@sha1:2", fixed("A=2")))
	got := strings.Join(steps, ", ")
	if want := "create new, expose new, stop old, rename old, rename new, start new, wait new, remove old"; got != want {
		t.Errorf("steps %s, want a stop-first replacement: %s", got, want)
	}
	if c, err := f.InspectContainer(context.Background(), "web-api-1"); err != nil || c.ID == oldID {
		t.Errorf("not replaced: %+v %v", c, err)
	}
}

// stepOf names step i of op by its kind and whether it acts on the op's
// new container or an observed one: "start new", "stop old".
func stepOf(op reconcile.Op, i int) string {
	s := op.Steps[i]
	if s.Container == "" {
		return s.Kind.String() + " new"
	}
	return s.Kind.String() + " old"
}

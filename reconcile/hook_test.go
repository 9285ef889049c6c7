package reconcile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// hooked is svc with post_start and pre_stop hooks, one command each
// (words split on spaces), none for "".
func hooked(s *reconcile.Service, postStart, preStop string) *reconcile.Service {
	if postStart != "" {
		s.Spec.PostStart = []reconcile.Hook{{Command: strings.Fields(postStart)}}
	}
	if preStop != "" {
		s.Spec.PreStop = []reconcile.Hook{{Command: strings.Fields(preStop)}}
	}
	s.Hash = s.Spec.Hash()
	return s
}

// lifecycle keeps the journal lines that start, stop or exec, in order.
func lifecycle(f *runtime.Fake) []string {
	var out []string
	for _, l := range f.Journal() {
		for _, m := range []string{"StartContainer ", "StopContainer ", "Exec "} {
			if strings.HasPrefix(l, m) {
				out = append(out, l)
			}
		}
	}
	return out
}

// TestHooksRunAroundStartAndStop: post_start runs right after each start
// moor makes, before the container counts as up; pre_stop runs in the old
// container before it is stopped, in a rollout (either order) and in a
// removal, with the hooks the old container was created with.
func TestHooksRunAroundStartAndStop(t *testing.T) {
	v1 := func() *reconcile.Service { return hooked(svc("api", "app:1", 1, "V=1"), "mark started-1", "drain 1") }
	v2 := func() *reconcile.Service { return hooked(svc("api", "app:1", 1, "V=2"), "mark started-2", "drain 2") }
	stopFirst := func() *reconcile.Service {
		s := v2()
		s.Update.Order = reconcile.OrderStopFirst
		return s
	}
	tests := []struct {
		name   string
		before *reconcile.Desired // converged first; nil: an empty engine
		setup  func(f *runtime.Fake)
		after  *reconcile.Desired
		want   []string
	}{
		{"create", nil, nil, want("main@sha1:1", v1()), []string{
			"StartContainer web-api-1",
			"Exec web-api-1: mark started-1",
		}},
		{"replace start-first", want("main@sha1:1", v1()), nil, want("main@sha1:2", v2()), []string{
			"StartContainer web-api-1-candidate",
			"Exec web-api-1-candidate: mark started-2",
			"Exec web-api-1: drain 1",
			"StopContainer web-api-1",
		}},
		{"replace stop-first", want("main@sha1:1", v1()), nil, want("main@sha1:2", stopFirst()), []string{
			"Exec web-api-1: drain 1",
			"StopContainer web-api-1",
			"StartContainer web-api-1",
			"Exec web-api-1: mark started-2",
		}},
		{"start an exited one", want("main@sha1:1", v1()), func(f *runtime.Fake) { f.Exit("web-api-1", 1) }, want("main@sha1:1", v1()), []string{
			"StartContainer web-api-1",
			"Exec web-api-1: mark started-1",
		}},
		{"service removed from git", want("main@sha1:1", v1(), svc("db", "app:1", 1)), nil, want("main@sha1:2", svc("db", "app:1", 1)), []string{
			"Exec web-api-1: drain 1",
			"StopContainer web-api-1",
		}},
		{"remove a stopped one: nothing to run the hook in", want("main@sha1:1", v1(), svc("db", "app:1", 1)), func(f *runtime.Fake) { f.StopByHand("web-api-1") },
			want("main@sha1:2", svc("db", "app:1", 1)), []string{
				"StopContainer web-api-1",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			if tt.before != nil {
				converge(t, f, tt.before, 2)
			}
			if tt.setup != nil {
				tt.setup(f)
			}
			f.ResetCalls()
			res := applyOnce(t, executor(f), f, tt.after)
			if failed := res.Failed(); len(failed) > 0 {
				t.Fatalf("apply failed: %v", failed[0].Err)
			}
			if d := cmp.Diff(tt.want, lifecycle(f)); d != "" {
				t.Errorf("starts, stops and execs (-want +got):\n%s\njournal:\n%s", d, strings.Join(f.Journal(), "\n"))
			}
			converge(t, f, tt.after, 1) // and the next plan is empty
		})
	}
}

// TestFailingPostStartRollsBack: a new container whose post_start hook
// exits non-zero never counts as up: the replacement is undone and the old
// container runs again, and the error names the service, the hook, its
// exit code and its output.
func TestFailingPostStartRollsBack(t *testing.T) {
	for _, order := range []string{reconcile.OrderStartFirst, reconcile.OrderStopFirst} {
		t.Run(order, func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			f.ExecExits("migrate --check", 3, "schema is behind\n")
			converge(t, f, want("main@sha1:1", svc("api", "app:1", 1)), 2)
			obs, _ := f.Observe(context.Background())
			oldID := obs.Containers[0].ID

			bad := hooked(svc("api", "app:1", 1), "migrate --check", "")
			bad.Update.Order = order
			d := want("main@sha1:2", bad)
			p := reconcile.MakePlan(d, obs, reconcile.Constraints{})
			if !strings.Contains(p.String(), "replace web/api/1 (config changed: post_start)") {
				t.Errorf("the plan does not name the hook:\n%s", p)
			}
			res := executor(f).Apply(context.Background(), p)
			failed := res.Failed()
			if len(failed) != 1 {
				t.Fatalf("want one failed replace, got %+v", res.Ops)
			}
			for _, w := range []string{`service api: post_start[0] ["migrate","--check"] exited with code 3`, `hook said: "schema is behind"`, "old container restored"} {
				if !strings.Contains(failed[0].Err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, failed[0].Err)
				}
			}
			obs, _ = f.Observe(context.Background())
			if len(obs.Containers) != 1 || obs.Containers[0].ID != oldID || obs.Containers[0].Name != "web-api-1" || !obs.Containers[0].Running() {
				t.Fatalf("old container not back:\n%s", f)
			}
		})
	}
}

// TestFailingPreStopDoesNotBlock: a pre_stop hook that exits non-zero is
// reported on the op, and the container is stopped and removed all the
// same.
func TestFailingPreStopDoesNotBlock(t *testing.T) {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:1")
	f.ExecExits("drain", 1, "peer gone")
	converge(t, f, want("main@sha1:1", hooked(svc("api", "app:1", 1), "", "drain"), svc("db", "app:1", 1)), 2)
	res := applyOnce(t, executor(f), f, want("main@sha1:2", svc("db", "app:1", 1)))
	if failed := res.Failed(); len(failed) > 0 {
		t.Fatalf("apply failed: %v", failed[0].Err)
	}
	var warnings []string
	for _, r := range res.Ops {
		warnings = append(warnings, r.Warnings...)
	}
	if len(warnings) != 1 || warnings[0] != `pre_stop web-api-1 failed, going on: service api: pre_stop[0] ["drain"] exited with code 1 (hook said: "peer gone")` {
		t.Errorf("warnings %q, want the failed pre_stop", warnings)
	}
	if s := f.String(); strings.Contains(s, "web-api-1") {
		t.Errorf("web-api-1 is still there:\n%s", s)
	}
}

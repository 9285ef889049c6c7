package controller_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

// serviceState returns the state and reason moor status gives a service
// ("stack/service") now, read from the state dir against the engine.
func (h *harness) serviceState(key string) (string, string) {
	h.t.Helper()
	obs, err := h.fake.Observe(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	reports, err := controller.ReadReports(h.state, obs, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range reports {
		for _, s := range r.Services {
			if s.Stack+"/"+s.Service == key {
				return s.State, s.Reason
			}
		}
	}
	h.t.Fatalf("no service %s in the reports %+v", key, reports)
	return "", ""
}

// TestStatusWhileRollingOut: while an apply changes a service, moor status
// (another process: it reads the state dir) and the controller's own
// report say it is rolling out, to which revision; after it, in sync.
func TestStatusWhileRollingOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1", "other=app:1")})
	h.mustApply()
	rev := h.commit("v2", map[string]string{"web/compose.yaml": stack("app=app:2", "other=app:1")})
	var during, own, other string
	h.ctl.Executor.Step = func(op reconcile.Op, i int) {
		if during != "" || op.Kind != reconcile.OpReplace {
			return
		}
		state, reason := h.serviceState("web/app")
		during = state + " " + reason
		other, _ = h.serviceState("web/other")
		for _, s := range h.ctl.Report().Services {
			if s.Service == "app" {
				own = s.State
			}
		}
	}
	h.mustApply()
	if want := "rolling-out to " + short(rev); !strings.HasPrefix(during, want) {
		t.Errorf("during the apply web/app is %q, want %q…", during, want)
	}
	if own != controller.StateRollingOut {
		t.Errorf("the controller's own report says %q during the apply", own)
	}
	if other != controller.StateInSync {
		t.Errorf("web/other, which the apply does not change, is %q", other)
	}
	if state, _ := h.serviceState("web/app"); state != controller.StateInSync {
		t.Errorf("after the apply web/app is %s", state)
	}
	if _, err := os.Stat(filepath.Join(h.state, "sources", source, "rollout.json")); !os.IsNotExist(err) {
		t.Errorf("the rollout marker outlived the apply: %v", err)
	}
}

// TestStatusFromThePlanner: status says what the planner would do, so a
// job that finished is in sync and counted done, and an image whose tag
// moved (a pull behind moor's back) shows the service out of date.
func TestStatusFromThePlanner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1") +
		"  job:\n    image: app:1\n    restart: \"no\"\n"})
	h.mustApply()
	h.fake.Exit("web-job-1", 0)
	state, _ := h.serviceState("web/job")
	obs, _ := h.fake.Observe(t.Context())
	reports, _ := controller.ReadReports(h.state, obs, time.Now())
	for _, s := range reports[0].Services {
		if s.Service == "job" && (s.Up != 1 || state != controller.StateInSync) {
			t.Errorf("a finished job: %s %d/%d, want in-sync 1/1", state, s.Up, s.Replicas)
		}
	}
	h.fake.AddImage("app:1", "sha256:newer")
	state, reason := h.serviceState("web/app")
	if state != controller.StateDrifted || !strings.Contains(reason, "image app:1 updated") {
		t.Errorf("after the tag moved: %s %q, want drifted because the image was updated", state, reason)
	}
}

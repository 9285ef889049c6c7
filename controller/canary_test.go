package controller_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/forge/forgetest"
)

// fakePeer is a canary host's moor as its API answers for one stack: at
// a revision, with a health. It counts the requests.
type fakePeer struct {
	srv   *httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	// answer is the stack's revision, health and reason; before, when
	// set, runs first (the canary moves on while it is asked).
	rev, health, reason string
	before              func()
	// stack is the stack it reports: "web" unless set.
	stack string
}

func newFakePeer(t *testing.T) *fakePeer {
	p := &fakePeer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		if r.URL.Path != "/api/v1/sources/"+source+"/stacks" || r.Header.Get("Authorization") != "Bearer peer-secret" {
			http.Error(w, `{"version": 1, "error": {"code": "not_found", "message": "wrong request"}}`, http.StatusNotFound)
			return
		}
		p.mu.Lock()
		before := p.before
		p.before = nil
		p.mu.Unlock()
		if before != nil {
			before()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		name := p.stack
		if name == "" {
			name = "web"
		}
		json.NewEncoder(w).Encode(map[string]any{"version": 1, "source": source, "stacks": []map[string]any{
			{"name": name, "revision": p.rev, "health": p.health, "health_reason": p.reason, "services": []any{}},
			{"name": "zz", "revision": p.rev, "health": controller.HealthHealthy, "services": []any{}}}})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePeer) set(rev, health, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rev, p.health, p.reason = rev, health, reason
}

// canaryStack is a stack of one service app that names c1 its canary.
func canaryStack(image, extra string) string {
	return "x-moor:\n  canary:\n    hosts: [c1]\n" + extra + stack("app="+image)
}

// canaryHarness is a harness for host h1 whose stack web has canary c1,
// served by the fake peer.
func canaryHarness(t *testing.T, extra string) (*harness, *fakePeer) {
	peer := newFakePeer(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("peer-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, map[string]string{"web/compose.yaml": canaryStack("app:1", extra)}, func(s *config.Source) {
		s.Canary = config.Canary{Peers: map[string]string{"c1": peer.srv.URL}, TokenFile: token, Source: source}
	})
	h.ctl.Host = config.Host{Name: "h1"}
	return h, peer
}

// sha7 is a revision's commit as a canary's reason names it.
func sha7(rev string) string { return commitOf(rev)[:7] }

// TestCanaryHoldsAChange: on a host that is not a stack's canary, a new
// commit of the stack is held until the canary reports it healthy at that
// commit; plan and status say what it waits for, a failed canary holds it
// with the failure, and an unchanged poll asks the canary nothing.
func TestCanaryHoldsAChange(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	rev1 := h.rev

	// The first deploy waits for the canary too: it is there already.
	peer.set(rev1, controller.HealthHealthy, "")
	h.mustApply()
	if got := peer.calls.Load(); got != 1 {
		t.Fatalf("the first deploy asked the canary %d times, want 1", got)
	}
	// The host is at the applied revision: no poll asks the canary.
	for range 3 {
		if _, err := h.ctl.Poll(t.Context(), false); err != nil {
			t.Fatal(err)
		}
	}
	h.mustApply() // observes the engine: a plan, empty
	if got := peer.calls.Load(); got != 1 {
		t.Fatalf("polls of an unchanged source asked the canary: %d calls, want 1", got)
	}
	// A repair of the applied revision does not wait.
	h.fake.StopByHand("web-app-1")
	h.mustApply()
	if got := peer.calls.Load(); got != 1 {
		t.Fatalf("a drift repair asked the canary: %d calls, want 1", got)
	}

	rev2 := h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	hold := func(why string) {
		t.Helper()
		out, err := h.apply()
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		want := "hold pull app:2 (not present, wanted by web/app): " + why + "\n" +
			"hold sync-files web/files (tracked files changed): " + why + "\n" +
			"hold replace web/app/1 (config changed: image) [start-first, batch 1/1, rollback on failure]: " + why + "\n"
		if got := out.Remaining.String(); got != want {
			t.Fatalf("plan:\n got %s\nwant %s", got, want)
		}
		if img := h.container("web-app-1").Image; img != "app:1" {
			t.Fatalf("web-app-1 runs %s while its change waits for the canary", img)
		}
		st := h.status()
		if st.Result != controller.ResultWaiting || st.Canary["web"] != why {
			t.Fatalf("status %s, canary %q; want waiting: %s", st.Result, st.Canary, why)
		}
		if state, reason := h.serviceState("web/app"); state != controller.StateWaiting || !strings.HasPrefix(reason, why) {
			t.Fatalf("web/app is %s (%s), want waiting: %s", state, reason, why)
		}
	}
	head := "waiting for canary c1 at " + sha7(rev2)
	// The canary has not moved: rev1 is no descendant of rev2.
	hold(head + " (c1 is at " + sha7(rev1) + ", healthy)")
	peer.set(rev1, controller.HealthPending, "applying main@"+sha7(rev2))
	hold(head + " (c1 is at " + sha7(rev1) + ", pending: applying main@" + sha7(rev2) + ")")
	peer.set(rev2, controller.HealthFailed, "service web/app: health check failed")
	hold(head + ": c1 failed at it (service web/app: health check failed); held until a new commit")

	// Healthy at the commit: applied.
	peer.set(rev2, controller.HealthHealthy, "")
	h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" {
		t.Fatalf("web-app-1 runs %s once the canary is healthy, want app:2", img)
	}
	if st := h.status(); st.Result != controller.ResultSuccess || st.Canary != nil {
		t.Fatalf("status %s, canary %q; want a success", st.Result, st.Canary)
	}
}

// TestCanaryDescendantCounts: a canary healthy at a later commit of the
// branch vouches for the commit this host applies.
func TestCanaryDescendantCounts(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	peer.set(h.rev, controller.HealthHealthy, "")
	h.mustApply()
	h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	// While this host is asking, the branch moves on and the canary with it.
	peer.mu.Lock()
	peer.before = func() {
		rev3 := h.commit("notes", map[string]string{"NOTES": "later\n"})
		peer.set(rev3, controller.HealthHealthy, "")
	}
	peer.mu.Unlock()
	h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" {
		t.Fatalf("web-app-1 runs %s with the canary healthy at a descendant, want app:2", img)
	}
}

// TestCanaryUnknownAndTimeout: a canary that does not answer holds the
// change; after x-moor.canary.timeout the reason says the wait is over,
// and still nothing is applied.
func TestCanaryUnknownAndTimeout(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "    timeout: 30m\n")
	peer.set(h.rev, controller.HealthHealthy, "")
	h.mustApply()
	rev2 := h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "    timeout: 30m\n")})
	peer.srv.Close()
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	controller.SetNow(h.ctl, func() time.Time { return now })
	out, err := h.apply()
	if err != nil {
		t.Fatal(err)
	}
	head := "waiting for canary c1 at " + sha7(rev2) + " (c1 unknown: "
	if w := out.Remaining.Waits["web"]; !strings.HasPrefix(w, head) {
		t.Fatalf("reason %q, want %q...", w, head)
	}
	now = now.Add(31 * time.Minute)
	out, err = h.apply()
	if err != nil {
		t.Fatal(err)
	}
	want := "canary timeout (30m0s) passed at 2030-01-01T10:30:00Z, not applied: " + head
	if w := out.Remaining.Waits["web"]; !strings.HasPrefix(w, want) {
		t.Fatalf("reason %q, want %q...", w, want)
	}
	if img := h.container("web-app-1").Image; img != "app:1" {
		t.Fatalf("web-app-1 runs %s after the canary timeout, want app:1", img)
	}
}

// TestCanaryHostDeploysAtOnce: on a canary host itself, nothing waits and
// no peer is asked.
func TestCanaryHostDeploysAtOnce(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	h.ctl.Host = config.Host{Name: "c1"}
	h.mustApply()
	h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" || peer.calls.Load() != 0 {
		t.Fatalf("the canary runs %s after %d peer calls; want app:2 and none", img, peer.calls.Load())
	}
}

// TestCanaryWholeSource: a canary host that does not run the stack
// vouches for it with every stack it runs of the source.
func TestCanaryWholeSource(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	peer.mu.Lock()
	peer.stack = "edge"
	peer.mu.Unlock()
	peer.set(h.rev, controller.HealthHealthy, "")
	h.mustApply()
	rev2 := h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	peer.set(rev2, controller.HealthFailed, "service edge/proxy: new container is unhealthy")
	out, err := h.apply()
	if err != nil {
		t.Fatal(err)
	}
	want := "waiting for canary c1 at " + sha7(rev2) + ": c1 failed at it (stack edge: service edge/proxy: new container is unhealthy); held until a new commit"
	if w := out.Remaining.Waits["web"]; w != want {
		t.Fatalf("reason:\n got %s\nwant %s", w, want)
	}
	peer.set(rev2, controller.HealthHealthy, "")
	h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" {
		t.Fatalf("web-app-1 runs %s once the canary's source is healthy, want app:2", img)
	}
}

// TestCanaryFromForge: with canary.forge, a canary host that has no peer
// address is read from the commit statuses it posted (moor/HOST).
func TestCanaryFromForge(t *testing.T) {
	t.Parallel()
	fake := forgetest.New(t, "gitea", "ops/deploy", "forge-token")
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(fake.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, map[string]string{"web/compose.yaml": canaryStack("app:1", "")}, func(s *config.Source) {
		s.CommitStatus = config.CommitStatus{Provider: "gitea", APIURL: fake.URL, Repository: "ops/deploy", TokenFile: token}
		s.Canary = config.Canary{Forge: true, Source: source}
	})
	h.ctl.Host = config.Host{Name: "h1"}
	fake.Seed(forgetest.Call{Commit: commitOf(h.rev), State: "success", Context: "moor/c1", Description: "deployed"})
	h.mustApply()

	rev2 := h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	head := "waiting for canary c1 at " + sha7(rev2)
	for _, tt := range []struct{ state, description, why string }{
		{"", "", head + " (c1 unknown: no status moor/c1 on " + sha7(rev2) + " in the forge)"},
		{"pending", "rolling out web/app", head + " (c1 is at " + sha7(rev2) + ", pending: rolling out web/app)"},
		{"failure", "rolled back: replace web/app/1", head + ": c1 failed at it (rolled back: replace web/app/1); held until a new commit"},
	} {
		if tt.state != "" {
			fake.Seed(forgetest.Call{Commit: commitOf(rev2), State: tt.state, Context: "moor/c1", Description: tt.description})
		}
		out, err := h.apply()
		if err != nil {
			t.Fatal(err)
		}
		if w := out.Remaining.Waits["web"]; w != tt.why {
			t.Fatalf("canary %s: reason\n got %s\nwant %s", tt.state, w, tt.why)
		}
	}
	fake.Seed(forgetest.Call{Commit: commitOf(rev2), State: "success", Context: "moor/c1", Description: "deployed"})
	h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" {
		t.Fatalf("web-app-1 runs %s once c1 posted success, want app:2", img)
	}
}

// TestCanaryIgnoredByOperator: `moor apply --ignore-canary` applies a
// change that waits for its canary hosts, and the ledger records it.
func TestCanaryIgnoredByOperator(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	peer.set(h.rev, controller.HealthHealthy, "")
	h.mustApply()
	h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	if out, err := h.apply(); err != nil || len(out.Remaining.Waiting) == 0 {
		t.Fatalf("the change did not wait for the canary: %v", err)
	}
	h.ctl.IgnoreCanary = true
	out := h.mustApply()
	if img := h.container("web-app-1").Image; img != "app:2" || len(out.Overrides) != 1 || out.Overrides[0] != controller.OverrideCanary {
		t.Fatalf("web-app-1 runs %s, overrides %q; want app:2 past the canary", img, out.Overrides)
	}
	recs := h.records()
	if last := recs[len(recs)-1]; len(last.Overrides) != 1 || last.Overrides[0] != controller.OverrideCanary {
		t.Errorf("the ledger's overrides: %q, want [canary]", last.Overrides)
	}
}

// TestCanaryRepairGoesAhead: while a change of one stack waits for its
// canary, a stopped container of another canary stack, which the commit
// does not change, is started again.
func TestCanaryRepairGoesAhead(t *testing.T) {
	t.Parallel()
	h, peer := canaryHarness(t, "")
	rev1 := h.commit("api", map[string]string{"api/compose.yaml": "x-moor:\n  canary:\n    hosts: [c1]\n" + stack("srv=db:1")})
	peer.set(rev1, controller.HealthHealthy, "")
	h.mustApply()
	h.commit("app 2", map[string]string{"web/compose.yaml": canaryStack("app:2", "")})
	h.fake.StopByHand("api-srv-1")
	out, err := h.apply()
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Remaining.Waiting) == 0 || out.Remaining.Waits["api"] != "" {
		t.Fatalf("plan after the apply:\n%s\nwant web held, api repaired", out.Remaining)
	}
	if c := h.container("api-srv-1"); c.State != "running" {
		t.Fatalf("api-srv-1 is %s while web waits for its canary, want running", c.State)
	}
}

package controller_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// The tests of this package run the whole pipeline: a real git repository
// (testkit.Repo, read by the controller straight from its working tree's
// .git), the in-memory engine (runtime.Fake, behind a wrapper that counts
// and can hold calls), a temp state dir and a real ledger.

const source = "test"

// harness is one source under test.
type harness struct {
	t      *testing.T
	repo   *testkit.Repo
	fake   *runtime.Fake
	rt     *gatedRuntime
	state  string
	ledger *ledger.Ledger
	src    config.Source
	rev    string // the revision of the first commit
	reg    *prometheus.Registry
	ctl    *controller.Controller
}

// newHarness makes a repository whose first commit holds files (path ->
// content), an engine with the images app:1, app:2, db:1 and db:2
// published, and a controller for the repository's main branch.
func newHarness(t *testing.T, files map[string]string, opts ...func(*config.Source)) *harness {
	t.Helper()
	h := &harness{t: t, repo: testkit.NewRepo(t), fake: runtime.NewFake(), state: t.TempDir()}
	for _, img := range []string{"app:1", "app:2", "db:1", "db:2"} {
		h.fake.Publish(img, "sha256:"+strings.ReplaceAll(img, ":", "-"))
	}
	h.rt = &gatedRuntime{Fake: h.fake}
	h.rev = h.commit("initial", files)
	l, err := ledger.Open(filepath.Join(h.state, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h.ledger = l
	h.src = config.Source{Name: source, Repo: h.repo.Dir, Ref: "main"}
	for _, o := range opts {
		o(&h.src)
	}
	h.ctl = h.newController()
	return h
}

// newController builds a controller on the harness's state dir, as a
// restarted moor would.
func (h *harness) newController() *controller.Controller {
	ctl := controller.New(h.src, h.state, h.rt, h.ledger, zap.NewNop())
	// Monitor periods and polls pass at once on the executor's clock.
	ctl.Executor.Clock = fakeclock.NewAuto()
	h.reg = prometheus.NewRegistry()
	ctl.Metrics = controller.NewMetrics(h.reg)
	return ctl
}

// commit writes files (an empty content removes the path) and commits
// them; it returns the new revision as moor writes it.
func (h *harness) commit(msg string, files map[string]string) string {
	h.t.Helper()
	for path, content := range files {
		if content == "" {
			h.repo.Remove(path)
		} else {
			h.repo.Write(path, content)
		}
	}
	return "main@sha1:" + h.repo.Commit(msg)
}

// apply runs the pipeline once.
func (h *harness) apply() (*controller.Outcome, error) {
	h.t.Helper()
	return h.ctl.Apply(h.t.Context())
}

// mustApply runs the pipeline once and fails the test unless the host
// matches the revision afterwards.
func (h *harness) mustApply() *controller.Outcome {
	h.t.Helper()
	out, err := h.apply()
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	if !out.Remaining.Empty() {
		h.t.Fatalf("apply left a plan:\n%s", out.Remaining)
	}
	return out
}

func (h *harness) status() *controller.Status {
	h.t.Helper()
	st, err := controller.ReadStatus(h.state, source)
	if err != nil {
		h.t.Fatalf("read status: %v", err)
	}
	return st
}

// desiredHash is the config hash the current revision wants for a
// service ("stack/service"), from the plan of the revision.
func (h *harness) desiredHash(key string) string {
	h.t.Helper()
	out, err := h.ctl.Plan(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	svc := out.Desired.Service(key)
	if svc == nil {
		h.t.Fatalf("the revision has no service %s", key)
	}
	return svc.Hash
}

func (h *harness) records() []ledger.Record {
	h.t.Helper()
	recs, corrupt, err := ledger.Read(h.ledger.Path())
	if err != nil || len(corrupt) > 0 {
		h.t.Fatalf("read ledger: %v %v", corrupt, err)
	}
	return recs
}

// calls returns how many times the engine's method was called.
func (h *harness) calls(method string) int { return h.fake.Calls()[method] }

// container returns the managed container named name as the engine shows
// it, or fails the test.
func (h *harness) container(name string) reconcile.Container {
	h.t.Helper()
	obs, err := h.fake.Observe(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range obs.Containers {
		if c.Name == name {
			return c
		}
	}
	h.t.Fatalf("no container %s; the engine has:\n%s", name, h.fake)
	return reconcile.Container{}
}

// runs is how many runs the controller's metrics counted, by result, and
// in all under "".
func (h *harness) runs() map[string]int {
	out := h.byResult("moor_runs_total")
	total := 0
	for _, n := range out {
		total += n
	}
	out[""] = total
	return out
}

// byResult is the counter name of the controller's metrics, summed by its
// label result.
func (h *harness) byResult(name string) map[string]int {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" {
					out[lp.GetValue()] += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// snapshots lists the commits whose snapshot is under
// STATE/sources/NAME/snapshots, with their metadata files apart.
func (h *harness) snapshots() (dirs, metas []string) {
	h.t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.state, "sources", source, "snapshots"))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			metas = append(metas, name)
		} else {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, metas
}

// stack is a compose file with one long-running service per name=image
// pair.
func stack(services ...string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, s := range services {
		name, image, _ := strings.Cut(s, "=")
		fmt.Fprintf(&b, "  %s:\n    image: %s\n    restart: unless-stopped\n", name, image)
	}
	return b.String()
}

// healthchecked is a compose file with one service app of image, with a
// healthcheck.
func healthchecked(image string) string {
	return fmt.Sprintf(`services:
  app:
    image: %s
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "/check"]
      interval: 1s
      retries: 1
`, image)
}

// commitOf returns the commit of a revision "main@sha1:<hex>".
func commitOf(rev string) string {
	_, sha, _ := strings.Cut(rev, "@sha1:")
	return sha
}

// short is a revision as moor's status shows it: main@<7 hex>.
func short(rev string) string { return "main@" + commitOf(rev)[:7] }

func sorted(s ...string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// gatedRuntime is the fake engine with a gate on Observe: while the gate
// is closed, Observe reports that it was entered and waits for it to open.
type gatedRuntime struct {
	*runtime.Fake
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{}
}

func (g *gatedRuntime) Observe(ctx context.Context) (*reconcile.Observed, error) {
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Fake.Observe(ctx)
}

// hold closes the gate; the returned channel receives when a run is held
// at it, and release opens it again.
func (g *gatedRuntime) hold() (entered <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.entered = make(chan struct{}), make(chan struct{}, 1)
	gate := g.gate
	return g.entered, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		close(gate)
		g.gate = nil
	}
}

// TestErrorsKeepTheirKind: what went wrong survives every wrapping up to
// the run's error, with its class: a compose field moor does not support,
// and an engine that does not answer.
func TestErrorsKeepTheirKind(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{
		"web/compose.yaml": stack("app=app:1"),
		"bad/compose.yaml": stack("app=app:1") + "    use_api_socket: true\n",
	})
	_, err := h.apply()
	if !errors.Is(err, compose.ErrUnsupported) || fault.Of(err) != fault.Refused {
		t.Errorf("a broken stack: %v (class %s), want compose.ErrUnsupported, refused", err, fault.Of(err))
	}
	if c := h.container("web-app-1"); !c.Running() {
		t.Errorf("the stack that loads did not run: %+v", c)
	}
	down := fault.Mark(fault.ErrEngineUnavailable, errors.New("connection refused"))
	h.fake.FailAlways("Observe", "*", down)
	_, err = h.apply()
	if !errors.Is(err, down) || fault.Of(err) != fault.EngineUnavailable {
		t.Errorf("engine down: %v (class %s), want the engine's error, engine-unavailable", err, fault.Of(err))
	}
	if st := h.status(); st.ErrorClass != string(fault.EngineUnavailable) {
		t.Errorf("status class %q", st.ErrorClass)
	}
}

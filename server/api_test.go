package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/apispec"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/server"
)

const apiToken = "0123456789abcdef0123456789abcdef"

// actions is the controller as the API's actions see it, as cmd/moor
// adapts it, with Suspend and Resume recorded (or refused with err).
type actions struct {
	*controller.Controller
	mu       sync.Mutex
	calls    []string
	err      error
	triggers int
}

func (a *actions) Trigger() {
	a.mu.Lock()
	a.triggers++
	a.mu.Unlock()
	a.Controller.Trigger()
}

func (a *actions) Suspend(stack, by string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "suspend "+stack+" by "+by)
	return a.err
}

func (a *actions) Resume(stack string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "resume "+stack)
	return a.err
}

// apiHarness is one source, "prod", on a fake engine, with a ledger, served
// as moor run serves it.
type apiHarness struct {
	t      *testing.T
	repo   *testkit.Repo
	fake   *runtime.Fake
	ctl    *controller.Controller
	ledger *ledger.Ledger
	acts   *actions
	spec   *apispec.Spec
	h      http.Handler
}

// newAPI builds the harness with compose as web/compose.yaml, not applied
// yet, served on addr with the token file when withToken. rt wraps the
// fake engine when not nil.
func newAPI(t *testing.T, addr string, withToken bool, compose string, rt func(*runtime.Fake) reconcile.Runtime, opts ...func(*config.Source)) *apiHarness {
	t.Helper()
	a := &apiHarness{t: t, repo: testkit.NewRepo(t), fake: runtime.NewFake()}
	a.repo.Write("web/compose.yaml", compose)
	a.repo.Commit("v1")
	for _, img := range []string{"app:1", "app:2"} {
		a.fake.Publish(img, "sha256:"+strings.ReplaceAll(img, ":", "-"))
	}
	state := t.TempDir()
	l, err := ledger.Open(filepath.Join(state, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a.ledger = l
	var engine reconcile.Runtime = a.fake
	if rt != nil {
		engine = rt(a.fake)
	}
	src := config.Source{Name: "prod", Repo: a.repo.Dir, Ref: "main"}
	for _, o := range opts {
		o(&src)
	}
	a.ctl = controller.New(src, state, engine, l, nil)
	a.ctl.Executor.Clock = fakeclock.NewAuto()
	a.acts = &actions{Controller: a.ctl}
	cfg := server.Config{Addr: addr, Sources: []*controller.Controller{a.ctl}, Metrics: prometheus.NewRegistry(),
		Actions: func(*controller.Controller) server.Actions { return a.acts }}
	if withToken {
		cfg.TokenFile = filepath.Join(t.TempDir(), "token")
		os.WriteFile(cfg.TokenFile, []byte(apiToken+"\n"), 0o600)
	}
	if a.h, err = server.Handler(cfg); err != nil {
		t.Fatal(err)
	}
	if a.spec, err = apispec.Load("../docs/openapi.yaml"); err != nil {
		t.Fatal(err)
	}
	return a
}

const twoReplicas = "services:\n  app:\n    image: app:1\n    restart: always\n    deploy:\n      replicas: 2\n"

// do sends a request with auth as its Authorization header ("" none),
// checks that the answer is JSON of version 1 that validates against
// docs/openapi.yaml, and returns its status and decoded body.
func (a *apiHarness) do(method, target, auth string) (int, map[string]any) {
	a.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	body := w.Body.Bytes()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		a.t.Fatalf("%s %s: Content-Type %q, want application/json: %s", method, target, ct, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		a.t.Fatalf("%s %s: %v: %s", method, target, err, body)
	}
	if doc["version"] != float64(1) {
		a.t.Errorf("%s %s: version %v, want 1: %s", method, target, doc["version"], body)
	}
	if err := a.spec.Check(method, r.URL.Path, w.Code, body); err != nil {
		a.t.Errorf("%v\n%s", err, body)
	}
	return w.Code, doc
}

// get is do for a GET that must answer 200.
func (a *apiHarness) get(target, auth string) map[string]any {
	a.t.Helper()
	code, doc := a.do(http.MethodGet, target, auth)
	if code != http.StatusOK {
		a.t.Fatalf("GET %s: %d %v", target, code, doc)
	}
	return doc
}

func (a *apiHarness) apply() error {
	_, err := a.ctl.Apply(a.t.Context())
	return err
}

// list is doc[key] as a list of objects.
func list(t *testing.T, doc map[string]any, key string) []map[string]any {
	t.Helper()
	l, ok := doc[key].([]any)
	if !ok {
		t.Fatalf("%s is %T, want a list: %v", key, doc[key], doc)
	}
	var out []map[string]any
	for _, e := range l {
		out = append(out, e.(map[string]any))
	}
	return out
}

// TestAPIReads: after a run, every read endpoint shows the source, its
// stack, services and containers (with revision and health), and an empty
// plan at the revision; each answer validates against docs/openapi.yaml.
func TestAPIReads(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	rev := a.ctl.Report().Revision

	srcs := list(t, a.get("/api/v1/sources", ""), "sources")
	if len(srcs) != 1 || srcs[0]["name"] != "prod" || srcs[0]["ref"] != "main" {
		t.Fatalf("sources: %v", srcs)
	}
	st := srcs[0]["status"].(map[string]any)
	if st["revision"] != rev || st["applied"] != rev || st["result"] != "success" {
		t.Errorf("source status: %v, want revision and applied %s, success", st, rev)
	}
	if one := a.get("/api/v1/sources/prod", "")["source"].(map[string]any); one["name"] != "prod" || one["status"].(map[string]any)["revision"] != rev {
		t.Errorf("/sources/prod: %v", one)
	}

	stacks := list(t, a.get("/api/v1/sources/prod/stacks", ""), "stacks")
	if len(stacks) != 1 || stacks[0]["name"] != "web" {
		t.Fatalf("stacks: %v", stacks)
	}
	stack := a.get("/api/v1/sources/prod/stacks/web", "")["stack"].(map[string]any)
	svcs := list(t, stack, "services")
	if len(svcs) != 1 || svcs[0]["service"] != "app" || svcs[0]["state"] != controller.StateInSync || svcs[0]["up"] != float64(2) || svcs[0]["replicas"] != float64(2) {
		t.Fatalf("stack web: %v", stack)
	}
	if svcs := list(t, a.get("/api/v1/sources/prod/services", ""), "services"); len(svcs) != 1 || len(list(t, svcs[0], "containers")) != 2 {
		t.Errorf("services: %v", svcs)
	}

	cs := list(t, a.get("/api/v1/sources/prod/containers", ""), "containers")
	var names []string
	for _, c := range cs {
		names = append(names, c["name"].(string))
		if c["stack"] != "web" || c["service"] != "app" || c["revision"] != rev || c["state"] != "running" || c["in_sync"] != true || c["image"] != "app:1" {
			t.Errorf("container: %v, want web/app running at %s, in sync", c, rev)
		}
	}
	if !slices.Equal(names, []string{"web-app-1", "web-app-2"}) {
		t.Errorf("containers %v, want web-app-1 and web-app-2", names)
	}

	doc := a.get("/api/v1/sources/prod/plan", "")
	plan := doc["plan"].(map[string]any)
	if plan["revision"] != rev || len(plan["ops"].([]any)) != 0 || doc["as_of"] == nil {
		t.Errorf("plan of a converged host: %v, want no ops at %s, as of the last run", doc, rev)
	}

	recs := list(t, a.get("/api/v1/ledger", ""), "records")
	if len(recs) != 1 || recs[0]["revision"] != rev || recs[0]["result"] != "success" || recs[0]["source"] != "prod" {
		t.Errorf("ledger: %v", recs)
	}
}

// TestAPIPlanHasCauses: the plan is the one the source's next run would
// carry out, each op with its cause, as moor plan --json prints it: here,
// drift that the source only reports.
func TestAPIPlanHasCauses(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", false, twoReplicas, nil, func(s *config.Source) { s.Drift = config.DriftReport })
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	a.fake.StopByHand("web-app-2")
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	doc := a.get("/api/v1/sources/prod/plan", "")
	drift := list(t, doc["plan"].(map[string]any), "drift")
	if len(drift) != 1 || drift[0]["resource"] != "web/app/2" || drift[0]["kind"] != "start" || !strings.HasPrefix(drift[0]["cause"].(string), "exited") {
		t.Fatalf("plan after a container stopped by hand: %v, want web/app/2 to start, for it exited", doc["plan"])
	}
	out, err := a.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(reconcile.NewPlanJSON(out.Plan))
	got, _ := json.Marshal(doc["plan"])
	var wantDoc, gotDoc any
	json.Unmarshal(want, &wantDoc)
	json.Unmarshal(got, &gotDoc)
	if diff := cmp.Diff(wantDoc, gotDoc); diff != "" {
		t.Errorf("the API's plan is not the one moor plan --json prints (-plan +API):\n%s", diff)
	}
}

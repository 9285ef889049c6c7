package server_test

import (
	"encoding/json"
	"errors"
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
	// What the other hosts of a fleet read of a canary host.
	if stacks[0]["revision"] != rev || stacks[0]["health"] != controller.HealthHealthy || stacks[0]["health_reason"] != nil {
		t.Errorf("stack web: revision %v, health %v (%v); want %s, healthy", stacks[0]["revision"], stacks[0]["health"], stacks[0]["health_reason"], rev)
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

	// The reads are served from the last run: they ask the engine nothing.
	a.fake.ResetCalls()
	for range 10 {
		for _, op := range a.spec.Operations() {
			if method, path, _ := strings.Cut(op, " "); method == "GET" {
				a.get(strings.NewReplacer("{source}", "prod", "{stack}", "web").Replace(path), "")
			}
		}
	}
	if calls := a.fake.Calls(); len(calls) != 0 {
		t.Errorf("reads of the API called the engine: %v", calls)
	}
}

// TestAPIBeforeFirstRun: a source that has not run yet is listed, with no
// status, stacks, services, containers or plan; its stacks are unknown.
func TestAPIBeforeFirstRun(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	srcs := list(t, a.get("/api/v1/sources", ""), "sources")
	if len(srcs) != 1 || srcs[0]["name"] != "prod" || srcs[0]["status"] != nil {
		t.Errorf("sources before the first run: %v", srcs)
	}
	for _, key := range []string{"stacks", "services", "containers"} {
		if l := list(t, a.get("/api/v1/sources/prod/"+key, ""), key); len(l) != 0 {
			t.Errorf("%s before the first run: %v", key, l)
		}
	}
	if doc := a.get("/api/v1/sources/prod/plan", ""); doc["plan"] != nil {
		t.Errorf("plan before the first run: %v", doc)
	}
	if code, _ := a.do("GET", "/api/v1/sources/prod/stacks/web", ""); code != 404 {
		t.Errorf("a stack before the first run: %d, want 404", code)
	}
	if recs := list(t, a.get("/api/v1/ledger", ""), "records"); len(recs) != 0 {
		t.Errorf("ledger before the first run: %v", recs)
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

// TestAPIAuth: on a loopback address reads are open and actions need the
// token; on any other address both need it; without a token file actions
// (and reads off loopback) are refused with 403 saying why; a missing,
// wrong or malformed token is 401. Every refusal is JSON, and the action
// was not taken.
func TestAPIAuth(t *testing.T) {
	const (
		read   = "GET /api/v1/sources/prod/services"
		action = "POST /api/v1/sources/prod/sync"
	)
	wrong := []string{"Bearer " + apiToken[1:], "Bearer " + apiToken + "0", "Bearer " + strings.Repeat("0", len(apiToken)), "Basic " + apiToken, "Bearer", apiToken}
	for _, tc := range []struct {
		name      string
		addr      string
		withToken bool
		want      map[string]map[string]int // request -> auth -> status ("wrong": each of wrong)
	}{
		{"loopback, token", "127.0.0.1:9100", true, map[string]map[string]int{
			read:   {"": 200, "right": 200, "wrong": 401},
			action: {"": 401, "right": 202, "wrong": 401},
		}},
		{"localhost, token", "localhost:9100", true, map[string]map[string]int{
			read: {"": 200}, action: {"": 401, "right": 202},
		}},
		{"IPv6 loopback, no token", "[::1]:9100", false, map[string]map[string]int{
			read:   {"": 200, "right": 401},
			action: {"": 403, "right": 403},
		}},
		{"every address, token", ":9100", true, map[string]map[string]int{
			read:   {"": 401, "right": 200, "wrong": 401},
			action: {"": 401, "right": 202, "wrong": 401},
		}},
		{"a public address, no token", "192.0.2.1:9100", false, map[string]map[string]int{
			read:   {"": 403, "right": 403},
			action: {"": 403, "right": 403},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, tc.addr, tc.withToken, twoReplicas, nil)
			if err := a.apply(); err != nil {
				t.Fatal(err)
			}
			for req, byAuth := range tc.want {
				method, target, _ := strings.Cut(req, " ")
				for auth, want := range byAuth {
					headers := []string{auth}
					switch auth {
					case "right":
						headers = []string{"Bearer " + apiToken, "bearer  " + apiToken + " "}
					case "wrong":
						headers = wrong
					}
					for _, h := range headers {
						before := a.acts.triggers
						code, doc := a.do(method, target, h)
						if code != want {
							t.Errorf("%s with Authorization %q: %d %v, want %d", req, h, code, doc, want)
						}
						if code >= 400 {
							e, _ := doc["error"].(map[string]any)
							if e == nil || e["message"] == "" || strings.Contains(e["message"].(string), apiToken) {
								t.Errorf("%s with Authorization %q: error %v, want a message without the token", req, h, doc)
							}
							if code == 403 && !strings.Contains(e["message"].(string), "api.token_file") {
								t.Errorf("%s: 403 %q does not say what to configure", req, e["message"])
							}
							if a.acts.triggers != before {
								t.Errorf("%s with Authorization %q was refused, yet triggered a run", req, h)
							}
						}
						if method == "POST" && code == 202 && a.acts.triggers != before+1 {
							t.Errorf("%s was accepted, yet triggered no run", req)
						}
					}
				}
			}
		})
	}
}

// TestAPINotFound: an unknown source or stack is 404 on every route that
// names one, an unknown path under /api/v1/ is 404 and a known one with
// another method 405, all in JSON; no action is taken.
func TestAPINotFound(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + apiToken
	for _, op := range a.spec.Operations() {
		method, path, _ := strings.Cut(op, " ")
		if !strings.Contains(path, "{source}") {
			continue
		}
		for _, target := range []string{
			strings.NewReplacer("{source}", "staging", "{stack}", "web").Replace(path),
			strings.NewReplacer("{source}", "prod", "{stack}", "db").Replace(path),
		} {
			if target == strings.ReplaceAll(path, "{source}", "prod") {
				continue // names no stack
			}
			code, doc := a.do(method, target, auth)
			if e, _ := doc["error"].(map[string]any); code != 404 || e["code"] != "not_found" {
				t.Errorf("%s %s: %d %v, want 404 not_found", method, target, code, doc)
			}
		}
	}
	if len(a.acts.calls) != 0 || a.acts.triggers != 0 {
		t.Errorf("requests for unknown sources and stacks acted: %v, %d triggers", a.acts.calls, a.acts.triggers)
	}
	for _, tc := range []struct {
		method, target string
		want           int
		allow          string
	}{
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/", 404, ""},
		{"GET", "/api/v1/sources/prod/stacks/web/services", 404, ""},
		{"POST", "/api/v1/sources", 405, "GET"},
		{"DELETE", "/api/v1/sources/prod", 405, "GET"},
		{"GET", "/api/v1/sources/prod/sync", 405, "POST"},
		{"PUT", "/api/v1/sources/prod/stacks/web/suspend", 405, "POST"},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		var doc struct {
			Version int
			Error   struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != tc.want || doc.Version != 1 || doc.Error.Message == "" {
			t.Errorf("%s %s: %d %s, want %d in JSON", tc.method, tc.target, w.Code, w.Body, tc.want)
		}
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.target, got, tc.allow)
		}
	}
	if a.acts.triggers != 0 {
		t.Errorf("a GET of an action triggered a run")
	}
}

// TestAPILedgerPaging: the ledger comes newest first, ?limit= records at
// a time; next_before leads to the next page and is absent on the last;
// ?source= and ?stack= filter; a bad query is 400.
func TestAPILedgerPaging(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	for i, rec := range []ledger.Record{
		{Source: "prod", Stacks: []string{"web"}}, {Source: "prod", Stacks: []string{"db"}},
		{Source: "old", Stacks: []string{"web"}}, {Source: "prod", Stacks: []string{"web", "db"}},
		{Source: "prod", Broken: map[string]string{"web": "bad"}}, {Source: "prod", Stacks: []string{"db"}},
		{Source: "prod", Stacks: []string{"web"}},
	} {
		rec.Revision, rec.Result = "main@sha1:"+strings.Repeat(string(rune('a'+i)), 40), "success"
		if err := a.ledger.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	page := func(query string) ([]int, any) {
		t.Helper()
		doc := a.get("/api/v1/ledger"+query, "")
		var seqs []int
		for _, r := range list(t, doc, "records") {
			seqs = append(seqs, int(r["seq"].(float64)))
		}
		return seqs, doc["next_before"]
	}
	for _, tc := range []struct {
		query string
		seqs  []int
		next  any
	}{
		{"", []int{7, 6, 5, 4, 3, 2, 1}, nil},
		{"?limit=3", []int{7, 6, 5}, float64(5)},
		{"?limit=3&before=5", []int{4, 3, 2}, float64(2)},
		{"?limit=3&before=2", []int{1}, nil},
		{"?limit=7", []int{7, 6, 5, 4, 3, 2, 1}, nil},
		{"?limit=6", []int{7, 6, 5, 4, 3, 2}, float64(2)},
		{"?before=1", nil, nil},
		{"?source=prod&limit=4", []int{7, 6, 5, 4}, float64(4)},
		{"?source=prod&before=4", []int{2, 1}, nil},
		{"?stack=web", []int{7, 5, 4, 3, 1}, nil},
		{"?stack=web&source=prod&limit=2&before=7", []int{5, 4}, float64(4)},
	} {
		seqs, next := page(tc.query)
		if !slices.Equal(seqs, tc.seqs) || next != tc.next {
			t.Errorf("ledger%s: seqs %v, next_before %v; want %v, %v", tc.query, seqs, next, tc.seqs, tc.next)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=x", "?before=0", "?before=-1", "?before=x"} {
		if code, doc := a.do("GET", "/api/v1/ledger"+q, ""); code != 400 || doc["error"].(map[string]any)["code"] != "bad_request" {
			t.Errorf("ledger%s: %d %v, want 400", q, code, doc)
		}
	}
	if code, _ := a.do("GET", "/api/v1/ledger?source=old", ""); code != 404 {
		t.Errorf("ledger of a source not configured: %d, want 404", code)
	}
}

// TestAPIActions: sync triggers a run; retry is 409 while nothing is held
// and, after a failed rollout, has the next run retry the held service;
// suspend and resume reach the source's Actions for the source ("") or the
// stack, and an action the build cannot take is 501.
func TestAPIActions(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	auth := "Bearer " + apiToken
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	code, doc := a.do("POST", "/api/v1/sources/prod/sync", auth)
	if code != 202 || doc["action"] != "sync" || doc["source"] != "prod" || a.acts.triggers != 1 {
		t.Errorf("sync: %d %v, %d triggers; want 202 and one trigger", code, doc, a.acts.triggers)
	}

	if code, doc := a.do("POST", "/api/v1/sources/prod/retry", auth); code != 409 || a.acts.triggers != 1 {
		t.Errorf("retry with nothing held: %d %v, %d triggers; want 409 and none", code, doc, a.acts.triggers)
	}
	a.fake.CrashImage("app:2")
	a.repo.Write("web/compose.yaml", strings.ReplaceAll(twoReplicas, "app:1", "app:2"))
	a.repo.Commit("v2")
	if err := a.apply(); err == nil {
		t.Fatal("the crashing app:2 was applied")
	}
	// Right after the failed run: the next one would hold web/app.
	creates := a.fake.Calls()["CreateContainer"]
	code, doc = a.do("POST", "/api/v1/sources/prod/retry", auth)
	if code != 202 || !slices.Equal(doc["services"].([]any), []any{"web/app"}) {
		t.Fatalf("retry: %d %v; want 202 retrying web/app", code, doc)
	}
	if err := a.apply(); err == nil || a.fake.Calls()["CreateContainer"] == creates {
		t.Errorf("the run after retry did not retry the held service: %v", err)
	}
	if got := a.ctl.Report().Failures["web/app"].Attempts; got != 2 {
		t.Errorf("attempts after the retry: %d, want 2", got)
	}

	for _, tc := range []struct{ target, call string }{
		{"/api/v1/sources/prod/suspend", "suspend  by api"},
		{"/api/v1/sources/prod/resume", "resume "},
		{"/api/v1/sources/prod/stacks/web/suspend", "suspend web by api"},
		{"/api/v1/sources/prod/stacks/web/resume", "resume web"},
	} {
		a.acts.calls = nil
		code, doc := a.do("POST", tc.target, auth)
		if code != 200 || !slices.Equal(a.acts.calls, []string{tc.call}) {
			t.Errorf("POST %s: %d %v, calls %q; want 200 and %q", tc.target, code, doc, a.acts.calls, tc.call)
		}
	}
	a.acts.err = server.ErrNotAvailable
	code, doc = a.do("POST", "/api/v1/sources/prod/stacks/web/suspend", auth)
	if e, _ := doc["error"].(map[string]any); code != 501 || e["code"] != "not_available" {
		t.Errorf("suspend that the build cannot take: %d %v, want 501", code, doc)
	}
	a.acts.err = errors.New("web is not suspended")
	code, doc = a.do("POST", "/api/v1/sources/prod/stacks/web/resume", auth)
	if e, _ := doc["error"].(map[string]any); code != 409 || !strings.Contains(e["message"].(string), "web is not suspended") {
		t.Errorf("resume that fails: %d %v, want 409 saying why", code, doc)
	}
}

// TestAPIWithholdsOutput: what a failing candidate printed (its secrets)
// shows in the API's reads only to a request with the token, as on
// /status.
func TestAPIWithholdsOutput(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, func(f *runtime.Fake) reconcile.Runtime { return chatty{f} })
	if err := a.apply(); err != nil {
		t.Fatal(err)
	}
	a.fake.CrashImage("app:2")
	a.repo.Write("web/compose.yaml", strings.ReplaceAll(twoReplicas, "app:1", "app:2"))
	a.repo.Commit("v2")
	if err := a.apply(); err == nil {
		t.Fatal("the crashing app:2 was applied")
	}
	for _, target := range []string{"/api/v1/sources", "/api/v1/sources/prod", "/api/v1/sources/prod/stacks",
		"/api/v1/sources/prod/stacks/web", "/api/v1/sources/prod/services", "/api/v1/sources/prod/plan", "/api/v1/ledger"} {
		open, _ := json.Marshal(a.get(target, ""))
		if strings.Contains(string(open), "hunter2") {
			t.Errorf("GET %s without the token shows the candidate's output: %s", target, open)
		}
		full, _ := json.Marshal(a.get(target, "Bearer "+apiToken))
		if !strings.Contains(string(full), "hunter2") && target != "/api/v1/sources/prod/stacks" && target != "/api/v1/sources/prod/stacks/web" && target != "/api/v1/sources/prod/services" {
			t.Errorf("GET %s with the token does not show the candidate's output: %s", target, full)
		}
		if strings.Contains(string(full), "hunter2") && !strings.Contains(string(open), "(withheld)") {
			t.Errorf("GET %s without the token does not say that output was withheld: %s", target, open)
		}
	}
}

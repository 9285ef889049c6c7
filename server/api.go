package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
)

// Actions is what the API's actions ask of a source's controller.
type Actions interface {
	// Trigger asks for a run as soon as the current one ends
	// (controller.Controller.Trigger).
	Trigger()
	// RetryHeld has the next run retry the services held back by a failed
	// rollout, triggers it, and returns them; none: nothing was asked.
	RetryHeld() []string
	// Suspend stops the controller from changing a stack ("": every
	// stack of the source) until Resume; by says who asked.
	Suspend(stack, by string) error
	// Resume ends a Suspend of the same stack ("": the source).
	Resume(stack string) error
}

// ErrNotAvailable is what an Actions method answers for an action this
// build of moor cannot take; the API says 501.
var ErrNotAvailable = errors.New("not available in this build of moor")

// Ledger paging: ?limit= is at most maxLedgerLimit records, and
// defaultLedgerLimit without it.
const (
	defaultLedgerLimit = 50
	maxLedgerLimit     = 500
)

// api serves /api/v1/. Reads come from each source's report as its last
// run left it; actions go to the source's Actions.
type api struct {
	sources []*controller.Controller
	actions func(*controller.Controller) Actions
	token   []byte
	// loopback: the listen address is a loopback one, and reads need no
	// token.
	loopback bool
	ledger   string // the ledger file; "": none
	mux      *mux
}

// route is one endpoint: an action needs the token, a read needs it on a
// listen address that is not a loopback one. full: the request carries
// the token, and is shown what containers printed.
type route struct {
	method, path string
	action       bool
	serve        func(w http.ResponseWriter, r *http.Request, full bool)
}

func (a *api) routes() []route {
	return []route{
		{"GET", "/api/v1/sources", false, a.getSources},
		{"GET", "/api/v1/sources/{source}", false, a.getSource},
		{"GET", "/api/v1/sources/{source}/stacks", false, a.getStacks},
		{"GET", "/api/v1/sources/{source}/stacks/{stack}", false, a.getStack},
		{"GET", "/api/v1/sources/{source}/services", false, a.getServices},
		{"GET", "/api/v1/sources/{source}/containers", false, a.getContainers},
		{"GET", "/api/v1/sources/{source}/plan", false, a.getPlan},
		{"GET", "/api/v1/ledger", false, a.getLedger},
		{"POST", "/api/v1/sources/{source}/sync", true, a.sync},
		{"POST", "/api/v1/sources/{source}/retry", true, a.retry},
		{"POST", "/api/v1/sources/{source}/suspend", true, a.suspend},
		{"POST", "/api/v1/sources/{source}/resume", true, a.resume},
		{"POST", "/api/v1/sources/{source}/stacks/{stack}/suspend", true, a.suspend},
		{"POST", "/api/v1/sources/{source}/stacks/{stack}/resume", true, a.resume},
	}
}

// register adds the API's routes to m, and an answer in JSON for every
// other path under /api/v1/.
func (a *api) register(m *mux) {
	a.mux = m
	for _, rt := range a.routes() {
		m.HandleFunc(rt.method+" "+rt.path, a.guard(rt))
	}
	m.HandleFunc("/api/v1/", a.unrouted)
}

// guard checks a request's token for rt (docs/api.md, "Authentication"):
//
//	actions                  the token, always (403 when none is configured)
//	reads, loopback address  open; a request that sends a token is told when it is wrong
//	reads, other addresses   the token (403 when none is configured)
func (a *api) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Vary", "Authorization")
		sent := r.Header.Get("Authorization") != ""
		need := rt.action || !a.loopback
		switch {
		case need && a.token == nil && rt.action:
			writeError(w, http.StatusForbidden, "forbidden", "actions need an API token, and none is configured: set api.token_file")
			return
		case need && a.token == nil:
			writeError(w, http.StatusForbidden, "forbidden", "the listen address is not a loopback one, so reads need an API token, and none is configured: set api.token_file")
			return
		case need && !sent:
			w.Header().Set("WWW-Authenticate", `Bearer realm="moor"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "this needs the API token: Authorization: Bearer TOKEN")
			return
		}
		full, err := authorized(r, a.token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="moor", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
			return
		}
		rt.serve(w, r, full)
	}
}

// unrouted answers a path under /api/v1/ that no route serves: 405 when
// another method has it, 404 otherwise.
func (a *api) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "/api/v1/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s (see docs/api.md)", r.URL.Path))
}

// isLoopback reports whether the listen address addr only accepts
// connections from this host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, body map[string]any) {
	body["version"] = APIVersion
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// writeError answers {version, error: {code, message}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// source is the source the path names, or nil once it answered 404.
func (a *api) source(w http.ResponseWriter, r *http.Request) *controller.Controller {
	name := r.PathValue("source")
	for _, ctl := range a.sources {
		if ctl.Source.Name == name {
			return ctl
		}
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no source named %q", name))
	return nil
}

// report is ctl's report, with what containers printed withheld unless
// full; nil before its first run.
func report(ctl *controller.Controller, full bool) *controller.SourceReport {
	rep := ctl.Report()
	if rep != nil && !full {
		rep = rep.WithoutOutput()
	}
	return rep
}

func (a *api) getSources(w http.ResponseWriter, r *http.Request, full bool) {
	out := []SourceView{}
	for _, ctl := range a.sources {
		out = append(out, viewSource(ctl, report(ctl, full)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

func (a *api) getSource(w http.ResponseWriter, r *http.Request, full bool) {
	if ctl := a.source(w, r); ctl != nil {
		writeJSON(w, http.StatusOK, map[string]any{"source": viewSource(ctl, report(ctl, full))})
	}
}

func (a *api) getStacks(w http.ResponseWriter, r *http.Request, full bool) {
	if ctl := a.source(w, r); ctl != nil {
		writeJSON(w, http.StatusOK, map[string]any{"source": ctl.Source.Name, "stacks": viewStacks(report(ctl, full))})
	}
}

// stack is the stack the path names, or nil once it answered 404.
func (a *api) stack(w http.ResponseWriter, r *http.Request, ctl *controller.Controller, full bool) *StackView {
	name := r.PathValue("stack")
	stacks := viewStacks(report(ctl, full))
	if i := slices.IndexFunc(stacks, func(s StackView) bool { return s.Name == name }); i >= 0 {
		return &stacks[i]
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("source %s has no stack named %q (as of its last run)", ctl.Source.Name, name))
	return nil
}

func (a *api) getStack(w http.ResponseWriter, r *http.Request, full bool) {
	ctl := a.source(w, r)
	if ctl == nil {
		return
	}
	if st := a.stack(w, r, ctl, full); st != nil {
		writeJSON(w, http.StatusOK, map[string]any{"source": ctl.Source.Name, "stack": st})
	}
}

func (a *api) getServices(w http.ResponseWriter, r *http.Request, full bool) {
	if ctl := a.source(w, r); ctl != nil {
		writeJSON(w, http.StatusOK, map[string]any{"source": ctl.Source.Name, "services": viewServices(report(ctl, full))})
	}
}

func (a *api) getContainers(w http.ResponseWriter, r *http.Request, full bool) {
	if ctl := a.source(w, r); ctl != nil {
		writeJSON(w, http.StatusOK, map[string]any{"source": ctl.Source.Name, "containers": viewContainers(report(ctl, full))})
	}
}

// getPlan serves what the source's next run would carry out, as its last
// run that saw the engine left it: null before one did.
func (a *api) getPlan(w http.ResponseWriter, r *http.Request, full bool) {
	ctl := a.source(w, r)
	if ctl == nil {
		return
	}
	body := map[string]any{"source": ctl.Source.Name, "plan": nil}
	if rep := ctl.Report(); rep != nil {
		body["plan"] = viewPlan(rep.Plan(), full)
		if rep.Status != nil {
			body["as_of"] = rep.LastRun
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// getLedger serves the ledger newest first, a page at a time: ?limit=
// records with a seq below ?before=, of ?source= and ?stack= when given.
// next_before is the ?before= of the next page; it is absent on the last.
func (a *api) getLedger(w http.ResponseWriter, r *http.Request, full bool) {
	q := r.URL.Query()
	limit, before := defaultLedgerLimit, int64(0)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLedgerLimit {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want a number from 1 to %d", s, maxLedgerLimit))
			return
		}
		limit = n
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("before %q: want the seq of a record (a number from 1)", s))
			return
		}
		before = n
	}
	source, stack := q.Get("source"), q.Get("stack")
	if source != "" && !slices.ContainsFunc(a.sources, func(c *controller.Controller) bool { return c.Source.Name == source }) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no source named %q", source))
		return
	}
	var recs []ledger.Record
	if a.ledger != "" {
		var err error
		if recs, _, err = ledger.Read(a.ledger); err != nil {
			writeError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
	}
	page := []ledger.Record{}
	var next int64
	for i := len(recs) - 1; i >= 0; i-- {
		rec := recs[i]
		if before > 0 && rec.Seq >= before || source != "" && rec.Source != source || stack != "" && !rec.Touches(stack) {
			continue
		}
		if len(page) == limit {
			next = page[len(page)-1].Seq
			break
		}
		page = append(page, viewRecord(rec, full))
	}
	body := map[string]any{"records": page}
	if next > 0 {
		body["next_before"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// act answers an action on the source the path names.
func (a *api) act(w http.ResponseWriter, r *http.Request, do func(ctl *controller.Controller, act Actions) (int, map[string]any)) {
	ctl := a.source(w, r)
	if ctl == nil {
		return
	}
	if a.actions == nil {
		writeError(w, http.StatusNotImplemented, "not_available", "this server takes no actions")
		return
	}
	code, body := do(ctl, a.actions(ctl))
	if body["error"] == nil {
		body["source"] = ctl.Source.Name
	}
	writeJSON(w, code, body)
}

func (a *api) sync(w http.ResponseWriter, r *http.Request, _ bool) {
	a.act(w, r, func(ctl *controller.Controller, act Actions) (int, map[string]any) {
		act.Trigger()
		return http.StatusAccepted, map[string]any{"action": "sync", "message": "a run is asked for: it starts once the current one, if any, ends"}
	})
}

func (a *api) retry(w http.ResponseWriter, r *http.Request, _ bool) {
	a.act(w, r, func(ctl *controller.Controller, act Actions) (int, map[string]any) {
		held := act.RetryHeld()
		if len(held) == 0 {
			return http.StatusConflict, errorBody("conflict", fmt.Sprintf("source %s holds back no service after a failed rollout (as of its last run): nothing to retry", ctl.Source.Name))
		}
		return http.StatusAccepted, map[string]any{"action": "retry", "services": held,
			"message": "the next run retries these services at once, as moor apply does"}
	})
}

func (a *api) suspend(w http.ResponseWriter, r *http.Request, _ bool) {
	a.suspendOrResume(w, r, "suspend")
}

func (a *api) resume(w http.ResponseWriter, r *http.Request, _ bool) {
	a.suspendOrResume(w, r, "resume")
}

func (a *api) suspendOrResume(w http.ResponseWriter, r *http.Request, action string) {
	ctl := a.source(w, r)
	if ctl == nil {
		return
	}
	stack := r.PathValue("stack")
	if stack != "" && a.stack(w, r, ctl, false) == nil {
		return
	}
	a.act(w, r, func(ctl *controller.Controller, act Actions) (int, map[string]any) {
		var err error
		if action == "suspend" {
			err = act.Suspend(stack, "api")
		} else {
			err = act.Resume(stack)
		}
		switch {
		case errors.Is(err, ErrNotAvailable):
			return http.StatusNotImplemented, errorBody("not_available", fmt.Sprintf("%s: %v", action, err))
		case err != nil:
			return http.StatusConflict, errorBody("conflict", fmt.Sprintf("%s: %v", action, err))
		}
		return http.StatusOK, map[string]any{"action": action, "stack": stack}
	})
}

func errorBody(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

// Package forgetest is a fake forge for tests: an HTTP server on
// 127.0.0.1 that takes commit statuses the way GitHub, GitLab or Gitea
// does, refuses any request that does not have the provider's exact shape,
// and records what it took.
package forgetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Call is one status the fake took, in the provider's own words.
type Call struct {
	Commit      string
	State       string // as posted: GitLab's running and failed included
	Description string
	Context     string // GitLab's name
	TargetURL   string
}

func (c Call) String() string { return c.Commit[:7] + " " + c.State + " " + c.Description }

// Forge is one fake forge.
type Forge struct {
	URL      string // the API root to configure as api_url
	Provider string
	Token    string
	// Project is the repository as the path names it (GitLab's URL-encoded).
	t      testing.TB
	prefix string // the path up to the sha
	// readPrefix, readSuffix: the path that reads a commit's statuses,
	// around the sha.
	readPrefix, readSuffix string

	mu sync.Mutex
	// fail is how many requests answer 500 before one is taken.
	fail  int
	calls []Call
	tried int
	// refuse: a wrong token is answered 401, as a forge does, rather
	// than failing the test.
	refuse bool
	// hold, while set, keeps every request waiting until it is closed.
	hold    chan struct{}
	took    chan Call
	arrived chan struct{}
}

var errAuth = errors.New("wrong auth header")

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// New starts a fake of provider (github, gitlab or gitea) for the
// repository repo (owner/name, or a GitLab project path), taking token.
func New(t testing.TB, provider, repo, token string) *Forge {
	f := &Forge{Provider: provider, Token: token, t: t, took: make(chan Call, 100), arrived: make(chan struct{}, 100)}
	root := ""
	switch provider {
	case "github":
		f.prefix = "/repos/" + repo + "/statuses/"
		f.readPrefix, f.readSuffix = "/repos/"+repo+"/commits/", "/status"
	case "gitlab":
		root = "/api/v4"
		f.prefix = root + "/projects/" + strings.ReplaceAll(repo, "/", "%2F") + "/statuses/"
		f.readPrefix, f.readSuffix = root+"/projects/"+strings.ReplaceAll(repo, "/", "%2F")+"/repository/commits/", "/statuses"
	case "gitea":
		root = "/api/v1"
		f.prefix = root + "/repos/" + repo + "/statuses/"
		f.readPrefix, f.readSuffix = root+"/repos/"+repo+"/commits/", "/status"
	default:
		t.Fatalf("forgetest: unknown provider %q", provider)
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Release()
		srv.Close()
	})
	f.URL = srv.URL + root
	return f
}

// FailNext makes the next n requests answer 500 Internal Server Error.
func (f *Forge) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = n
}

// Refuse makes a request with a wrong token an answer of 401 Unauthorized
// rather than an error of the test.
func (f *Forge) Refuse(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = on
}

// Hold keeps every request waiting, unanswered, until Release.
func (f *Forge) Hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold == nil {
		f.hold = make(chan struct{})
	}
}

// Release lets the requests held go on.
func (f *Forge) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold != nil {
		close(f.hold)
		f.hold = nil
	}
}

// Calls are the statuses taken so far, in order.
func (f *Forge) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Requests is how many requests came, taken or not.
func (f *Forge) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tried
}

// Wait waits (up to a deadline) until the fake has taken n statuses in all,
// and returns them.
func (f *Forge) Wait(n int) []Call {
	f.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if calls := f.Calls(); len(calls) >= n {
			return calls
		}
		select {
		case <-f.took:
		case <-deadline:
			f.t.Fatalf("the %s fake took %d statuses, want %d: %v", f.Provider, len(f.Calls()), n, f.Calls())
		}
	}
}

// WaitRequests waits (up to a deadline) until n requests came in all.
func (f *Forge) WaitRequests(n int) {
	f.t.Helper()
	deadline := time.After(60 * time.Second)
	for f.Requests() < n {
		select {
		case <-f.arrived:
		case <-deadline:
			f.t.Fatalf("the %s fake had %d requests, want %d", f.Provider, f.Requests(), n)
		}
	}
}

func (f *Forge) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		f.read(w, r)
		return
	}
	f.mu.Lock()
	f.tried++
	hold := f.hold
	failing := f.fail > 0
	if failing {
		f.fail--
	}
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	call, err := f.check(r)
	f.mu.Lock()
	refuse := f.refuse
	f.mu.Unlock()
	if errors.Is(err, errAuth) && refuse {
		http.Error(w, `{"message":"token is required"}`, http.StatusUnauthorized)
		return
	}
	if err != nil {
		f.t.Errorf("%s fake: %s %s: %v", f.Provider, r.Method, r.URL.EscapedPath(), err)
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	if failing {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	f.took <- call
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"id": len(f.calls), "state": call.State})
}

// check holds r to the provider's API: method, path, auth header, JSON
// fields and states.
func (f *Forge) check(r *http.Request) (Call, error) {
	var c Call
	if r.Method != http.MethodPost {
		return c, fmt.Errorf("method %s, want POST", r.Method)
	}
	path := r.URL.EscapedPath()
	sha, ok := strings.CutPrefix(path, f.prefix)
	if !ok || !shaRE.MatchString(sha) {
		return c, fmt.Errorf("path %s, want %s<40 hex>", path, f.prefix)
	}
	c.Commit = sha
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return c, fmt.Errorf("Content-Type %q", ct)
	}
	var auth, want string
	switch f.Provider {
	case "github":
		auth, want = r.Header.Get("Authorization"), "Bearer "+f.Token
	case "gitlab":
		auth, want = r.Header.Get("PRIVATE-TOKEN"), f.Token
		if r.Header.Get("Authorization") != "" {
			return c, fmt.Errorf("an Authorization header besides PRIVATE-TOKEN")
		}
	case "gitea":
		auth, want = r.Header.Get("Authorization"), "token "+f.Token
	}
	if auth != want {
		return c, fmt.Errorf("%w: %q, want %q", errAuth, auth, want)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var states []string
	maxDesc := 140
	switch f.Provider {
	case "gitlab":
		var b struct {
			State       string `json:"state"`
			Name        string `json:"name"`
			Description string `json:"description"`
			TargetURL   string `json:"target_url"`
		}
		if err := dec.Decode(&b); err != nil {
			return c, fmt.Errorf("body: %v", err)
		}
		c.State, c.Context, c.Description, c.TargetURL = b.State, b.Name, b.Description, b.TargetURL
		states, maxDesc = []string{"pending", "running", "success", "failed", "canceled"}, 255
	default:
		var b struct {
			State       string `json:"state"`
			Context     string `json:"context"`
			Description string `json:"description"`
			TargetURL   string `json:"target_url"`
		}
		if err := dec.Decode(&b); err != nil {
			return c, fmt.Errorf("body: %v", err)
		}
		c.State, c.Context, c.Description, c.TargetURL = b.State, b.Context, b.Description, b.TargetURL
		states = []string{"pending", "success", "error", "failure"}
		if f.Provider == "gitea" {
			states = append(states, "warning")
		}
	}
	if !slices.Contains(states, c.State) {
		return c, fmt.Errorf("state %q, want one of %v", c.State, states)
	}
	if c.Context == "" {
		return c, fmt.Errorf("no context")
	}
	if n := utf8.RuneCountInString(c.Description); n > maxDesc || strings.ContainsAny(c.Description, "\n\r") {
		return c, fmt.Errorf("description of %d characters, or of many lines: %q", n, c.Description)
	}
	return c, nil
}

// Seed records c as if it had been posted (by another host of a fleet),
// without a request: reads return it.
func (f *Forge) Seed(c Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// read answers a read of a commit's statuses as the provider does: the
// latest status of each context, newest first (GitHub and Gitea: in a
// combined status; GitLab: a list, with its names for the fields).
func (f *Forge) read(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, f.readPrefix)
	sha, ok2 := strings.CutSuffix(rest, f.readSuffix)
	if !ok || !ok2 || !shaRE.MatchString(sha) {
		f.t.Errorf("%s fake: GET %s, want %s<40 hex>%s", f.Provider, path, f.readPrefix, f.readSuffix)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var auth, want string
	switch f.Provider {
	case "github":
		auth, want = r.Header.Get("Authorization"), "Bearer "+f.Token
	case "gitlab":
		auth, want = r.Header.Get("PRIVATE-TOKEN"), f.Token
	case "gitea":
		auth, want = r.Header.Get("Authorization"), "token "+f.Token
	}
	if auth != want {
		http.Error(w, `{"message":"token is required"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	var latest []Call
	seen := map[string]bool{}
	for i := len(f.calls) - 1; i >= 0; i-- {
		if c := f.calls[i]; c.Commit == sha && !seen[c.Context] {
			seen[c.Context] = true
			latest = append(latest, c)
		}
	}
	f.mu.Unlock()
	var list []map[string]any
	for _, c := range latest {
		switch f.Provider {
		case "github":
			list = append(list, map[string]any{"state": c.State, "context": c.Context, "description": c.Description})
		case "gitea":
			list = append(list, map[string]any{"status": c.State, "context": c.Context, "description": c.Description})
		case "gitlab":
			list = append(list, map[string]any{"status": c.State, "name": c.Context, "description": c.Description, "sha": sha})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if f.Provider == "gitlab" {
		json.NewEncoder(w).Encode(list)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"sha": sha, "statuses": list})
}

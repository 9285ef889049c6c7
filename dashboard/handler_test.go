package dashboard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/dashboard"
	"github.com/moor-dev/moor/ledger"
)

const (
	token = "0123456789abcdef0123456789abcdef"
	sha1  = "1111111111111111111111111111111111111111"
	sha2  = "2222222222222222222222222222222222222222"
	rev1  = "main@sha1:" + sha1
	rev2  = "main@sha1:" + sha2
	// output is what a failed candidate printed: shown with the token only.
	output = "SECRET_OUTPUT_7f3a"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// fakeSource is a source with a fixed report that counts the actions.
type fakeSource struct {
	rep     *controller.SourceReport
	mu      sync.Mutex
	synced  int
	retried []string
	holds   []string // "suspend STACK by" and "resume STACK"
}

func (f *fakeSource) Suspend(stack, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, "suspend "+stack+" "+by)
	return nil
}

func (f *fakeSource) Resume(stack string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, "resume "+stack)
	return nil
}

func (f *fakeSource) Report() *controller.SourceReport { return f.rep }
func (f *fakeSource) Trigger()                         { f.mu.Lock(); f.synced++; f.mu.Unlock() }
func (f *fakeSource) Retry(svc string) error {
	if _, ok := f.rep.Failures[svc]; !ok {
		return fmt.Errorf("retry %s: %w", svc, controller.ErrNotHeld)
	}
	f.mu.Lock()
	f.retried = append(f.retried, svc)
	f.mu.Unlock()
	return nil
}

func container(name, state, health, rev string) controller.ContainerReport {
	return controller.ContainerReport{Name: name, ID: "abcdef012345", State: state, Health: health, Revision: rev, Image: "registry:5000/app:1", InSync: rev == rev2}
}

// The four states a source's page must show.
func converged() *fakeSource {
	return &fakeSource{rep: &controller.SourceReport{
		Status: &controller.Status{Source: "prod", Repo: "https://github.com/acme/deploy.git", Ref: "main",
			Revision: rev2, Subject: "web: v2", Applied: rev2, AppliedAt: t0, LastRun: t0, Result: "success"},
		Services: []controller.ServiceReport{{Stack: "web", Service: "app", Replicas: 1, Up: 1, State: controller.StateInSync,
			Containers: []controller.ContainerReport{container("web-app-1", "running", "healthy", rev2)}}},
	}}
}

func rollingOut() *fakeSource {
	f := converged()
	f.rep.Status.Applied = rev1
	f.rep.Rolling = &controller.Rolling{Revision: rev2, Services: []string{"web/app"}, Started: t0}
	f.rep.Services[0].State, f.rep.Services[0].Reason = controller.StateRollingOut, "to main@2222222"
	f.rep.Services[0].Containers[0] = container("web-app-1", "running", "healthy", rev1)
	return f
}

func degraded() *fakeSource {
	f := converged()
	reason := `container web-app-1-candidate did not become healthy within 30s; health check said: "` + output + `"`
	f.rep.Status.Applied, f.rep.Status.Result = rev1, "failed"
	f.rep.Status.Error = "web/app: " + reason
	f.rep.Status.Failures = map[string]controller.Failure{"web/app": {Revision: rev2, Reason: reason, Attempts: 1, At: t0, RetryAt: t0.Add(time.Minute)}}
	f.rep.Status.Held = map[string]string{"web/app": reason}
	f.rep.Services[0].State, f.rep.Services[0].Reason = controller.StateDegraded, "running main@1111111, "+reason
	f.rep.Services[0].Containers[0] = container("web-app-1", "running", "healthy", rev1)
	return f
}

func broken() *fakeSource {
	f := converged()
	f.rep.Status.Result = "partial"
	// What a repository says is shown escaped.
	f.rep.Status.Broken = map[string]string{"evil": `compose.yaml: services.x.image: "<script>alert(1)</script>"`}
	f.rep.Services = append(f.rep.Services, controller.ServiceReport{Stack: "evil", Service: "x", Replicas: 1, State: controller.StateBroken, Reason: "did not load"})
	return f
}

func drifted() *fakeSource {
	f := converged()
	f.rep.Status.Drift = []string{"start web/app/1 (exited)"}
	f.rep.Services[0].State, f.rep.Services[0].Reason = controller.StateDrifted, "start web/app/1 (exited); not repaired (drift: report)"
	f.rep.Services[0].Containers[0] = container("web-app-1", "exited", "", rev2)
	return f
}

func runs() ([]ledger.Record, error) {
	return []ledger.Record{
		{Seq: 1, Source: "prod", Revision: rev1, Subject: "web: v1", Started: t0, Finished: t0.Add(time.Second), Result: "success",
			Ops: []ledger.OpResult{{Op: "create web/app/1 (missing)", Stack: "web", Service: "app", Result: "ok"}}},
		{Seq: 2, Source: "other", Revision: rev1, Result: "success"},
		{Seq: 3, Source: "prod", Revision: rev2, Subject: "web: v2", Started: t0, Finished: t0.Add(40 * time.Second), Result: "failed",
			Error: `web/app: health check said: "` + output + `"`,
			Ops:   []ledger.OpResult{{Op: "replace web/app/1 (config changed: environment)", Stack: "web", Service: "app", Result: "failed", Error: `health check said: "` + output + `"`}}},
	}, nil
}

func serve(t *testing.T, open bool, tok []byte, srcs ...*fakeSource) *httptest.Server {
	t.Helper()
	cfg := dashboard.Config{Token: tok, Open: open, Runs: runs, Now: func() time.Time { return t0.Add(time.Minute) }}
	for _, s := range srcs {
		cfg.Sources = append(cfg.Sources, s)
	}
	srv := httptest.NewServer(dashboard.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// client is a browser: it keeps cookies and does not follow redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func login(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	code, _, hdr := do(t, c, "POST", srv.URL+"/login", url.Values{"token": {token}})
	if code != http.StatusSeeOther {
		t.Fatalf("login with the token: %d", code)
	}
	ck := hdr.Get("Set-Cookie")
	for _, want := range []string{"moor_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %s", ck, want)
		}
	}
	code, body, _ := do(t, c, "GET", srv.URL+"/", nil)
	if code != http.StatusOK {
		t.Fatalf("page after login: %d", code)
	}
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page after login:\n%s", body)
	}
	return m[1]
}

// TestPageShowsEachState renders a source in each state, as an anonymous
// reader on a loopback address (output withheld) and after login (in
// full).
func TestPageShowsEachState(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  *fakeSource
		want []string // in the page, anonymous and logged in
		full []string // only when logged in
		not  []string // never, raw
	}{
		{"converged", converged(), []string{"Source prod", `class="st in-sync"`, "web-app-1", "healthy",
			`href="https://github.com/acme/deploy/commit/` + sha2 + `"`, "web: v2", "#3", "#1", "create web/app/1 (missing)"}, nil, []string{"Held failures", "rolling out"}},
		{"rolling out", rollingOut(), []string{`class="st rolling-out"`, "rolling out", "main@2222222", "main@1111111"}, nil, nil},
		{"degraded", degraded(), []string{`class="st degraded"`, "Held failures", `href="#held_prod_web_app"`, `id="held_prod_web_app"`,
			"did not become healthy within 30s", "health check said: (withheld)"}, []string{output, `class="retry"`}, nil},
		{"drift reported", drifted(), []string{`class="st drifted"`, "not repaired (drift: report); an apply would:", "start web/app/1 (exited)"}, nil, nil},
		{"broken stack", broken(), []string{`class="st broken">refused`, "&lt;script&gt;alert(1)&lt;/script&gt;", `class="st partial"`}, nil, []string{"<script>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, true, []byte(token), tc.src)
			c := client(t)
			code, anon, _ := do(t, c, "GET", srv.URL+"/", nil)
			if code != http.StatusOK {
				t.Fatalf("GET / on loopback without the token: %d", code)
			}
			login(t, c, srv)
			_, full, _ := do(t, c, "GET", srv.URL+"/", nil)
			for _, w := range tc.want {
				if !strings.Contains(anon, w) && !strings.Contains(full, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.full {
				if strings.Contains(anon, w) {
					t.Errorf("the anonymous page shows %q", w)
				}
				if !strings.Contains(full, w) {
					t.Errorf("the page after login lacks %q", w)
				}
			}
			for _, w := range append(tc.not, output) {
				if strings.Contains(anon, w) {
					t.Errorf("the anonymous page shows %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(full, w) {
					t.Errorf("the page after login shows %q", w)
				}
			}
			if strings.Contains(anon, `name="csrf"`) || strings.Contains(anon, `class="sync"`) {
				t.Error("the anonymous page offers actions")
			}
			if t.Failed() {
				t.Logf("anonymous page:\n%s", anon)
			}
		})
	}
}

// TestReadNeedsTokenOffLoopback: on any other listen address the page
// needs the token (a session or a bearer header); without a token
// configured, nobody reads it.
func TestReadNeedsTokenOffLoopback(t *testing.T) {
	srv := serve(t, false, []byte(token), degraded())
	c := client(t)
	code, _, hdr := do(t, c, "GET", srv.URL+"/", nil)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/login" {
		t.Errorf("GET / without the token: %d to %q, want 303 to /login", code, hdr.Get("Location"))
	}
	if code, body, _ := do(t, c, "GET", srv.URL+"/", nil, "Authorization", "Bearer "+strings.Repeat("0", 32)); code != http.StatusSeeOther || strings.Contains(body, "web-app-1") {
		t.Errorf("GET / with a wrong bearer token: %d", code)
	}
	if code, body, _ := do(t, c, "GET", srv.URL+"/", nil, "Authorization", "Bearer "+token); code != http.StatusOK || !strings.Contains(body, output) {
		t.Errorf("GET / with the bearer token: %d, output shown: %v", code, strings.Contains(body, output))
	}
	if code, body, _ := do(t, c, "POST", srv.URL+"/login", url.Values{"token": {"wrong-token-wrong-token"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong token") {
		t.Errorf("login with a wrong token: %d", code)
	}
	login(t, c, srv)
	if code, body, _ := do(t, c, "GET", srv.URL+"/", nil); code != http.StatusOK || !strings.Contains(body, output) {
		t.Errorf("GET / after login: %d", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/logout", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := do(t, c, "GET", srv.URL+"/", nil); code != http.StatusSeeOther {
		t.Errorf("GET / after logout: %d, want 303", code)
	}

	none := serve(t, false, nil, degraded())
	if code, body, _ := do(t, client(t), "GET", none.URL+"/", nil); code != http.StatusForbidden || strings.Contains(body, "web-app-1") {
		t.Errorf("GET / off loopback with no token configured: %d", code)
	}
}

// TestActionsNeedSessionAndCSRF: sync and retry need a session, its CSRF
// token, and the dashboard's own origin; with all three they act.
func TestActionsNeedSessionAndCSRF(t *testing.T) {
	src := degraded()
	srv := serve(t, true, []byte(token), src)
	anon := client(t)
	sync := url.Values{"source": {"prod"}}
	retry := url.Values{"source": {"prod"}, "service": {"web/app"}}
	for _, path := range []string{"/sync", "/retry"} {
		form := sync
		if path == "/retry" {
			form = retry
		}
		if code, _, _ := do(t, anon, "POST", srv.URL+path, form); code != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d, want 403", path, code)
		}
		with := url.Values{"csrf": {strings.Repeat("a", 64)}}
		for k, v := range form {
			with[k] = v
		}
		if code, _, _ := do(t, anon, "POST", srv.URL+path, with, "Authorization", "Bearer "+token); code != http.StatusForbidden {
			t.Errorf("POST %s with a bearer token but no session: %d, want 403", path, code)
		}
	}

	c := client(t)
	csrf := login(t, c, srv)
	if code, _, _ := do(t, c, "POST", srv.URL+"/sync", sync); code != http.StatusForbidden {
		t.Errorf("POST /sync without the CSRF token: %d, want 403", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/sync", url.Values{"source": {"prod"}, "csrf": {strings.Repeat("0", 64)}}); code != http.StatusForbidden {
		t.Errorf("POST /sync with a wrong CSRF token: %d, want 403", code)
	}
	ok := url.Values{"source": {"prod"}, "csrf": {csrf}}
	if code, _, _ := do(t, c, "POST", srv.URL+"/sync", ok, "Origin", "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("POST /sync from another origin: %d, want 403", code)
	}
	if src.synced != 0 || len(src.retried) != 0 {
		t.Fatalf("refused requests acted: %d syncs, retries %v", src.synced, src.retried)
	}

	code, _, hdr := do(t, c, "POST", srv.URL+"/sync", ok, "Origin", srv.URL)
	if code != http.StatusSeeOther || src.synced != 1 {
		t.Fatalf("POST /sync with session and CSRF token: %d, %d syncs", code, src.synced)
	}
	if _, body, _ := do(t, c, "GET", srv.URL+hdr.Get("Location"), nil); !strings.Contains(body, "Asked prod to run now.") {
		t.Errorf("the page after sync does not say so")
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/sync", url.Values{"source": {"nope"}, "csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("POST /sync of an unknown source: %d, want 404", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/retry", url.Values{"source": {"prod"}, "service": {"web/other"}, "csrf": {csrf}}); code != http.StatusConflict {
		t.Errorf("POST /retry of a service not held: %d, want 409", code)
	}
	retry.Set("csrf", csrf)
	if code, _, _ := do(t, c, "POST", srv.URL+"/retry", retry); code != http.StatusSeeOther || len(src.retried) != 1 || src.retried[0] != "web/app" {
		t.Errorf("POST /retry with session and CSRF token: %d, retried %v", code, src.retried)
	}

	// Another session has a CSRF token of its own.
	other := client(t)
	if login(t, other, srv) == csrf {
		t.Error("two sessions share a CSRF token")
	}
}

func TestCommitURL(t *testing.T) {
	for _, tc := range []struct{ repo, want string }{
		{"https://github.com/acme/deploy.git", "https://github.com/acme/deploy/commit/" + sha1},
		{"https://github.com/acme/deploy", "https://github.com/acme/deploy/commit/" + sha1},
		{"https://gitlab.com/acme/ops/deploy.git", "https://gitlab.com/acme/ops/deploy/-/commit/" + sha1},
		{"https://gitlab.example.com/ops/deploy", "https://gitlab.example.com/ops/deploy/-/commit/" + sha1},
		{"https://codeberg.org/acme/deploy.git", "https://codeberg.org/acme/deploy/commit/" + sha1},
		{"https://gitea.example.com:3000/acme/deploy.git", "https://gitea.example.com:3000/acme/deploy/commit/" + sha1},
		{"http://github.com/acme/deploy.git", ""},
		{"https://user:***@github.com/acme/deploy.git", ""},
		{"git@github.com:acme/deploy.git", ""},
		{"ssh://git@github.com/acme/deploy.git", ""},
		{"https://git.example.com/acme/deploy.git", ""},
		{"https://github.com/acme", ""},
		{"https://github.com/acme/deploy/../x", ""},
		{"/srv/deploy.git", ""},
	} {
		if got := dashboard.CommitURL(tc.repo, rev1); got != tc.want {
			t.Errorf("CommitURL(%q) = %q, want %q", tc.repo, got, tc.want)
		}
	}
	if got := dashboard.CommitURL("https://github.com/acme/deploy", "main@sha1:abc"); got != "" {
		t.Errorf("CommitURL of a short sha = %q", got)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:9100": true, "[::1]:9100": true, "localhost:9100": true,
		":9100": false, "0.0.0.0:9100": false, "192.168.1.2:9100": false, "[::]:9100": false, "nonsense": false} {
		if got := dashboard.Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestSuspendAndResume: the forms suspend and resume a source or a stack
// it knows, behind the session and its CSRF token; the page shows the
// suspensions with a resume button each.
func TestSuspendAndResume(t *testing.T) {
	src := degraded()
	src.rep.Status.Suspended = []controller.Suspension{{Stack: "web", By: "alice", At: t0}}
	srv := serve(t, true, []byte(token), src)
	if code, _, _ := do(t, client(t), "POST", srv.URL+"/suspend", url.Values{"source": {"prod"}}); code != http.StatusForbidden {
		t.Errorf("POST /suspend without a session: %d, want 403", code)
	}
	c := client(t)
	csrf := login(t, c, srv)
	_, page, _ := do(t, c, "GET", srv.URL+"/", nil)
	for _, want := range []string{`action="/suspend"`, "stack <b>web</b> by alice", `action="/resume"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, c2 := range []struct {
		path  string
		stack string
		code  int
	}{
		{"/suspend", "", http.StatusSeeOther},
		{"/suspend", "web", http.StatusSeeOther},
		{"/suspend", "nope", http.StatusNotFound},
		{"/resume", "web", http.StatusSeeOther},
	} {
		code, _, hdr := do(t, c, "POST", srv.URL+c2.path, url.Values{"source": {"prod"}, "stack": {c2.stack}, "csrf": {csrf}}, "Origin", srv.URL)
		if code != c2.code {
			t.Errorf("POST %s stack %q: %d, want %d", c2.path, c2.stack, code, c2.code)
			continue
		}
		if code == http.StatusSeeOther {
			if _, body, _ := do(t, c, "GET", srv.URL+hdr.Get("Location"), nil); !strings.Contains(body, "prod.") {
				t.Errorf("the page after %s does not say so", c2.path)
			}
		}
	}
	if got := strings.Join(src.holds, ", "); got != "suspend  dashboard, suspend web dashboard, resume web" {
		t.Errorf("holds asked: %s", got)
	}
}

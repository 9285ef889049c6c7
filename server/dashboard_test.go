package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/server"
)

// TestDashboardServed: the listener serves the dashboard at /, with the
// source's runs from its ledger, readable without the token on a loopback
// address only; the other routes stay theirs.
func TestDashboardServed(t *testing.T) {
	repo := testkit.NewRepo(t)
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:1\n    restart: always\n")
	repo.Commit("first deploy")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:1")
	state := t.TempDir()
	l, err := ledger.Open(filepath.Join(state, "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctl := controller.New(config.Source{Name: "prod", Repo: repo.Dir, Ref: "main"}, state, fake, l, nil)
	ctl.Executor.Clock = fakeclock.NewAuto()
	if _, err := ctl.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("0123456789abcdef0123456789abcdef"), 0o600)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, tc := range []struct {
		addr string
		want int
	}{{"127.0.0.1:9100", http.StatusOK}, {"0.0.0.0:9100", http.StatusSeeOther}, {":9100", http.StatusSeeOther}} {
		h, err := server.Handler(server.Config{Addr: tc.addr, Sources: []*controller.Controller{ctl}, TokenFile: tokenFile})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		res, err := noRedirect.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("GET / on %s without the token: %d, want %d", tc.addr, res.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK {
			for _, w := range []string{"Source prod", "first deploy", `class="st success"`, "web</b>/app"} {
				if !strings.Contains(string(body), w) {
					t.Errorf("the dashboard lacks %q:\n%s", w, string(body))
				}
			}
		}
		if code, _, _ := testkit.HTTPGet(srv.URL + "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz beside the dashboard: %d", code)
		}
		if code, _, _ := testkit.HTTPGet(srv.URL + "/nope"); code != http.StatusNotFound {
			t.Errorf("/nope: %d, want 404", code)
		}
		srv.Close()
	}
}

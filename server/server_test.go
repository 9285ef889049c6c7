package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/server"
)

// TestStatusServedFromTheLastRun: /status shows every source's report as
// its last run computed it, and asks the engine nothing, however often it
// is asked.
func TestStatusServedFromTheLastRun(t *testing.T) {
	repo := testkit.NewRepo(t)
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:1\n    restart: always\n")
	repo.Commit("v1")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:1")
	ctl := controller.New(config.Source{Name: "prod", Repo: repo.Dir, Ref: "main"}, t.TempDir(), fake, nil, nil)
	ctl.Executor.Clock = fakeclock.NewAuto()
	h, err := server.Handler(server.Config{Sources: []*controller.Controller{ctl}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func() map[string][]controller.SourceReport {
		t.Helper()
		res, err := http.Get(srv.URL + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var doc map[string][]controller.SourceReport
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("/status: %v\n%s", err, b)
		}
		return doc
	}
	if doc := get(); len(doc["sources"]) != 0 {
		t.Fatalf("before the first run: %+v", doc)
	}
	if _, err := ctl.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	for range 50 {
		doc := get()
		if len(doc["sources"]) != 1 || len(doc["sources"][0].Services) != 1 || doc["sources"][0].Services[0].State != controller.StateInSync {
			t.Fatalf("/status: %+v", doc)
		}
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("50 requests of /status called the engine: %v", calls)
	}
}

// TestHeaderLimit: headers past MaxHeaderBytes are refused, not read on.
func TestHeaderLimit(t *testing.T) {
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 2*server.MaxHeaderBytes))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d KiB of headers: %s, want 431", 2*server.MaxHeaderBytes>>10, res.Status)
	}
}

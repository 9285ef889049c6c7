package server_test

import (
	"context"
	"encoding/json"
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

// chatty is a runtime whose containers print a secret.
type chatty struct{ *runtime.Fake }

const printedSecret = "DATABASE_URL=postgres://app:hunter2@db/app"

func (c chatty) Logs(ctx context.Context, id string, n int) (string, error) {
	return "starting\n" + printedSecret + "\npanic: cannot connect\n", nil
}

// TestStatusWithholdsOutput: a candidate that fails prints its
// configuration; /status shows that output only to a request that carries
// the API token, withholds it from one without a token, and answers 401 to
// a wrong token or another scheme.
func TestStatusWithholdsOutput(t *testing.T) {
	repo := testkit.NewRepo(t)
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:1\n    restart: always\n")
	repo.Commit("v1")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:1")
	fake.Publish("app:2", "sha256:2")
	fake.CrashImage("app:2")
	ctl := controller.New(config.Source{Name: "prod", Repo: repo.Dir, Ref: "main"}, t.TempDir(), chatty{fake}, nil, nil)
	ctl.Executor.Clock = fakeclock.NewAuto()
	if _, err := ctl.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:2\n    restart: always\n")
	repo.Commit("v2")
	if _, err := ctl.Apply(t.Context()); err == nil {
		t.Fatal("the crashing candidate was applied")
	}
	if rep := ctl.Report(); !strings.Contains(rep.Error, printedSecret) {
		t.Fatalf("the run's error does not quote the candidate's output: %s", rep.Error)
	}

	token := "0123456789abcdef0123456789abcdef"
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Sources: []*controller.Controller{ctl}, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr+"/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	code, body := get("")
	if code != 200 || strings.Contains(body, "hunter2") {
		t.Errorf("without a token: %d, and the candidate's output shows: %s", code, body)
	}
	if !strings.Contains(body, "last output: (withheld)") || !strings.Contains(body, "old container restored") {
		t.Errorf("without a token, the error should say that output was withheld, and the rest: %s", body)
	}
	if code, body := get("Bearer " + token); code != 200 || !strings.Contains(body, printedSecret) {
		t.Errorf("with the token: %d, want the candidate's output: %s", code, body)
	}
	for _, auth := range []string{"Bearer " + token[1:], "Bearer " + token + "0", "Basic " + token, "Bearer", token} {
		if code, body := get(auth); code != 401 || strings.Contains(body, "hunter2") {
			t.Errorf("Authorization: %q: %d %s, want 401 without the output", auth, code, body)
		}
	}
}

// TestAPITokenFile: a token file that is missing, empty or too short to
// resist guessing stops the server from starting.
func TestAPITokenFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty"), []byte(" \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "short"), []byte("s3cret\n"), 0o600)
	for file, want := range map[string]string{
		"missing": "no such file",
		"empty":   "is empty",
		"short":   "6 characters, want at least 16",
	} {
		_, err := server.Start(server.Config{Addr: "127.0.0.1:0", TokenFile: filepath.Join(dir, file)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s token file: %v, want an error saying %q", file, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

// FuzzStatusAuth: /status answers any Authorization header with the full
// report only for the token itself, the report without output for no
// header, and 401 for everything else; the output never shows otherwise.
//
//	go test -fuzz FuzzStatusAuth ./server/
func FuzzStatusAuth(f *testing.F) {
	const token = "0123456789abcdef0123456789abcdef"
	for _, seed := range []string{"", "Bearer " + token, "bearer " + token, "Bearer  " + token, "Bearer " + token + " ",
		"Bearer " + token[:31], "Basic " + token, "Bearer", token, "Bearer \x00", "Bearer " + strings.Repeat("0", 32)} {
		f.Add(seed)
	}
	repo := testkit.NewRepo(f)
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:1\n    restart: always\n")
	repo.Commit("v1")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:1")
	fake.Publish("app:2", "sha256:2")
	fake.CrashImage("app:2")
	ctl := controller.New(config.Source{Name: "prod", Repo: repo.Dir, Ref: "main"}, f.TempDir(), chatty{fake}, nil, nil)
	ctl.Executor.Clock = fakeclock.NewAuto()
	ctx := context.Background()
	if _, err := ctl.Apply(ctx); err != nil {
		f.Fatal(err)
	}
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:2\n    restart: always\n")
	repo.Commit("v2")
	ctl.Apply(ctx)
	tokenFile := filepath.Join(f.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token), 0o600)
	h, err := server.Handler(server.Config{Sources: []*controller.Controller{ctl}, TokenFile: tokenFile})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest(http.MethodGet, "/status", nil)
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body := w.Body.String()
		full := strings.Contains(body, printedSecret)
		scheme, cred, _ := strings.Cut(auth, " ")
		valid := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(cred) == token
		switch {
		case auth == "":
			if w.Code != 200 || full || !strings.Contains(body, "(withheld)") {
				t.Errorf("no token: %d, output shown: %v", w.Code, full)
			}
		case valid:
			if w.Code != 200 || !full {
				t.Errorf("the token: %d, output shown: %v", w.Code, full)
			}
		default:
			if w.Code != 401 || full || strings.Contains(body, token) {
				t.Errorf("Authorization %q: %d %s", auth, w.Code, body)
			}
		}
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/notify"
)

// hookReceiver is a notification webhook on 127.0.0.1 that keeps every
// payload and every problem with its signature or body.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []notify.Payload
	bad []string
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if sig := req.Header.Get(notify.SignatureHeader); sig != notify.Sign([]byte(secret), body) {
			r.bad = append(r.bad, fmt.Sprintf("bad signature %q", sig))
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.Version != notify.PayloadVersion {
			r.bad = append(r.bad, fmt.Sprintf("bad body %s: %v", body, err))
		}
		r.got = append(r.got, p)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) events() []notify.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Payload(nil), r.got...)
}

func (r *hookReceiver) kinds() string {
	var k []string
	for _, p := range r.events() {
		k = append(k, string(p.Kind))
	}
	return strings.Join(k, " ")
}

// notifyStack is the test app as version v, unhealthy or not; broken: a
// compose file that does not load.
func notifyStack(img string, port int, v string, unhealthy bool) string {
	env := ""
	if unhealthy {
		env = "\n      UNHEALTHY: \"1\""
	}
	return fmt.Sprintf(`services:
  web:
    image: %[1]s
    environment:
      VERSION: "%[3]s"%[4]s
    ports: ["127.0.0.1:%[2]d:8080"]
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      retries: 2
`, img, port, v, env)
}

// TestNotifyRun runs moor run with a signed webhook target and walks a
// source through a deploy, a release that fails its health check and is
// rolled back, a broken compose file and a fixed release: the receiver
// gets exactly one message per change, none for the polls in between, a
// mail target (its smtp:// URL in a file) that asks for failures gets the
// failure alone, and a target that never answers holds none of it up.
func TestNotifyRun(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	repo := testkit.NewRepo(t)
	recv := newHookReceiver(t, "hook-s3cret")
	hung := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	t.Cleanup(func() { close(hung); dead.Close() })
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	secret := filepath.Join(dir, "hook-secret")
	if err := os.WriteFile(secret, []byte("hook-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	smtp := testkit.SMTP(t)
	mailURL := filepath.Join(dir, "mail-url")
	if err := os.WriteFile(mailURL, []byte(fmt.Sprintf("smtp://127.0.0.1:%d/?from=moor@example.com&to=ops@example.com&auth=None&encryption=None&usestarttls=No\n", smtp.Port)), 0o600); err != nil {
		t.Fatal(err)
	}

	repo.Write(stack+"/compose.yaml", notifyStack(img, port, "1", false))
	repo.Commit("first deploy")
	runFromConfig(t, `state_dir: %s
listen: "off"
notifications:
  unreachable_after: 2s
  targets:
    - webhook: {url: %s, secret_file: %s}
      sources: [%s]
    - webhook: {url: %s}
    - url_file: %s
      events: [failed]
sources:
  - name: %s
    repo: %s
    interval: 1s
`, state, recv.URL, secret, stack, dead.URL, mailURL, stack, repo.Dir)

	// quiet waits for three more polls and checks that the receiver got
	// nothing more than want.
	quiet := func(want string) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, "moor's first run", func() bool { return runStatus(t, state, stack) != nil })
		for range 3 {
			nextPoll(t, state, stack)
		}
		if got := recv.kinds(); got != want {
			t.Fatalf("after polls that changed nothing, the receiver got %q, want %q", got, want)
		}
	}
	wait := func(what, want string) {
		t.Helper()
		testkit.Eventually(t, 90*time.Second, what, func() bool { return strings.HasPrefix(recv.kinds(), want) })
	}

	wait("applied", "applied")
	get(t, url+"/")
	quiet("applied")

	repo.Write(stack+"/compose.yaml", notifyStack(img, port, "2", true))
	repo.Commit("an unhealthy release")
	wait("failed", "applied failed")
	quiet("applied failed")
	testkit.Eventually(t, 30*time.Second, "the failure mailed", func() bool {
		return strings.Contains(smtp.Received(), "Subject: moor "+stack+": failed ")
	})
	failed := recv.events()[1]
	if failed.Commit.Subject != "an unhealthy release" || failed.Commit.Author != "moor test" || len(failed.Commit.Short) != 7 ||
		!strings.Contains(failed.Text, stack+"/web/1: new container is unhealthy") || !strings.Contains(failed.Text, "old container restored") ||
		!strings.Contains(failed.Text, `last output: "testapp: version=2`) {
		t.Errorf("the failed event lacks the commit, what failed or the rollback: %+v", failed)
	}

	repo.Write(stack+"/compose.yaml", "services:\n  web:\n    image: [not, a, string]\n")
	repo.Commit("a broken compose file")
	wait("refused", "applied failed refused")
	quiet("applied failed refused")

	repo.Write(stack+"/compose.yaml", notifyStack(img, port, "4", false))
	repo.Commit("the fixed release")
	wait("applied, recovered", "applied failed refused applied recovered")
	quiet("applied failed refused applied recovered")
	if body := get(t, url+"/"); !strings.Contains(body, "version=4 ") {
		t.Errorf("the fixed release serves %q", body)
	}
	recovered := recv.events()[4]
	if len(recovered.Services) != 1 || recovered.Services[0] != stack+"/web" || recovered.Commit.Subject != "the fixed release" {
		t.Errorf("the recovered event: %+v", recovered)
	}
	// A container removed by hand is put back: drift, told once.
	const before = "applied failed refused applied recovered"
	web := containers(t, cli, stack)[stack+"-web-1"]
	if err := removeByHand(t, cli, web); err != nil {
		t.Fatal(err)
	}
	wait("drift", before+" drift")
	quiet(before + " drift")

	// The repository gone for longer than unreachable_after, then back:
	// told once each way.
	away := repo.Dir + ".away"
	if err := os.Rename(repo.Dir, away); err != nil {
		t.Fatal(err)
	}
	wait("unreachable", before+" drift unreachable")
	if err := os.Rename(away, repo.Dir); err != nil {
		t.Fatal(err)
	}
	wait("reachable", before+" drift unreachable reachable")
	quiet(before + " drift unreachable reachable")
	for _, p := range recv.events() {
		t.Logf("%s\n%s", p.Title, p.Text)
	}
	recv.mu.Lock()
	if len(recv.bad) > 0 {
		t.Errorf("problems with the webhook's requests: %q", recv.bad)
	}
	recv.mu.Unlock()
	if mails := strings.Count(smtp.Received(), "Subject: "); mails != 1 {
		t.Errorf("%d mails, want the failure's alone:\n%s", mails, smtp.Received())
	}
	testkit.AssertAlive(t, bystander)
}

// removeByHand removes a container as an operator would, behind moor's back.
func removeByHand(t *testing.T, cli *client.Client, id string) error {
	_, err := cli.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{Force: true})
	return err
}

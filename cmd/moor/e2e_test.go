package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// moor runs the CLI in-process, as a user would run the binary.
type moor struct {
	t        testing.TB
	repo     string
	stateDir string
	source   string
}

func newMoor(t testing.TB, repo, source string) *moor {
	return &moor{t: t, repo: repo, stateDir: t.TempDir(), source: source}
}

// run runs a moor command with the source flags added to plan and apply.
func (m *moor) run(args ...string) (int, string) {
	m.t.Helper()
	switch args[0] {
	case "plan", "apply":
		if m.repo == "" { // the test gives --config
			break
		}
		args = append(args, "--repo", m.repo, "--name", m.source, "--state-dir", m.stateDir, "--log-level", "warn")
	case "status", "history":
		args = append(args, "--state-dir", m.stateDir)
	}
	var out, errb bytes.Buffer
	code := run(m.t.Context(), args, &out, &errb)
	m.t.Logf("moor %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String() + errb.String()
}

func (m *moor) mustApply() string {
	m.t.Helper()
	code, out := m.run("apply")
	if code != 0 {
		m.t.Fatalf("apply exited %d:\n%s", code, out)
	}
	return out
}

// containers returns container name -> ID of a stack, as the engine shows them.
func containers(t testing.TB, cli *client.Client, stack string) map[string]string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", "moor.stack="+stack),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range res.Items {
		out[strings.TrimPrefix(c.Names[0], "/")] = c.ID
	}
	return out
}

func get(t testing.TB, url string) string {
	t.Helper()
	var body string
	testkit.Eventually(t, 20*time.Second, "GET "+url, func() bool {
		code, b, err := testkit.HTTPGet(url)
		body = b
		return err == nil && code == http.StatusOK
	})
	return body
}

// putFile writes content to path inside the test app's container through
// its HTTP API (e.g. into a mounted volume).
func putFile(t testing.TB, url, path, content string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/file?path="+path, strings.NewReader(content))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("write %s: %v %v", path, resp, err)
	}
	resp.Body.Close()
}

func lifecycleCompose(img string, port int, webEnv, workerEnv string) string {
	return fmt.Sprintf(`services:
  web:
    image: %[1]s
    environment:
      VERSION: "%[3]s"
    ports:
      - "127.0.0.1:%[2]d:8080"
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      timeout: 2s
      retries: 3
    restart: unless-stopped
  worker:
    image: %[1]s
    environment:
      VERSION: "%[4]s"
    restart: unless-stopped
volumes:
  data: {}
`, img, port, webEnv, workerEnv)
}

// TestApplyLifecycle walks a deploy repository through the life a user gives
// it: first deploy, a no-op, a change to one service, a revert, a removed
// service whose volume must survive, and a broken commit that must change
// nothing. An unrelated container must survive every step.
func TestApplyLifecycle(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	web, worker := stack+"-web-1", stack+"-worker-1"

	// First deploy.
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	first := repo.Commit("first deploy")
	if code, out := m.run("plan", "--exit-code"); code != exitChanges || !strings.Contains(out, "create "+stack+"/web/1 (missing)") {
		t.Fatalf("plan before the first deploy: exit %d\n%s", code, out)
	}
	m.mustApply()
	if body := get(t, url+"/"); !strings.Contains(body, "version=1") {
		t.Fatalf("web answers %q", body)
	}
	ids := containers(t, cli, stack)
	if len(ids) != 2 || ids[web] == "" || ids[worker] == "" {
		t.Fatalf("containers after first deploy: %v", ids)
	}
	testkit.AssertAlive(t, bystander)

	// A second apply changes nothing.
	if code, out := m.run("plan", "--exit-code"); code != exitOK || !strings.Contains(out, "no changes") {
		t.Fatalf("plan on a converged host: exit %d\n%s", code, out)
	}
	m.mustApply()
	if got := containers(t, cli, stack); got[web] != ids[web] || got[worker] != ids[worker] {
		t.Fatalf("a no-op apply touched containers: %v -> %v", ids, got)
	}

	// Data written into the named volume.
	putFile(t, url, "/data/kept", "precious")

	// Change the worker only: web keeps its container.
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "2"))
	repo.Commit("worker v2")
	if code, out := m.run("plan"); code != 0 || !strings.Contains(out, "replace "+stack+"/worker/1 (config changed: environment)") {
		t.Fatalf("plan of the worker change: %s", out)
	}
	m.mustApply()
	got := containers(t, cli, stack)
	if got[web] != ids[web] {
		t.Errorf("web was replaced by a change to worker")
	}
	if got[worker] == ids[worker] || got[worker] == "" {
		t.Errorf("worker was not replaced: %v", got)
	}
	if len(got) != 2 {
		t.Errorf("leftover containers: %v", got)
	}

	// git revert brings the previous config back.
	repo.Revert(repo.Head())
	m.mustApply()
	reverted := containers(t, cli, stack)
	inspect, err := cli.ContainerInspect(t.Context(), reverted[worker], client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(inspect.Container.Config.Env, "VERSION=1") {
		t.Errorf("after revert worker env is %v", inspect.Container.Config.Env)
	}
	if inspect.Container.Config.Labels["moor.revision"] != "main@sha1:"+repo.Head() {
		t.Errorf("worker revision label %q, want head %s", inspect.Container.Config.Labels["moor.revision"], repo.Head())
	}

	// Remove web from git: its container goes, its volume and data stay.
	repo.Write(stack+"/compose.yaml", workerOnly(img))
	repo.Commit("retire web")
	m.mustApply()
	if got := containers(t, cli, stack); got[web] != "" || got[worker] == "" {
		t.Fatalf("after removing web: %v", got)
	}
	vols, err := cli.VolumeList(t.Context(), client.VolumeListOptions{Filters: make(client.Filters).Add("name", stack+"_data")})
	if err != nil || len(vols.Items) != 1 {
		t.Fatalf("volume %s_data after its service was removed: %v %v", stack, vols.Items, err)
	}
	// Bring web back: the data is still there.
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	repo.Commit("web is back")
	m.mustApply()
	if body := get(t, url+"/file?path=/data/kept"); body != "precious" {
		t.Fatalf("volume data after the service came back: %q", body)
	}

	// A broken commit changes nothing, and the error names the file.
	before := containers(t, cli, stack)
	repo.Write(stack+"/compose.yaml", "services:\n  web:\n    image: [unclosed\n")
	repo.Commit("broken")
	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, "compose.yaml") {
		t.Fatalf("broken commit: exit %d, output does not name the file:\n%s", code, out)
	}
	if after := containers(t, cli, stack); !equalMaps(before, after) {
		t.Fatalf("a broken commit changed containers: %v -> %v", before, after)
	}
	testkit.AssertAlive(t, bystander)

	// status and history tell the story.
	_, status := m.run("status")
	if !strings.Contains(status, stack+"/worker") || !strings.Contains(status, "broken") {
		t.Errorf("status does not show the broken stack:\n%s", status)
	}
	_, history := m.run("history", "--stack", stack)
	for _, want := range []string{"first deploy", "worker v2", "retire web", "broken", first[:7]} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}
}

func workerOnly(img string) string {
	return fmt.Sprintf(`services:
  worker:
    image: %s
    environment:
      VERSION: "1"
    restart: unless-stopped
volumes:
  data: {}
`, img)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/apispec"
	"github.com/moor-dev/moor/internal/testkit"
)

// TestAPISyncDeploys: moor run serves the API on its listen address. With
// an hour-long interval and a remote repository (a local one would be
// watched), the API shows the deployed stack, its containers with their
// revision and health, and an empty plan; a commit is deployed only once
// POST .../sync carries the token, and the API shows the new revision.
// Without the token the sync is refused. Every answer validates against
// docs/openapi.yaml.
func TestAPISyncDeploys(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	testkit.Docker(t)
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := apispec.Load("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port, apiPort := testkit.FreePort(t), testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "1", "1"))
	v1 := repo.Commit("v1")
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	git := testkit.GitHTTP(t, root, "", "")
	dir := t.TempDir()
	token := "0123456789abcdef0123456789abcdef"
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	cfg := fmt.Sprintf(`state_dir: %s
listen: 127.0.0.1:%d
api:
  token_file: %s
sources:
  - name: %s
    repo: %s
    interval: 1h
`, filepath.Join(dir, "state"), apiPort, filepath.Join(dir, "token"), stack, git.URL("deploy.git"))
	os.WriteFile(filepath.Join(dir, "moor.yaml"), []byte(cfg), 0o600)

	var logs syncBuffer
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "moor.yaml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		t.Logf("moor run log:\n%s", logs.String())
	})

	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1", apiPort)
	// call sends a request, checks the answer against docs/openapi.yaml
	// and decodes it; code is 0 while moor does not listen yet.
	call := func(method, path, auth string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if err := spec.Check(method, req.URL.Path, res.StatusCode, b); err != nil {
			t.Errorf("%v\n%s", err, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
		return res.StatusCode
	}
	type container struct {
		Stack, Service, Name, State, Health, Revision string
		InSync                                        bool `json:"in_sync"`
	}
	var cs struct {
		Version    int
		Containers []container
	}
	// deployed reports whether the stack's containers are in sync and
	// running, web healthy and made from rev (worker is the same in every
	// revision, and keeps the one it was made from).
	deployed := func(rev string) bool {
		if call("GET", "/sources/"+stack+"/containers", "", &cs) != http.StatusOK || len(cs.Containers) != 2 {
			return false
		}
		for _, c := range cs.Containers {
			if c.State != "running" || !c.InSync || c.Service == "web" && (c.Health != "healthy" || !strings.HasSuffix(c.Revision, rev)) {
				return false
			}
		}
		return true
	}
	testkit.Eventually(t, 60*time.Second, "the API shows v1 deployed and healthy", func() bool { return deployed(v1) })
	if cs.Version != 1 || cs.Containers[0].Name != stack+"-web-1" || cs.Containers[1].Name != stack+"-worker-1" || !strings.HasSuffix(cs.Containers[1].Revision, v1) {
		t.Errorf("containers: %+v", cs)
	}

	var stacks struct {
		Stacks []struct {
			Name     string
			Services []struct{ Service, State string }
		}
	}
	call("GET", "/sources/"+stack+"/stacks", "", &stacks)
	if len(stacks.Stacks) != 1 || stacks.Stacks[0].Name != stack || len(stacks.Stacks[0].Services) != 2 || stacks.Stacks[0].Services[0].State != "in-sync" {
		t.Errorf("stacks: %+v", stacks)
	}
	var plan struct {
		Plan struct {
			Revision string
			Ops      []any
		}
	}
	call("GET", "/sources/"+stack+"/plan", "", &plan)
	if !strings.HasSuffix(plan.Plan.Revision, v1) || len(plan.Plan.Ops) != 0 {
		t.Errorf("plan of the converged stack: %+v, want no ops at v1", plan)
	}

	// moor checks the engine for drift once it follows its events, in a
	// run of its own after the first; after that one the source is quiet
	// for the hour, and only the sync below deploys the next commit.
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", apiPort)
	testkit.Eventually(t, 30*time.Second, "the drift check after the first run", func() bool {
		_, b, err := testkit.HTTPGet(metrics)
		return err == nil && strings.Contains(b, `moor_runs_total{result="noop",source="`+stack+`"} 1`)
	})

	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "2", "1"))
	v2 := repo.Commit("v2")
	repo.Git("push", "--quiet", bare, "main")
	var refused struct {
		Error struct{ Code, Message string }
	}
	if code := call("POST", "/sources/"+stack+"/sync", "", &refused); code != http.StatusUnauthorized || refused.Error.Code != "unauthorized" {
		t.Fatalf("sync without the token: %d %+v, want 401", code, refused)
	}
	if code := call("POST", "/sources/"+stack+"/sync", "Bearer "+token[1:]+"x", &refused); code != http.StatusUnauthorized {
		t.Fatalf("sync with a wrong token: %d %+v, want 401", code, refused)
	}
	if !deployed(v1) {
		t.Fatalf("refused syncs changed the stack: %+v", cs)
	}
	var accepted struct{ Action, Source string }
	if code := call("POST", "/sources/"+stack+"/sync", "Bearer "+token, &accepted); code != http.StatusAccepted || accepted.Action != "sync" || accepted.Source != stack {
		t.Fatalf("sync with the token: %d %+v, want 202", code, accepted)
	}
	testkit.Eventually(t, 60*time.Second, "the API shows v2 deployed after the sync", func() bool { return deployed(v2) })
	if _, body, err := testkit.HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || !strings.Contains(body, "version=2") {
		t.Errorf("the web service after the sync: %q %v, want version=2", body, err)
	}

	var ledger struct {
		Records []struct {
			Seq      int
			Revision string
			Result   string
		}
		NextBefore int `json:"next_before"`
	}
	call("GET", "/ledger?limit=1", "", &ledger)
	if len(ledger.Records) != 1 || !strings.HasSuffix(ledger.Records[0].Revision, v2) || ledger.Records[0].Result != "success" || ledger.NextBefore != ledger.Records[0].Seq {
		t.Errorf("the ledger's first page: %+v, want v2's success, and a next page", ledger)
	}
	// Suspended through the API, the stack keeps v2 through a commit and
	// a sync; resumed, it is deployed.
	var suspend struct{ Action, Stack string }
	if code := call("POST", "/sources/"+stack+"/stacks/"+stack+"/suspend", "", &suspend); code != http.StatusUnauthorized {
		t.Fatalf("suspend without the token: %d, want 401", code)
	}
	if code := call("POST", "/sources/"+stack+"/stacks/"+stack+"/suspend", "Bearer "+token, &suspend); code != http.StatusOK || suspend.Action != "suspend" {
		t.Fatalf("suspend: %d %+v", code, suspend)
	}
	repo.Write(stack+"/compose.yaml", lifecycleCompose(img, port, "3", "1"))
	v3 := repo.Commit("v3")
	repo.Git("push", "--quiet", bare, "main")
	if code := call("POST", "/sources/"+stack+"/sync", "Bearer "+token, &accepted); code != http.StatusAccepted {
		t.Fatalf("sync while suspended: %d", code)
	}
	var source struct {
		Source struct {
			Status struct {
				Revision  string
				Suspended []struct{ Stack, By string }
			}
		}
	}
	testkit.Eventually(t, 30*time.Second, "the source's status names the suspension after the sync", func() bool {
		call("GET", "/sources/"+stack, "", &source)
		st := source.Source.Status
		return strings.HasSuffix(st.Revision, v3) && len(st.Suspended) == 1 && st.Suspended[0].Stack == stack && st.Suspended[0].By == "api"
	})
	call("GET", "/sources/"+stack+"/containers", "", &cs)
	for _, c := range cs.Containers {
		if c.Service == "web" && (c.State != "running" || !strings.HasSuffix(c.Revision, v2) || c.InSync) {
			t.Fatalf("a suspended stack changed, or shows in sync with v3: %+v", cs)
		}
	}
	if code := call("POST", "/sources/"+stack+"/stacks/"+stack+"/resume", "Bearer "+token, &suspend); code != http.StatusOK || suspend.Action != "resume" {
		t.Fatalf("resume: %d %+v", code, suspend)
	}
	testkit.Eventually(t, 60*time.Second, "the API shows v3 deployed once resumed", func() bool { return deployed(v3) })
	testkit.AssertAlive(t, bystander)
}

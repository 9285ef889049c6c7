package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/forge/forgetest"
	"github.com/moor-dev/moor/internal/testkit"
)

// TestCommitStatus: moor run posts the deploy state of each commit to the
// forge (a fake of GitHub's API that refuses any other shape): pending then
// success for a good commit, pending then failure for one whose rollout is
// rolled back, and nothing more while later polls find the same.
func TestCommitStatus(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	repo := testkit.NewRepo(t)
	good := rolloutService{replicas: 1, env: map[string]string{"VERSION": "1"}}
	repo.Write(stack+"/compose.yaml", good.compose(img))
	goodSHA := repo.Commit("v1")

	fake := forgetest.New(t, "github", "ops/deploy", "ghp-e2e-token")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "forge-token")
	if err := os.WriteFile(tokenFile, []byte(fake.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := testkit.FreePort(t)
	cfg := fmt.Sprintf(`state_dir: %s
listen: 127.0.0.1:%d
sources:
  - name: %s
    repo: %s
    interval: 1s
    commit_status:
      provider: github
      api_url: %s
      repository: ops/deploy
      token_file: %s
      context: moor/e2e
`, t.TempDir(), listen, stack, repo.Dir, fake.URL, tokenFile)
	if err := os.WriteFile(filepath.Join(dir, "moor.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startMoor(t, "run", "--config", filepath.Join(dir, "moor.yaml"))

	calls := fake.Wait(2)
	want := []string{goodSHA[:7] + " pending rolling out " + stack + "/web", goodSHA[:7] + " success deployed: 1 service in 1 stack"}
	assertCalls(t, calls, want)
	web := stack + "-web-1"
	res, err := cli.ContainerInspect(t.Context(), web, client.ContainerInspectOptions{})
	if err != nil || !res.Container.State.Running {
		t.Fatalf("%s does not run after success was posted: %v", web, err)
	}
	goodID := res.Container.ID

	bad := rolloutService{replicas: 1, env: map[string]string{"VERSION": "2", "UNHEALTHY": "1"}}
	repo.Write(stack+"/compose.yaml", bad.compose(img))
	badSHA := repo.Commit("v2, unhealthy")
	calls = fake.Wait(4)
	if len(calls) != 4 || calls[3].State != "failure" || !strings.HasPrefix(calls[3].Description, "rolled back: replace "+stack+"/web/1") ||
		!strings.Contains(calls[3].Description, "unhealthy") {
		t.Errorf("the rolled back commit's status: %v", calls[len(calls)-1])
	}
	assertCalls(t, calls[2:3], []string{badSHA[:7] + " pending rolling out " + stack + "/web"})
	if calls[3].Commit != badSHA {
		t.Errorf("the failure was posted to %s, want %s", calls[3].Commit, badSHA)
	}
	res, err = cli.ContainerInspect(t.Context(), web, client.ContainerInspectOptions{})
	if err != nil || res.Container.ID != goodID || !res.Container.State.Running {
		t.Errorf("after the rollback %s is not the good container, running: %v", web, err)
	}

	// Later polls find the same failure (the service is held back): the
	// forge hears nothing more.
	addr := fmt.Sprintf("127.0.0.1:%d", listen)
	runs := metric(t, addr, "moor_runs_total{")
	testkit.Eventually(t, 60*time.Second, "three more polls", func() bool { return metric(t, addr, "moor_runs_total{") >= runs+3 })
	if got := fake.Requests(); got != 4 {
		t.Errorf("the forge had %d requests after polls that changed nothing, want 4: %v", got, fake.Calls())
	}
	if posted := metric(t, addr, `moor_commit_status_posts_total{result="posted"`); posted != 4 {
		t.Errorf("moor_commit_status_posts_total{result=posted} = %v, want 4", posted)
	}
	if res, err := cli.ContainerInspect(t.Context(), bystander, client.ContainerInspectOptions{}); err != nil || !res.Container.State.Running {
		t.Errorf("the unrelated container is gone or stopped: %v", err)
	}
}

func assertCalls(t *testing.T, calls []forgetest.Call, want []string) {
	t.Helper()
	var got []string
	for _, c := range calls {
		got = append(got, c.String())
		if c.Context != "moor/e2e" {
			t.Errorf("status %v under context %q", c, c.Context)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statuses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCommitStatusApply: a one-shot moor apply has posted its statuses by
// the time it exits.
func TestCommitStatusApply(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", rolloutService{replicas: 1, env: map[string]string{"VERSION": "1"}}.compose(img))
	sha := repo.Commit("v1")
	fake := forgetest.New(t, "gitlab", "ops/deploy", "glpat-e2e")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`sources:
  - name: %s
    repo: %s
    commit_status:
      provider: gitlab
      api_url: %s
      repository: ops/deploy
      token_env: MOOR_TEST_GITLAB_TOKEN
`, stack, repo.Dir, fake.URL)
	if err := os.WriteFile(filepath.Join(dir, "moor.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOOR_TEST_GITLAB_TOKEN", fake.Token)
	var out strings.Builder
	if code := run(t.Context(), []string{"apply", "--config", filepath.Join(dir, "moor.yaml"), "--state-dir", t.TempDir()}, &out, &out); code != 0 {
		t.Fatalf("apply exited %d:\n%s", code, out.String())
	}
	var got []string
	for _, c := range fake.Calls() {
		got = append(got, c.Commit+" "+c.State)
	}
	if want := []string{sha + " running", sha + " success"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("when moor apply exited the forge had taken:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

package swarm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/swarm"
)

// engine returns a swarm engine on the test's swarm, with short waits.
func engine(t *testing.T) *swarm.Engine {
	t.Helper()
	testkit.Swarm(t)
	e, err := swarm.NewEngine(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// load writes the stack's compose file (and files) into a repository
// directory and maps it as the controller would.
func load(t testing.TB, stack string, files map[string]string) *swarm.Desired {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, stack, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stacks, broken, err := compose.LoadSwarm(t.Context(), root, compose.Options{Repo: root})
	if err != nil {
		t.Fatal(err)
	}
	return swarm.Map(stacks, broken, "swarmsrc", "owner-1", "main@sha1:"+strings.Repeat("a", 40))
}

// converge plans and applies d, and returns the plan that was applied.
func converge(t testing.TB, ctx context.Context, e *swarm.Engine, d *swarm.Desired) string {
	t.Helper()
	obs, err := e.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := swarm.MakePlan(d, obs, nil)
	res := e.Apply(ctx, d, p)
	for _, r := range res.Failed() {
		t.Errorf("%s: %v", r.Op, r.Err)
	}
	return p.String()
}

// remaining is the plan of d against the swarm as it is now.
func remaining(t *testing.T, ctx context.Context, e *swarm.Engine, d *swarm.Desired) string {
	t.Helper()
	obs, err := e.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return swarm.MakePlan(d, obs, nil).String()
}

func TestEngineDeployConverges(t *testing.T) {
	e := engine(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	d := load(t, stack, map[string]string{
		"compose.yaml": `
services:
  web:
    image: ` + img + `
    environment: {VERSION: "1"}
    configs: [{source: site, target: /etc/site.conf}]
    secrets: [token]
    healthcheck: {test: ["CMD", "/testapp", "health"], interval: 1s, retries: 3}
    deploy: {replicas: 2}
configs:
  site: {file: ./site.conf}
secrets:
  token: {file: ./token.txt}
`,
		"site.conf": "listen 8080\n",
		"token.txt": "s3cret\n",
	})
	if len(d.Broken) > 0 {
		t.Fatalf("broken: %v", d.Broken)
	}
	plan := converge(t, t.Context(), e, d)
	t.Logf("plan:\n%s", plan)
	if rem := remaining(t, t.Context(), e, d); rem != "" {
		t.Errorf("after the apply, the plan is not empty:\n%s", rem)
	}
}

// TestEnginePrunesVolumes: under prune.volumes, a stack removed from git
// loses this node's named volumes, once its service is gone.
func TestEnginePrunesVolumes(t *testing.T) {
	e := engine(t)
	cli := testkit.Swarm(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	d := load(t, stack, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + img + "\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"})
	converge(t, t.Context(), e, d)
	f := client.Filters{}.Add("label", "com.docker.stack.namespace="+stack)
	if l, _ := cli.VolumeList(t.Context(), client.VolumeListOptions{Filters: f}); len(l.Items) != 1 {
		t.Fatalf("volumes of %s after the deploy: %+v, want %s_data", stack, l.Items, stack)
	}
	gone := load(t, "another", map[string]string{"compose.yaml": "services: {}\n"})
	gone.PruneVolumes = true
	plan := converge(t, t.Context(), e, gone)
	if !strings.Contains(plan, "remove volume "+stack+"_data (stack removed from git, prune.volumes)\n") {
		t.Errorf("the plan does not remove the volume:\n%s", plan)
	}
	if l, _ := cli.VolumeList(t.Context(), client.VolumeListOptions{Filters: f}); len(l.Items) != 0 {
		t.Errorf("volumes of %s after the prune: %+v", stack, l.Items)
	}
}

// TestEngineRefusesWhatItsAPIDrops: a field the engine's API version does
// not know fails its op with a message naming it, rather than a service
// deployed without it.
func TestEngineRefusesWhatItsAPIDrops(t *testing.T) {
	e := engine(t)
	cli := testkit.Swarm(t)
	if v := cli.ClientVersion(); !versions.LessThan(v, "1.44") {
		t.Skipf("the engine speaks API %s, which knows start_interval", v)
	}
	stack := testkit.StackName(t)
	testkit.CleanupSwarmStack(t, stack)
	d := load(t, stack, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + testkit.TestImage(t) +
		"\n    healthcheck: {test: [CMD, /testapp, health], start_interval: 1s}\n"})
	obs, err := e.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res := e.Apply(t.Context(), d, swarm.MakePlan(d, obs, nil))
	want := "service " + stack + "_web: healthcheck.start_interval needs Engine API 1.44; this engine speaks " + cli.ClientVersion()
	if f := res.Failed(); len(f) != 1 || f[0].Err.Error() != want {
		t.Errorf("failed ops: %+v; want the create, with %q", f, want)
	}
}

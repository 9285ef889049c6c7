package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// TestDockerServiceNameAndExpose: a container is reachable by its service's
// name, as compose makes it; a candidate is not, until Expose.
func TestDockerServiceNameAndExpose(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	img := testkit.TestImage(t)
	net := stack + "_default"
	if err := d.CreateNetwork(ctx, reconcile.NetworkSpec{Name: net}, map[string]string{reconcile.LabelStack: stack}); err != nil {
		t.Fatal(err)
	}
	spec := func(version string) reconcile.ContainerSpec {
		return reconcile.ContainerSpec{Image: img, Env: []string{"VERSION=" + version},
			Networks: []reconcile.NetworkAttachment{{Name: net, Aliases: []string{"api-alias"}}}}
	}
	create(t, d, stack, "api", 1, spec("old"))
	candidate, err := d.CreateContainer(ctx, reconcile.ContainerName(stack, "api", 1)+reconcile.CandidateSuffix, spec("new"), labels(stack, "api", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.StartContainer(ctx, candidate); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "candidate running", func() bool {
		c, err := d.InspectContainer(ctx, candidate)
		return err == nil && c.Running()
	})

	// Before Expose, every answer by name is the old container's.
	for _, name := range []string{"api", "api-alias"} {
		for i := 0; i < 4; i++ {
			if out := probe(t, d, stack, net, name, i); !strings.Contains(out, "version=old") {
				t.Fatalf("GET http://%s:8080/ before Expose answered %q, want only the old container", name, out)
			}
		}
	}
	if err := d.Expose(ctx, candidate, reconcile.ContainerName(stack, "api", 1), spec("new"), "api"); err != nil {
		t.Fatal(err)
	}
	// After it, the name reaches the new container too (the engine's DNS
	// answers with both, in turn).
	n := 0
	testkit.Eventually(t, 30*time.Second, "the candidate answers by the service name", func() bool {
		n++
		return strings.Contains(probe(t, d, stack, net, "api", 10+n), "version=new")
	})
}

// probe runs one GET of http://NAME:8080/ from a container on net and
// returns its output.
func probe(t *testing.T, d *runtime.Docker, stack, net, name string, n int) string {
	t.Helper()
	ctx := context.Background()
	id := create(t, d, stack, "probe", 100+n, reconcile.ContainerSpec{
		Image: testkit.TestImage(t), Command: []string{"get", "http://" + name + ":8080/"},
		Networks: []reconcile.NetworkAttachment{{Name: net}},
	})
	defer d.RemoveContainer(ctx, id)
	var c reconcile.Container
	testkit.Eventually(t, 10*time.Second, "probe exits", func() bool {
		var err error
		c, err = d.InspectContainer(ctx, id)
		return err == nil && c.State == reconcile.StateExited
	})
	logs, _ := d.Logs(ctx, id, 5)
	return logs
}

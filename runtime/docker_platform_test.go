package runtime_test

import (
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerPlatform pulls and creates for a platform, as compose does
// with platform:, and refuses to create from a local image of another
// platform rather than run it (an engine of API 1.41 pulls a single-platform
// image whatever the platform asked, so the check is at create).
func TestDockerPlatform(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	reg := testkit.Registry(t)
	ref := testkit.Push(t, reg, testkit.TestImage(t), "moor/platform:v1")
	t.Cleanup(func() { removeImage(t, ref) })

	if err := d.Pull(t.Context(), ref, "linux/amd64"); err != nil {
		t.Fatalf("pull for linux/amd64: %v", err)
	}
	id := create(t, d, stack, "api", 1, reconcile.ContainerSpec{Image: ref, Env: []string{"PORT=8080"}, Platform: "linux/amd64"})
	if c := inspectRaw(t, id); c.Platform != "linux" || c.Image == "" {
		t.Errorf("container platform = %q, want linux", c.Platform)
	}
	_, err := d.CreateContainer(t.Context(), reconcile.ContainerName(stack, "arm", 1), reconcile.ContainerSpec{Image: ref, Platform: "linux/arm64"}, labels(stack, "arm", 1))
	if err == nil || !strings.Contains(err.Error(), "platform linux/arm64: the local image "+ref+" is for linux/amd64") {
		t.Errorf("create for linux/arm64 from an amd64 image: %v", err)
	}
}

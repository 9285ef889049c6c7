package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// LabelTestBuild marks the images a test has moor build: give it in the
// build's labels (build.labels in compose) with the test's stack name as
// value, and CleanupBuilds removes them.
// It is outside the moor. namespace, which compose files may not use.
const LabelTestBuild = "moor-test.build"

// TestAppBinary returns the test app (./internal/testapp) built static for
// Linux, for a test's own FROM scratch Dockerfile to COPY: no base image
// can be pulled here.
func TestAppBinary(t testing.TB) []byte {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "testapp")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./internal/testapp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./internal/testapp: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CleanupBuilds removes, now and when the test ends, the images labelled
// LabelTestBuild=value. Call it before CleanupStack, so that the stack's
// containers are gone first (cleanups run last-in first-out).
func CleanupBuilds(t testing.TB, value string) {
	t.Helper()
	cli := Docker(t)
	removeBuilds(t, cli, value)
	t.Cleanup(func() { removeBuilds(t, cli, value) })
}

func removeBuilds(t testing.TB, cli *client.Client, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := make(client.Filters).Add("label", LabelTestBuild+"="+value)
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		t.Errorf("cleanup builds %s: %v", value, err)
		return
	}
	for _, img := range imgs.Items {
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) && !isConflict(err) {
			t.Errorf("cleanup builds %s: remove %s: %v", value, img.ID, err)
		}
	}
}

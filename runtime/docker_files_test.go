package runtime_test

import (
	"archive/tar"
	"io"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerCreateWritesFiles: configs and secrets given inline are in the
// container when it is created, with compose's mode (0444 by default) and
// the owner asked for.
func TestDockerCreateWritesFiles(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	spec := reconcile.ContainerSpec{
		Image: testkit.TestImage(t),
		Env:   []string{"PORT=8080"},
		Files: []reconcile.File{
			{Target: "/etc/app/greeting", Digest: "sha256:1", Mode: 0o440, UID: "1000", GID: "1001", Content: "hello"},
			{Target: "/run/secrets/token", Digest: "sha256:2", Content: "t0ken"},
		},
	}
	id := create(t, d, stack, "api", 1, spec)
	cli := testkit.Docker(t)
	for _, want := range []struct {
		path, content string
		mode          int64
		uid, gid      int
	}{
		{"/etc/app/greeting", "hello", 0o440, 1000, 1001},
		{"/run/secrets/token", "t0ken", 0o444, 0, 0},
	} {
		res, err := cli.CopyFromContainer(t.Context(), id, client.CopyFromContainerOptions{SourcePath: want.path})
		if err != nil {
			t.Fatalf("copy %s: %v", want.path, err)
		}
		tr := tar.NewReader(res.Content)
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		res.Content.Close()
		if string(b) != want.content || h.Mode&0o7777 != want.mode || h.Uid != want.uid || h.Gid != want.gid {
			t.Errorf("%s: %q mode %o owner %d:%d, want %q mode %o owner %d:%d",
				want.path, b, h.Mode&0o7777, h.Uid, h.Gid, want.content, want.mode, want.uid, want.gid)
		}
	}
}

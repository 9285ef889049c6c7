package runtime_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/buildcontext"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// buildContract checks Build on rt: a build is tagged and labelled with
// its hash, building it again is success and changes nothing, and a
// failed build changes no tag and names the image. fail makes the build of
// broken fail (the engine fails it by itself: nil).
func buildContract(t *testing.T, rt reconcile.Runtime, good, broken reconcile.BuildSpec, fail func()) {
	ctx := t.Context()
	observeBuild := func() (string, *reconcile.Observed) {
		t.Helper()
		obs, err := rt.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return obs.Images[good.Image], obs
	}
	if err := rt.Build(ctx, good); err != nil {
		t.Fatalf("build: %v", err)
	}
	id, obs := observeBuild()
	if id == "" || obs.BuildHashes[id] != good.Hash {
		t.Fatalf("after the build: image %s is %q with build hash %q, want it labelled %s", good.Image, id, obs.BuildHashes[id], good.Hash)
	}
	for _, tag := range good.Tags {
		if obs.Images[tag] != id {
			t.Errorf("tag %s is %q, want the build %s", tag, obs.Images[tag], id)
		}
	}
	if err := rt.Build(ctx, good); err != nil {
		t.Fatalf("build again: %v", err)
	}
	if again, _ := observeBuild(); again != id {
		t.Errorf("building the same spec again made %s, want the same image %s", again, id)
	}

	if fail != nil {
		fail()
	}
	err := rt.Build(ctx, broken)
	if err == nil || !strings.HasPrefix(err.Error(), "build "+broken.Image+": ") {
		t.Fatalf("broken build = %v, want an error naming %s", err, broken.Image)
	}
	after, obs := observeBuild()
	if after != id {
		t.Errorf("a failed build moved %s", good.Image)
	}
	if _, ok := obs.Images[broken.Image]; ok {
		t.Errorf("a failed build tagged %s", broken.Image)
	}
}

// buildSpec hashes the context dir of root as compose does and names the
// build in repository repo.
func buildSpec(t *testing.T, root, dir, repo string, labels map[string]string) reconcile.BuildSpec {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	digest, _, err := buildcontext.Digest(context.Background(), buildcontext.Context{Root: r, Dir: dir, Dockerfile: "Dockerfile"}, buildcontext.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	hash := "sha256:" + strings.TrimPrefix(digest, "sha256:") // the settings are fixed here
	return reconcile.BuildSpec{Image: reconcile.BuildImage(repo, hash), Tags: []string{repo + ":latest"}, Hash: hash,
		Root: root, Context: dir, ContextDigest: digest, Dockerfile: "Dockerfile", Labels: labels}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// multiStage is a two-stage Dockerfile that needs no base image: stage 1
// collects a file, stage 2 copies it from stage 1. .dockerignore keeps
// secret.txt out of the context.
var multiStage = map[string]string{
	"app/Dockerfile":    "FROM scratch AS files\nCOPY hello.txt /hello.txt\nFROM scratch\nCOPY --from=files /hello.txt /srv/hello.txt\nLABEL stage=final\n",
	"app/hello.txt":     "hello\n",
	"app/.dockerignore": "secret.txt\n",
	"app/secret.txt":    "do not send\n",
	"broken/Dockerfile": "FROM scratch\nCOPY secret.txt /\n",
	"broken/ok.txt":     "ok\n",
}

func TestDockerBuildContract(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupBuilds(t, stack)
	root := t.TempDir()
	writeFiles(t, root, multiStage)
	own := map[string]string{testkit.LabelTestBuild: stack}
	good := buildSpec(t, root, "app", stack+"-app", own)
	broken := buildSpec(t, root, "broken", stack+"-broken", own)
	buildContract(t, d, good, broken, nil)

	// The broken build's error carries its output: the failing step.
	err := d.Build(t.Context(), broken)
	var be *runtime.BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Message, "secret.txt") || !strings.Contains(be.Output, "COPY secret.txt") {
		t.Errorf("broken build error = %#v, want the builder's message and the step's output", err)
	}

	// The context moor sent is the hashed one: hello.txt is in the image,
	// secret.txt was left out by .dockerignore (stage 2 could not see it
	// anyway; stage 1 would have failed on a missing hello.txt).
	insp, err := testkit.Docker(t).ImageInspect(t.Context(), good.Image)
	if err != nil {
		t.Fatal(err)
	}
	if insp.Config.Labels["stage"] != "final" || insp.Config.Labels[reconcile.LabelBuildHash] != good.Hash {
		t.Errorf("image labels %v, want stage=final and the build hash", insp.Config.Labels)
	}

	// A context that changed since it was hashed is not built.
	writeFiles(t, root, map[string]string{"app/hello.txt": "changed\n"})
	changed := good
	changed.Image, changed.Tags = reconcile.BuildImage(stack+"-changed", good.Hash), nil
	if err := d.Build(t.Context(), changed); err == nil || !strings.Contains(err.Error(), "changed since it was loaded") {
		t.Errorf("build of a changed context = %v, want it refused", err)
	}
	if _, err := testkit.Docker(t).ImageInspect(t.Context(), changed.Image); err == nil {
		t.Errorf("a changed context was built into %s", changed.Image)
	}
}

func TestFakeBuildContract(t *testing.T) {
	f := runtime.NewFake()
	root := t.TempDir()
	writeFiles(t, root, multiStage)
	good := buildSpec(t, root, "app", "web-app", nil)
	broken := buildSpec(t, root, "broken", "web-broken", nil)
	buildContract(t, f, good, broken, func() {
		f.FailOnce("Build", broken.Image, errors.New("COPY failed"))
	})
}

// TestDockerBuildAuth builds FROM an image of a registry with basic auth,
// with the credentials of the docker CLI's config.json: the builder pulls
// the base with them.
func TestDockerBuildAuth(t *testing.T) {
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupBuilds(t, stack)
	reg := testkit.RegistryWithAuth(t, "moor", "s3cret")
	base := testkit.Push(t, reg, testkit.TestImage(t), "private/base:v1")
	t.Cleanup(func() { removeImage(t, base) })
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/Dockerfile": "FROM " + base + "\nLABEL built=on-top\n"})
	spec := buildSpec(t, root, "app", stack+"-app", map[string]string{testkit.LabelTestBuild: stack})

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if err := d.Build(t.Context(), spec); err == nil {
		t.Fatal("a build FROM a private image succeeded without credentials")
	}
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("moor:s3cret"))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if err := d.Build(t.Context(), spec); err != nil {
		t.Fatalf("build with config.json credentials: %v", err)
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// buildDockerfile is a two-stage FROM scratch build (no base image can be
// pulled here): stage 1 collects the context's version.txt, stage 2 copies
// it and the static test app.
const buildDockerfile = `FROM scratch AS files
COPY version.txt /version.txt
FROM scratch
COPY --from=files /version.txt /srv/version.txt
COPY testapp /testapp
ENTRYPOINT ["/testapp"]
`

func buildCompose(stack string, port int) string {
	return fmt.Sprintf(`services:
  web:
    build:
      context: ./app
      labels:
        %s: %s
    ports:
      - "127.0.0.1:%d:8080"
    restart: unless-stopped
`, testkit.LabelTestBuild, stack, port)
}

// TestApplyBuild walks a stack whose service is built on the host: the
// first apply builds and starts it, an unchanged commit builds nothing, a
// commit that changes a file of the context rebuilds and replaces, and a
// commit with a broken Dockerfile fails its build, reports the builder's
// output, and leaves the running container alone. An unrelated container
// survives every step.
func TestApplyBuild(t *testing.T) {
	t.Parallel() // its own stack, images and state; it mostly waits on the engine
	cli := testkit.Docker(t)
	stack := testkit.StackName(t)
	testkit.CleanupBuilds(t, stack)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	web := stack + "-web-1"

	repo.Write(stack+"/compose.yaml", buildCompose(stack, port))
	repo.Write(stack+"/app/Dockerfile", buildDockerfile)
	repo.Write(stack+"/app/version.txt", "1\n")
	repo.Write(stack+"/app/testapp", string(testkit.TestAppBinary(t)))
	if err := os.Chmod(filepath.Join(repo.Dir, stack, "app", "testapp"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo.Commit("a service built on the host")

	code, out := m.run("plan", "--exit-code")
	wantBuild := "build " + stack + "-web:moor-"
	if code != exitChanges || !strings.Contains(out, wantBuild) || !strings.Contains(out, "(no image of this build, wanted by "+stack+"/web)") {
		t.Fatalf("plan before the first deploy: exit %d, want %q with its cause\n%s", code, wantBuild, out)
	}
	m.mustApply()
	if body := get(t, url+"/file?path=/srv/version.txt"); body != "1\n" {
		t.Fatalf("the built service serves %q, want the context's version.txt", body)
	}
	first := containers(t, cli, stack)[web]
	if first == "" {
		t.Fatalf("no container %s after the first apply", web)
	}
	image := builtImage(t, cli, first)
	if !strings.HasPrefix(image, stack+"-web:moor-") {
		t.Fatalf("%s runs %s, want the build's image", web, image)
	}

	// A commit that changes nothing of the build builds nothing.
	repo.Write(stack+"/README.md", "not part of the build context\n")
	repo.Commit("docs only")
	if _, out := m.run("plan"); strings.Contains(out, "build ") || strings.Contains(out, "replace ") {
		t.Fatalf("plan of a commit that leaves the build alone:\n%s", out)
	}
	m.mustApply()
	if got := containers(t, cli, stack)[web]; got != first {
		t.Fatalf("an unchanged build replaced %s: %s -> %s", web, first, got)
	}
	if code, out := m.run("plan", "--exit-code"); code != exitOK || !strings.Contains(out, "no changes") {
		t.Fatalf("plan on a converged host: exit %d\n%s", code, out)
	}

	// A file of the context changes: a new image, and the service replaced.
	repo.Write(stack+"/app/version.txt", "2\n")
	repo.Commit("version 2")
	code, out = m.run("plan")
	if code != 0 || !strings.Contains(out, wantBuild) || !strings.Contains(out, "replace "+stack+"/web/1 (config changed: image)") {
		t.Fatalf("plan of a changed context: exit %d\n%s", code, out)
	}
	m.mustApply()
	second := containers(t, cli, stack)[web]
	if second == first || second == "" {
		t.Fatalf("a changed context did not replace %s: %s -> %s", web, first, second)
	}
	if body := get(t, url+"/file?path=/srv/version.txt"); body != "2\n" {
		t.Fatalf("after the rebuild the service serves %q, want 2", body)
	}
	if img := builtImage(t, cli, second); img == image {
		t.Fatalf("the rebuild runs the old image %s", img)
	}

	// A broken Dockerfile: the build fails with its output, the old
	// container keeps running and serving.
	repo.Write(stack+"/app/Dockerfile", "FROM scratch\nCOPY missing.txt /\n")
	repo.Commit("broken Dockerfile")
	code, out = m.run("apply")
	if code == 0 || !strings.Contains(out, "build "+stack+"-web:moor-") || !strings.Contains(out, "missing.txt") {
		t.Fatalf("apply of a broken build: exit %d, want the failed build with the builder's output\n%s", code, out)
	}
	if got := containers(t, cli, stack); len(got) != 1 || got[web] != second {
		t.Fatalf("a failed build changed the containers: %v, want only %s", got, second)
	}
	if body := get(t, url+"/file?path=/srv/version.txt"); body != "2\n" {
		t.Fatalf("after the failed build the service serves %q, want 2", body)
	}
	if _, status := m.run("status"); !strings.Contains(status, "missing.txt") {
		t.Errorf("status does not show the failed build:\n%s", status)
	}
	testkit.AssertAlive(t, bystander)
}

// builtImage is the image reference container id was created from.
func builtImage(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	res, err := cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.Config.Image
}

// TestComposeUpKeepsBuiltStack: `docker compose up -d` on the stack's own
// files, in its directory, neither builds nor recreates what moor built
// and runs: compose finds its image (STACK-SERVICE) and the same config
// hash and image ID on the container.
func TestComposeUpKeepsBuiltStack(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	stack := testkit.StackName(t)
	testkit.CleanupBuilds(t, stack)
	testkit.CleanupStack(t, stack)
	port := testkit.FreePort(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", buildCompose(stack, port))
	repo.Write(stack+"/app/Dockerfile", buildDockerfile)
	repo.Write(stack+"/app/version.txt", "1\n")
	repo.Write(stack+"/app/testapp", string(testkit.TestAppBinary(t)))
	if err := os.Chmod(filepath.Join(repo.Dir, stack, "app", "testapp"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo.Commit("built")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()
	before := containers(t, cli, stack)
	dir := filepath.Join(m.stateDir, "stacks", stack, stack)

	testkit.Compose(t, dir, "up", "-d", "--wait")
	if after := containers(t, cli, stack); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("docker compose up -d recreated containers:\nbefore %v\nafter  %v", before, after)
	}
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Errorf("moor plan after docker compose up -d: exit %d\n%s", code, out)
	}
}

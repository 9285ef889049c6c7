package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// These tests hold moor to invariant 1: it removes, stops or renames only
// containers it created or adopted, whatever their names or labels say.

func ownCompose(img, version string) string {
	return fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      VERSION: %q\n    restart: unless-stopped\n", img, version)
}

// TestHandMadeCandidateIsNeverTouched: a container started by hand under
// the name a replacement uses for its new container makes the replacement
// fail, with the name in the error; that container and the old one run on.
func TestHandMadeCandidateIsNeverTouched(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	repo.Write(stack+"/compose.yaml", ownCompose(img, "1"))
	repo.Commit("v1")
	m.mustApply()
	old := containers(t, cli, stack)[stack+"-web-1"]

	squatter := testkit.RunByHand(t, stack, stack+"-web-1"+reconcile.CandidateSuffix, img)
	repo.Write(stack+"/compose.yaml", ownCompose(img, "2"))
	repo.Commit("v2")
	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, "taken by a container moor does not manage") {
		t.Fatalf("apply with a hand-made candidate: exit %d\n%s", code, out)
	}
	testkit.AssertAlive(t, squatter)
	testkit.AssertAlive(t, old)
}

// TestRestoreNeverRemovesAHandMadeContainer: after an interrupted
// replacement, a container made by hand under the replica's name keeps it;
// the old container stays retired and the error says why.
func TestRestoreNeverRemovesAHandMadeContainer(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	repo.Write(stack+"/compose.yaml", ownCompose(img, "1"))
	repo.Commit("v1")
	m.mustApply()
	name := stack + "-web-1"
	ctx := t.Context()
	if _, err := cli.ContainerStop(ctx, name, client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerRename(ctx, name, client.ContainerRenameOptions{NewName: name + reconcile.RetiredSuffix}); err != nil {
		t.Fatal(err)
	}
	squatter := testkit.RunByHand(t, stack, name, img)

	code, out := m.run("apply")
	if code == 0 || !strings.Contains(out, "restore "+stack+"/web/1") {
		t.Fatalf("apply with a hand-made container holding the name: exit %d\n%s", code, out)
	}
	testkit.AssertAlive(t, squatter)
	if _, ok := containers(t, cli, stack)[name+reconcile.RetiredSuffix]; !ok {
		t.Errorf("the retired container is gone: %v", containers(t, cli, stack))
	}
}

// TestTwoInstancesLeaveEachOther: two moor instances (their own state dirs)
// with the same source name on one engine neither remove nor change each
// other's stacks; a stack both want is a conflict for the second.
func TestTwoInstancesLeaveEachOther(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	a, b := stack+"-a", stack+"-b"
	testkit.CleanupStack(t, a)
	testkit.CleanupStack(t, b)
	repoA, repoB := testkit.NewRepo(t), testkit.NewRepo(t)
	repoA.Write(a+"/compose.yaml", ownCompose(img, "1"))
	repoA.Commit("a")
	repoB.Write(b+"/compose.yaml", ownCompose(img, "1"))
	repoB.Commit("b")
	first, second := newMoor(t, repoA.Dir, "default"), newMoor(t, repoB.Dir, "default")
	first.mustApply()
	idA := containers(t, cli, a)[a+"-web-1"]
	second.mustApply()
	first.mustApply()
	if got := containers(t, cli, a)[a+"-web-1"]; got != idA {
		t.Fatalf("the second instance touched the first's stack: %s, was %s", got, idA)
	}
	if len(containers(t, cli, b)) != 1 {
		t.Fatalf("the first instance touched the second's stack: %v", containers(t, cli, b))
	}

	// The second instance now wants the first's stack too.
	repoB.Write(a+"/compose.yaml", ownCompose(img, "2"))
	repoB.Commit("b wants a")
	code, out := second.run("apply")
	if code == 0 || !strings.Contains(out, "conflict "+a) || !strings.Contains(out, "another moor instance") {
		t.Fatalf("a stack of another instance: exit %d\n%s", code, out)
	}
	if got := containers(t, cli, a)[a+"-web-1"]; got != idA {
		t.Fatalf("a conflicting stack was changed: %s, was %s", got, idA)
	}
	testkit.AssertAlive(t, idA)
}

// TestImageLabelsDoNotMakeAContainerMoors: a container started by hand
// from an image that carries moor's labels (stack, source, service) is not
// moor's, although it carries them.
func TestImageLabelsDoNotMakeAContainerMoors(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	impostorStack := stack + "-x"
	testkit.CleanupStack(t, impostorStack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	labelled := testkit.LabelledImage(t, "moor-labels", map[string]string{
		reconcile.LabelStack: impostorStack, reconcile.LabelSource: stack, reconcile.LabelService: "web",
		reconcile.LabelComposeContainerNumber: "1",
	})
	impostor := testkit.RunByHand(t, stack, impostorStack+"-web-1", labelled)
	repo.Write(stack+"/compose.yaml", ownCompose(img, "1"))
	repo.Commit("v1")
	m.mustApply() // the impostor's stack is not in git: moor would remove it
	testkit.AssertAlive(t, impostor)
	if code, out := m.run("plan", "--exit-code"); code != 0 {
		t.Fatalf("plan after the apply: exit %d\n%s", code, out)
	}
	_ = cli
}

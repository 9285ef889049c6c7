package controller_test

import (
	"context"
	"strings"
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/forge"
	"github.com/moor-dev/moor/forge/forgetest"
)

// deploys records what a controller tells its Deploy hook.
type deploys struct{ events []controller.DeployEvent }

func (d *deploys) take() []string {
	var out []string
	for _, ev := range d.events {
		out = append(out, ev.Revision.Commit[:7]+" "+ev.State+" "+ev.Description)
	}
	d.events = nil
	return out
}

// TestDeployEvents: a rollout is pending, then success; a commit whose
// rollout is rolled back, or that does not load, is a failure saying why;
// a quiet poll and a repair of the deployed commit say nothing new.
func TestDeployEvents(t *testing.T) {
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	var d deploys
	h.ctl.Deploy = func(ev controller.DeployEvent) { d.events = append(d.events, ev) }
	first := commitOf(h.rev)[:7]
	h.mustApply()
	want := []string{first + " pending rolling out web/app", first + " success deployed: 1 service in 1 stack"}
	if got := d.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("first deploy told:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := h.ctl.Poll(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if got := d.take(); len(got) != 0 {
		t.Errorf("a quiet poll told %v", got)
	}
	// A container removed by hand is put back: no rollout of the commit.
	if err := h.fake.RemoveContainer(t.Context(), h.container("web-app-1").ID); err != nil {
		t.Fatal(err)
	}
	h.mustApply()
	if got := d.take(); len(got) != 1 || !strings.HasPrefix(got[0], first+" success") {
		t.Errorf("a repair told %v, want success only", got)
	}

	h.fake.Publish("app:bad", "sha256:bad")
	h.fake.UnhealthyImage("app:bad")
	bad := commitOf(h.commit("unhealthy", map[string]string{"web/compose.yaml": healthchecked("app:bad")}))[:7]
	if _, err := h.apply(); err == nil {
		t.Fatal("the rollout of an unhealthy image succeeded")
	}
	got := d.take()
	t.Logf("rolled back: %q", got)
	if len(got) != 2 || got[0] != bad+" pending rolling out web/app" || !strings.HasPrefix(got[1], bad+" failure rolled back: ") ||
		!strings.Contains(got[1], "web/app/1") || !strings.Contains(got[1], "unhealthy") {
		t.Errorf("a rolled back deploy told:\n%s", strings.Join(got, "\n"))
	}

	broken := commitOf(h.commit("broken", map[string]string{"web/compose.yaml": "services: [\n"}))[:7]
	if _, err := h.apply(); err == nil {
		t.Fatal("a broken compose file applied")
	}
	got = d.take()
	t.Logf("broken: %q", got)
	if len(got) != 1 || !strings.HasPrefix(got[0], broken+" failure refused: ") {
		t.Errorf("a broken commit told %v, want a refusal", got)
	}

	// Refused as a whole, before any plan: a commit with no stacks.
	empty := commitOf(h.commit("empty", map[string]string{"web/compose.yaml": "", "README": "nothing here\n"}))[:7]
	if _, err := h.apply(); err == nil {
		t.Fatal("a commit with no stacks applied")
	}
	got = d.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], empty+" failure refused: ") || !strings.Contains(got[0], "no stacks") {
		t.Errorf("a commit refused as a whole told %v", got)
	}
}

// TestDeployNotHeldByForge: a forge that takes a request and never answers
// holds up no apply: the deploy converges and returns while the forge still
// holds the post of its pending state; the statuses follow once it answers.
func TestDeployNotHeldByForge(t *testing.T) {
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	fake := forgetest.New(t, "gitea", "ops/deploy", "tok")
	fake.Hold()
	t.Setenv("MOOR_TEST_FORGE_TOKEN", "tok")
	r := forge.New(source, config.CommitStatus{Provider: "gitea", APIURL: fake.URL, Repository: "ops/deploy",
		TokenEnv: "MOOR_TEST_FORGE_TOKEN"}, "web-1", nil, nil)
	t.Cleanup(func() { r.Close(context.Background()) })
	h.ctl.Deploy = func(ev controller.DeployEvent) {
		r.Report(forge.Status{Commit: ev.Revision.Commit, State: forge.State(ev.State), Description: ev.Description})
	}
	h.mustApply()
	fake.WaitRequests(1)
	if calls := fake.Calls(); len(calls) != 0 {
		t.Fatalf("the held forge took %v before the apply returned", calls)
	}
	fake.Release()
	calls := fake.Wait(2)
	if calls[0].State != "pending" || calls[1].State != "success" || calls[1].Commit != commitOf(h.rev) {
		t.Errorf("statuses once the forge answers: %v", calls)
	}
}

// TestDeployWaiting: a commit held by a suspension is pending, saying what
// holds it, never success; once resumed it is deployed.
func TestDeployWaiting(t *testing.T) {
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")})
	var d deploys
	h.ctl.Deploy = func(ev controller.DeployEvent) { d.events = append(d.events, ev) }
	h.mustApply()
	d.take()
	if err := h.ctl.Suspend("", "alice"); err != nil {
		t.Fatal(err)
	}
	h.fake.Publish("app:2", "sha256:two")
	next := commitOf(h.commit("v2", map[string]string{"web/compose.yaml": healthchecked("app:2")}))[:7]
	if _, err := h.ctl.Poll(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	got := d.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], next+" pending waiting: ") || !strings.Contains(got[0], "suspended") {
		t.Fatalf("a held commit told %q, want pending saying it is suspended", got)
	}
	if err := h.ctl.Resume(""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ctl.Poll(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if got := d.take(); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], next+" success") {
		t.Fatalf("after resume told %q, want success", got)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestStacksInOrderOnTheEngine: c needs b and b needs a (x-moor), a's
// service has a healthcheck. One apply brings a up and healthy before b's
// container is created, and b's started before c's is created, as the
// engine records; removing the three from git in one commit destroys c's
// container first, then b's, then a's. A bystander survives.
func TestStacksInOrderOnTheEngine(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	base := testkit.StackName(t)
	a, b, c := base+"-a", base+"-b", base+"-c"
	for _, s := range []string{a, b, c} {
		testkit.CleanupStack(t, s)
	}
	bystander := testkit.Unrelated(t, base)
	repo := testkit.NewRepo(t)
	repo.Write(a+"/compose.yaml", fmt.Sprintf(`services:
  db:
    image: %s
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      start_period: 2s
      retries: 3
`, img))
	repo.Write(b+"/compose.yaml", fmt.Sprintf(`x-moor:
  depends_on: [%s]
services:
  api:
    image: %s
`, a, img))
	repo.Write(c+"/compose.yaml", fmt.Sprintf(`x-moor:
  depends_on: [%s]
services:
  web:
    image: %s
`, b, img))
	repo.Commit("c needs b, b needs a")
	m := newMoor(t, repo.Dir, base)
	code, out := m.run("plan")
	if code != 0 {
		t.Fatalf("plan exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		fmt.Sprintf("create %s/api/1 (missing) after stack %s\n", b, a),
		fmt.Sprintf("create %s/web/1 (missing) after stacks %s, %s\n", c, a, b),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("moor plan lacks %q:\n%s", want, out)
		}
	}
	m.mustApply()

	inspect := func(name string) client.ContainerInspectResult {
		t.Helper()
		r, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	at := func(what, s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	db, api, web := inspect(a+"-db-1"), inspect(b+"-api-1"), inspect(c+"-web-1")
	var healthyAt time.Time
	if h := db.Container.State.Health; h != nil {
		for _, l := range h.Log {
			if l.ExitCode == 0 {
				healthyAt = l.End
				break
			}
		}
	}
	apiCreated := at("api created", api.Container.Created)
	if healthyAt.IsZero() || apiCreated.Before(healthyAt) {
		t.Errorf("%s-api-1 created at %s, %s-db-1 first healthy at %s", b, apiCreated, a, healthyAt)
	}
	apiStarted := at("api started", api.Container.State.StartedAt)
	if webCreated := at("web created", web.Container.Created); webCreated.Before(apiStarted) {
		t.Errorf("%s-web-1 created at %s, before %s-api-1 started at %s", c, webCreated, b, apiStarted)
	}

	since := time.Now()
	for _, s := range []string{a, b, c} {
		repo.Remove(s + "/compose.yaml")
	}
	// A source with no stack left is refused; one that stays.
	testkit.CleanupStack(t, base+"-keep")
	repo.Write(base+"-keep/compose.yaml", fmt.Sprintf("services:\n  keep:\n    image: %s\n", img))
	repo.Commit("a, b and c go")
	m.mustApply()
	got := destroyed(t, cli, since, []string{a, b, c})
	if want := []string{c, b, a}; !slices.Equal(got, want) {
		t.Errorf("stacks destroyed in order %v, want %v", got, want)
	}
	testkit.AssertAlive(t, bystander)
}

// destroyed returns the stacks among stacks whose containers the engine
// destroyed since then, in the order it did.
func destroyed(t *testing.T, cli *client.Client, since time.Time, stacks []string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	unix := func(v time.Time) string { return fmt.Sprintf("%d.%09d", v.Unix(), v.Nanosecond()) }
	res := cli.Events(ctx, client.EventsListOptions{
		Since:   unix(since.Add(-time.Second)),
		Until:   unix(time.Now().Add(time.Second)),
		Filters: make(client.Filters).Add("type", "container").Add("event", "destroy"),
	})
	var out []string
	for {
		select {
		case m := <-res.Messages:
			s := m.Actor.Attributes[reconcile.LabelStack]
			if slices.Contains(stacks, s) {
				out = append(out, s)
			}
		case err := <-res.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("engine events: %v", err)
			}
			return out
		}
	}
}

// TestValidateStackOrder: moor validate names a cycle in each stack on
// it, and a stack that needs one that is not there; the rest is ok.
func TestValidateStackOrder(t *testing.T) {
	dir := t.TempDir()
	for name, xmoor := range map[string]string{
		"a": "x-moor:\n  depends_on: [b]\n",
		"b": "x-moor:\n  depends_on: [a]\n",
		"c": "x-moor:\n  depends_on: [nowhere]\n",
		"d": "",
	} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "compose.yaml"), []byte(xmoor+"services:\n  app:\n    image: app:1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code == 0 {
		t.Errorf("validate exited 0")
	}
	for _, want := range []string{
		"error a: stack a (a/compose.yaml): x-moor.depends_on: cycle a -> b -> a\n",
		"error b: stack b (b/compose.yaml): x-moor.depends_on: cycle b -> a -> b\n",
		"error c: stack c (c/compose.yaml): x-moor.depends_on: needs stack nowhere, which is not in the revision: it is left as it runs\n",
		"ok    d (app)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate lacks %q:\n%s", want, out)
		}
	}
}

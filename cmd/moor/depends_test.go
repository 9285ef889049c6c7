package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestDependsOnHealthy: a service that depends on another being healthy is
// created only after that one's healthcheck passed, on the real engine.
func TestDependsOnHealthy(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", fmt.Sprintf(`services:
  db:
    image: %[1]s
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      start_period: 2s
      retries: 3
  web:
    image: %[1]s
    depends_on:
      db:
        condition: service_healthy
`, img))
	repo.Commit("web after a healthy db")
	m := newMoor(t, repo.Dir, stack)
	m.mustApply()

	inspect := func(name string) client.ContainerInspectResult {
		r, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	db, web := inspect(stack+"-db-1"), inspect(stack+"-web-1")
	if db.Container.State.Health == nil || len(db.Container.State.Health.Log) == 0 {
		t.Fatalf("db has no health log")
	}
	var healthyAt time.Time
	for _, l := range db.Container.State.Health.Log {
		if l.ExitCode == 0 {
			healthyAt = l.End
			break
		}
	}
	created, err := time.Parse(time.RFC3339Nano, web.Container.Created)
	if err != nil {
		t.Fatal(err)
	}
	if healthyAt.IsZero() || created.Before(healthyAt) {
		t.Fatalf("web created at %s, db first healthy at %s", created, healthyAt)
	}
}

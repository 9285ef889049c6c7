package notify_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/notify"
	"github.com/moor-dev/moor/runtime"
)

// applies runs n applies of new commits on a controller over the
// in-memory engine, each followed by the notifier's hook as moor run's
// loop calls it, and returns how long they took and the events fired.
func applies(t *testing.T, n int, targets []notify.Target) (time.Duration, []notify.Kind) {
	repo := testkit.NewRepo(t)
	fake := runtime.NewFake()
	for i := range n {
		fake.Publish(fmt.Sprintf("app:%d", i), fmt.Sprintf("sha256:app-%d", i))
	}
	ctl := controller.New(config.Source{Name: "prod", Repo: repo.Dir, Ref: "main"}, t.TempDir(), fake, nil, zap.NewNop())
	ctl.Executor.Clock = fakeclock.NewAuto()
	nt := &notify.Notifier{SendTimeout: time.Hour, Backoff: time.Hour}
	nt.Start(t.Context(), targets, nil)
	var kinds []notify.Kind
	var took time.Duration
	for i := range n {
		repo.Write("app/compose.yaml", fmt.Sprintf("services:\n  web:\n    image: app:%d\n", i))
		repo.Commit(fmt.Sprintf("release %d", i))
		start := time.Now()
		out, err := ctl.Apply(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		events := nt.Observe(notify.FromOutcome("prod", out, err, time.Now()))
		took += time.Since(start)
		for _, e := range events {
			kinds = append(kinds, e.Kind)
			if e.Commit.Subject != fmt.Sprintf("release %d", i) || e.Commit.Author != "moor test" || len(e.Commit.Short) != 7 {
				t.Errorf("event %+v lacks its commit", e)
			}
		}
	}
	return took, kinds
}

// A target that never answers does not slow applies down: the same applies
// take as long with it as without any target.
func TestDeadReceiverDoesNotDelayApply(t *testing.T) {
	hung := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	t.Cleanup(func() { close(hung); dead.Close() })
	const n = 8
	without, kinds := applies(t, n, nil)
	with, deadKinds := applies(t, n, []notify.Target{{Name: "dead", Sender: &notify.Webhook{URL: dead.URL}}})
	t.Logf("%d applies: %v without a target, %v with a dead one", n, without, with)
	if len(kinds) != n || len(deadKinds) != n {
		t.Fatalf("events fired: %v and %v, want %d applied each", kinds, deadKinds, n)
	}
	if with > 2*without+500*time.Millisecond {
		t.Errorf("%d applies took %v with a dead target, %v without", n, with, without)
	}
}

package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/notify"
)

// receiver is a webhook receiver on 127.0.0.1 that answers the first
// fail requests with 503, and keeps the payloads it accepted, their
// signatures checked against secret.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	fail     int
	requests int
	got      []notify.Payload
	bad      []string
}

func newReceiver(t *testing.T, secret string, fail int) *receiver {
	r := &receiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if r.requests <= r.fail {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		if sig := req.Header.Get(notify.SignatureHeader); sig != notify.Sign([]byte(secret), body) {
			r.bad = append(r.bad, fmt.Sprintf("signature %q", sig))
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.Version != 1 || req.Header.Get(notify.EventHeader) != string(p.Kind) {
			r.bad = append(r.bad, fmt.Sprintf("body %s: %v", body, err))
		}
		r.got = append(r.got, p)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) kinds() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []string
	for _, p := range r.got {
		k = append(k, string(p.Kind))
	}
	return strings.Join(k, " ")
}

func run(rev int, ops int) notify.Run {
	sha := fmt.Sprintf("%07d%033d", rev, 0)
	return notify.Run{Source: "prod", At: time.Now(), Planned: true, Ops: ops,
		Commit: notify.Commit{Revision: "main@sha1:" + sha, Short: sha[:7], Subject: "change", Author: "Alice"}}
}

// A receiver that fails twice then accepts gets the message once, and the
// failures are counted.
func TestRetryWithBackoff(t *testing.T) {
	recv := newReceiver(t, "s3cret", 2)
	reg := prometheus.NewRegistry()
	clock := fakeclock.NewAuto()
	n := &notify.Notifier{Backoff: 5 * time.Second, After: clock.After}
	n.Start(t.Context(), []notify.Target{{Name: "hook", Sender: &notify.Webhook{URL: recv.URL, Secret: []byte("s3cret")}}}, notify.NewMetrics(reg))
	n.Observe(run(1, 1)) // the first run only primes, unless it did something
	n.Observe(run(2, 1))
	testkit.Eventually(t, 10*time.Second, "both messages delivered", func() bool { return recv.kinds() == "applied applied" })
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.requests != 4 || len(recv.bad) > 0 {
		t.Errorf("%d requests (want 2 refused, 2 accepted); problems %q", recv.requests, recv.bad)
	}
	if recv.got[0].Commit.Short != "0000001" || recv.got[1].Commit.Short != "0000002" {
		t.Errorf("delivered out of order or twice: %+v", recv.got)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "moor_notifications_failed_total")); got != 2 {
		t.Errorf("moor_notifications_failed_total = %v, want 2", got)
	}
	// Two waits, the second twice the first, each jittered into [d/2, d).
	if waited := clock.Elapsed(); waited < 7500*time.Millisecond || waited >= 15*time.Second {
		t.Errorf("waited %v between the tries, want backoffs of 5s then 10s, jittered", waited)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "sum"})
	c.Add(sum)
	return c
}

// A receiver that never answers holds up no run: Observe returns at once
// with a full queue, and the events beyond it are dropped and counted.
func TestDeadReceiverBlocksNothing(t *testing.T) {
	hung := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hung }))
	t.Cleanup(func() { close(hung); dead.Close() })
	reg := prometheus.NewRegistry()
	n := &notify.Notifier{Queue: 2, Attempts: 2, SendTimeout: time.Hour, Backoff: time.Hour}
	n.Start(t.Context(), []notify.Target{{Name: "dead", Sender: &notify.Webhook{URL: dead.URL}}}, notify.NewMetrics(reg))
	start := time.Now()
	fired := 0
	for i := 1; i <= 20; i++ {
		fired += len(n.Observe(run(i, 1)))
	}
	if took := time.Since(start); took > time.Second || fired != 20 {
		t.Fatalf("20 runs with a dead receiver took %v and fired %d events", took, fired)
	}
	// One in the sender's hands, two queued, the rest dropped.
	testkit.Eventually(t, 10*time.Second, "the overflow counted", func() bool {
		return testutil.ToFloat64(mustCounter(t, reg, "moor_notifications_failed_total")) >= 17
	})
}

// The SMTP path, against a real SMTP server: the mail arrives with the
// event's title as its subject and its text as the body.
func TestSMTP(t *testing.T) {
	srv := testkit.SMTP(t)
	s, err := notify.NewShoutrrr(fmt.Sprintf("smtp://127.0.0.1:%d/?from=moor@example.com&to=ops@example.com&auth=None&encryption=None&usestarttls=No", srv.Port))
	if err != nil {
		t.Fatal(err)
	}
	n := &notify.Notifier{Backoff: 10 * time.Millisecond}
	n.Start(t.Context(), []notify.Target{{Name: "mail", Sender: s, Events: []string{"failed"}}}, nil)
	n.Observe(run(1, 1))
	r := run(2, 1)
	r.Err = "rollout failed"
	r.Failed = []notify.Problem{{What: "app/web/1", Error: "health check failed", Output: "panic: boom", RolledBack: true}}
	r.FailedServices = []string{"app/web"}
	n.Observe(r)
	testkit.Eventually(t, 20*time.Second, "the mail received", func() bool {
		return strings.Contains(srv.Received(), "panic: boom")
	})
	got := srv.Received()
	for _, want := range []string{"Subject: moor prod: failed 0000002", "To: ops@example.com", "app/web/1: health check failed", "rolled back", `"change" by Alice`} {
		if !strings.Contains(got, want) {
			t.Errorf("the mail lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "applied") {
		t.Errorf("an event the target did not ask for was mailed:\n%s", got)
	}
}

// Targets reads URLs and secrets from files and the environment.
func TestTargetsReadSecrets(t *testing.T) {
	recv := newReceiver(t, "from-env", 0)
	t.Setenv("MOOR_TEST_HOOK_SECRET", "from-env\n")
	targets, err := notify.Targets(config.Notifications{Targets: []config.NotifyTarget{
		{Webhook: &config.NotifyWebhook{URL: recv.URL, SecretEnv: "MOOR_TEST_HOOK_SECRET"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := targets[0].Sender.Send(context.Background(), notify.Event{Kind: notify.Applied, Source: "prod"}); err != nil {
		t.Fatal(err)
	}
	if recv.kinds() != "applied" || len(recv.bad) > 0 {
		t.Errorf("received %q, problems %q", recv.kinds(), recv.bad)
	}
	_, err = notify.Targets(config.Notifications{Targets: []config.NotifyTarget{{URLEnv: "MOOR_TEST_UNSET_URL"}}})
	if err == nil || !strings.Contains(err.Error(), "MOOR_TEST_UNSET_URL") {
		t.Errorf("a target whose variable is unset: %v", err)
	}
	t.Setenv("MOOR_TEST_BAD_URL", "nosuchservice://token@x")
	_, err = notify.Targets(config.Notifications{Targets: []config.NotifyTarget{{URLEnv: "MOOR_TEST_BAD_URL"}}})
	if err == nil || strings.Contains(err.Error(), "token") {
		t.Errorf("a URL shoutrrr does not know: %v (must not quote the URL)", err)
	}
}

// The event names the config accepts are the kinds of events.
func TestConfigEventsAreKinds(t *testing.T) {
	if len(config.NotifyEvents) != len(notify.Kinds) {
		t.Fatalf("config.NotifyEvents %q, notify.Kinds %q", config.NotifyEvents, notify.Kinds)
	}
	for i, k := range notify.Kinds {
		if config.NotifyEvents[i] != string(k) {
			t.Errorf("config.NotifyEvents[%d] = %q, notify.Kinds[%d] = %q", i, config.NotifyEvents[i], i, k)
		}
	}
}

// A shoutrrr target's errors do not show its URL's credentials.
func TestShoutrrrErrorsHideTheURL(t *testing.T) {
	port := testkit.FreePort(t) // nothing listens there
	s, err := notify.NewShoutrrr(fmt.Sprintf("ntfy://moor:pa55-SECRET@127.0.0.1:%d/topic-SECRET?scheme=http", port))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), notify.Event{Kind: notify.Applied, Source: "prod"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("send to nothing: %v", err)
	}
	t.Log(err)
}

// A receiver that always fails is tried Attempts times, then the message
// is given up, logged and counted, and the next one is sent.
func TestBoundedAttempts(t *testing.T) {
	recv := newReceiver(t, "", 3)
	reg := prometheus.NewRegistry()
	clock := fakeclock.NewAuto()
	n := &notify.Notifier{Attempts: 3, Backoff: time.Second, After: clock.After}
	n.Start(t.Context(), []notify.Target{{Name: "flaky", Sender: &notify.Webhook{URL: recv.URL}}}, notify.NewMetrics(reg))
	n.Observe(run(1, 1))
	n.Observe(run(2, 1))
	testkit.Eventually(t, 10*time.Second, "the second message delivered", func() bool { return recv.kinds() == "applied" })
	recv.mu.Lock()
	requests, got := recv.requests, recv.got[0].Commit.Short
	recv.mu.Unlock()
	if requests != 4 || got != "0000002" {
		t.Errorf("%d requests, delivered %s; want 3 tries of the first, then the second", requests, got)
	}
	mfs, _ := reg.Gather()
	var outcomes []string
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "outcome" {
					outcomes = append(outcomes, fmt.Sprintf("%s=%v", l.GetValue(), m.GetCounter().GetValue()))
				}
			}
		}
	}
	if strings.Join(outcomes, " ") != "given-up=1 retried=2" {
		t.Errorf("failures counted: %q", outcomes)
	}
}

// A restarted moor keeps what it told: the failure already told is not
// told again, and the recovery after the restart is told.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	kinds := func(events []notify.Event) string {
		var k []string
		for _, e := range events {
			k = append(k, string(e.Kind))
		}
		return strings.Join(k, " ")
	}
	failing := run(2, 1)
	failing.Err, failing.Failed, failing.FailedServices = "failed", []notify.Problem{{What: "app/web/1", Error: "unhealthy"}}, []string{"app/web"}
	held := run(2, 0)
	held.Err, held.Held = "held", map[string]string{"app/web": "failed"}

	first := &notify.Notifier{StateDir: dir}
	first.Start(t.Context(), nil, nil)
	if got := kinds(first.Observe(run(1, 1))) + "," + kinds(first.Observe(failing)); got != "applied,failed" {
		t.Fatalf("before the restart: %q", got)
	}
	second := &notify.Notifier{StateDir: dir}
	second.Start(t.Context(), nil, nil)
	if got := kinds(second.Observe(held)) + "," + kinds(second.Observe(failing)) + "," + kinds(second.Observe(run(3, 1))); got != ",,applied recovered" {
		t.Errorf("after the restart: %q, want nothing told again, then applied and recovered", got)
	}
}

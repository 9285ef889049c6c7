package forge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/forge"
	"github.com/moor-dev/moor/forge/forgetest"
)

const (
	good = "1111111111111111111111111111111111111111"
	bad  = "2222222222222222222222222222222222222222"
	next = "3333333333333333333333333333333333333333"
)

// reporter is a Reporter of the source "prod" posting to fake, with a
// token file and quick retries; it is closed at the end of the test.
func reporter(t *testing.T, fake *forgetest.Forge, repo string) (*forge.Reporter, *prometheus.Registry) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(fake.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r := forge.New("prod", config.CommitStatus{Provider: fake.Provider, APIURL: fake.URL, Repository: repo,
		TokenFile: tokenFile, TargetURL: "https://moor.example.com/"}, "web-1", nil, forge.NewMetrics(reg))
	r.Backoff = time.Millisecond
	t.Cleanup(func() { r.Close(context.Background()) })
	return r, reg
}

func posts(t *testing.T, reg *prometheus.Registry, result string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "moor_commit_status_posts_total" && labels["result"] == result && labels["source"] == "prod" {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// TestForges: for each forge, a good commit is pending then success, a bad
// one failure, in the forge's own words and API shape (the fake refuses
// anything else); repeated reports of the same state are not posted again.
func TestForges(t *testing.T) {
	for _, tt := range []struct {
		provider, repo          string
		pending, success, fails string
	}{
		{"github", "ops/deploy", "pending", "success", "failure"},
		{"gitlab", "ops/infra/deploy", "running", "success", "failed"},
		{"gitea", "ops/deploy", "pending", "success", "failure"},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			fake := forgetest.New(t, tt.provider, tt.repo, "tok-"+tt.provider)
			r, reg := reporter(t, fake, tt.repo)
			r.Report(forge.Status{Commit: good, State: forge.Pending, Description: "rolling out web/app"})
			r.Report(forge.Status{Commit: good, State: forge.Pending, Description: "rolling out web/app"})
			fake.Wait(1)
			for range 3 { // unchanged polls
				r.Report(forge.Status{Commit: good, State: forge.Success, Description: "deployed"})
			}
			r.Report(forge.Status{Commit: good, State: forge.Pending, Description: "repairing drift"}) // no rollout of a deployed commit
			r.Report(forge.Status{Commit: bad, State: forge.Failure, Description: "refused: web: compose.yaml: line 3:\n\tbroken " + strings.Repeat("x", 300)})
			r.Report(forge.Status{Commit: bad, State: forge.Failure, Description: "refused again"})
			calls := fake.Wait(3)
			r.Close(context.Background())
			if calls = fake.Calls(); len(calls) != 3 {
				t.Fatalf("the forge took %d statuses, want 3: %v", len(calls), calls)
			}
			want := []struct{ commit, state string }{{good, tt.pending}, {good, tt.success}, {bad, tt.fails}}
			for i, w := range want {
				if calls[i].Commit != w.commit || calls[i].State != w.state {
					t.Errorf("status %d: %v, want %s %s", i, calls[i], w.commit[:7], w.state)
				}
				if calls[i].Context != "moor/web-1" || calls[i].TargetURL != "https://moor.example.com/" {
					t.Errorf("status %d: context %q, target_url %q", i, calls[i].Context, calls[i].TargetURL)
				}
			}
			if d := calls[2].Description; len([]rune(d)) != forge.MaxDescription || !strings.HasPrefix(d, "refused: web: compose.yaml: line 3: broken xxx") {
				t.Errorf("failure description %q: want one line of %d characters", d, forge.MaxDescription)
			}
			if got := posts(t, reg, "posted"); got != 3 {
				t.Errorf("moor_commit_status_posts_total{result=posted} = %d, want 3", got)
			}
		})
	}
}

// TestRetry: a status answered with a 500 is posted again, after a
// backoff, and counted as retried.
func TestRetry(t *testing.T) {
	fake := forgetest.New(t, "github", "ops/deploy", "tok")
	r, reg := reporter(t, fake, "ops/deploy")
	fake.FailNext(2)
	r.Report(forge.Status{Commit: good, State: forge.Success, Description: "deployed"})
	calls := fake.Wait(1)
	if fake.Requests() != 3 || calls[0].State != "success" {
		t.Errorf("%d requests, statuses %v; want 3 requests, then success", fake.Requests(), calls)
	}
	if got := posts(t, reg, "retried"); got != 2 {
		t.Errorf("retried = %d, want 2", got)
	}
}

// TestGiveUp: attempts are bounded; a status given up is counted as failed
// and posted again when the next run reports it.
func TestGiveUp(t *testing.T) {
	fake := forgetest.New(t, "gitea", "ops/deploy", "tok")
	r, reg := reporter(t, fake, "ops/deploy")
	r.Attempts = 2
	fake.FailNext(2)
	r.Report(forge.Status{Commit: good, State: forge.Failure, Description: "rolled back"})
	r.Report(forge.Status{Commit: next, State: forge.Pending, Description: "a marker: the first one is done"})
	fake.Wait(1)
	if got := posts(t, reg, "failed"); got != 1 || fake.Requests() != 3 {
		t.Fatalf("failed = %d after %d requests, want 1 after 3", got, fake.Requests())
	}
	r.Report(forge.Status{Commit: good, State: forge.Failure, Description: "rolled back"})
	if calls := fake.Wait(2); calls[1].Commit != good || calls[1].State != "failure" {
		t.Errorf("statuses %v: want the failure posted at the next report", calls)
	}
}

// TestDeadForge: a forge that never answers holds up no Report: the
// reports of a whole deploy return while its first post hangs, and the
// newest state of a commit replaces the one still waiting.
func TestDeadForge(t *testing.T) {
	fake := forgetest.New(t, "gitlab", "ops/deploy", "tok")
	fake.Hold()
	r, _ := reporter(t, fake, "ops/deploy")
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Report(forge.Status{Commit: bad, State: forge.Failure, Description: "rolled back"}) // hangs in the forge
		r.Report(forge.Status{Commit: good, State: forge.Pending, Description: "rolling out"})
		r.Report(forge.Status{Commit: good, State: forge.Success, Description: "deployed"})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Report waited for a forge that does not answer")
	}
	fake.WaitRequests(1) // the first post is under way
	fake.Release()
	calls := fake.Wait(2)
	if len(calls) != 2 || calls[1].Commit != good || calls[1].State != "success" {
		t.Errorf("statuses %v: want the failure, then only the newest state of the good commit", calls)
	}
}

// TestCloseCutsShort: Close waits for the queue at most as long as its
// context allows.
func TestCloseCutsShort(t *testing.T) {
	fake := forgetest.New(t, "github", "ops/deploy", "tok")
	fake.Hold()
	r, _ := reporter(t, fake, "ops/deploy")
	r.Report(forge.Status{Commit: good, State: forge.Success, Description: "deployed"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r.Close(ctx) // returns: the test would time out otherwise
	if len(fake.Calls()) != 0 {
		t.Errorf("a held forge took %v", fake.Calls())
	}
}

func TestDescribe(t *testing.T) {
	for in, want := range map[string]string{
		"rolled back\n  web/app: unhealthy\x1b[31m": "rolled back web/app: unhealthy [31m",
		strings.Repeat("é", 200):                    strings.Repeat("é", forge.MaxDescription-1) + "…",
	} {
		if got := forge.Describe(in); got != want {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNoRedirect: a forge that redirects is not followed, so the token
// goes nowhere else; the post is given up.
func TestNoRedirect(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed, with PRIVATE-TOKEN %q", r.Header.Get("PRIVATE-TOKEN"))
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	t.Setenv("MOOR_TEST_FORGE_TOKEN", "glpat-secret")
	reg := prometheus.NewRegistry()
	r := forge.New("prod", config.CommitStatus{Provider: "gitlab", APIURL: redirecting.URL, Repository: "ops/deploy",
		TokenEnv: "MOOR_TEST_FORGE_TOKEN"}, "web-1", nil, forge.NewMetrics(reg))
	r.Report(forge.Status{Commit: good, State: forge.Success, Description: "deployed"})
	r.Close(context.Background())
	if got := posts(t, reg, "failed"); got != 1 {
		t.Errorf("failed = %d, want 1: a redirect is given up", got)
	}
}

// TestRefusedNotRetried: a status the forge refuses (a wrong token) is
// not posted again when later runs report the same state.
func TestRefusedNotRetried(t *testing.T) {
	fake := forgetest.New(t, "gitea", "ops/deploy", "right-token")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("wrong-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake.Refuse(true)
	reg := prometheus.NewRegistry()
	r := forge.New("prod", config.CommitStatus{Provider: "gitea", APIURL: fake.URL, Repository: "ops/deploy",
		TokenFile: tokenFile}, "web-1", nil, forge.NewMetrics(reg))
	r.Report(forge.Status{Commit: bad, State: forge.Failure, Description: "rolled back"})
	r.Report(forge.Status{Commit: next, State: forge.Pending, Description: "a marker"})
	fake.WaitRequests(2)
	r.Report(forge.Status{Commit: bad, State: forge.Failure, Description: "rolled back"}) // the next poll
	r.Close(context.Background())
	if fake.Requests() != 2 || posts(t, reg, "failed") != 2 || posts(t, reg, "retried") != 0 {
		t.Errorf("%d requests, %d failed, %d retried; want 2 requests refused once each", fake.Requests(), posts(t, reg, "failed"), posts(t, reg, "retried"))
	}
}

package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secret = "It's a Secret to Everybody"

// eventHeader is where each provider names the event; generic has none.
var eventHeader = map[string]string{
	"github": "X-GitHub-Event",
	"gitlab": "X-Gitlab-Event",
	"gitea":  "X-Gitea-Event",
}

// authHeader returns the header a forge would send for body signed with key.
func authHeader(provider, key string, body []byte) (name, value string) {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	mac := hex.EncodeToString(m.Sum(nil))
	switch provider {
	case "github":
		return "X-Hub-Signature-256", "sha256=" + mac
	case "gitea":
		return "X-Gitea-Signature", mac
	case "gitlab":
		return "X-Gitlab-Token", key
	default:
		return "X-Moor-Signature", "sha256=" + mac
	}
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// counter is a Trigger that counts its calls.
type counter struct{ n atomic.Int64 }

func (c *counter) trigger() { c.n.Add(1) }

func newHandler(branch string) (*Handler, *counter) {
	c := new(counter)
	return New([]Target{{Source: "prod", Branch: branch, Secret: []byte(secret), Trigger: c.trigger}}), c
}

// serve runs one request and returns the status and the decoded JSON body,
// failing the test if the body is not JSON or leaks the secret.
func serve(t *testing.T, h http.Handler, r *http.Request) (int, map[string]string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if strings.Contains(w.Body.String(), secret) {
		t.Errorf("response leaks the secret: %s", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("response %q is not a JSON object of strings: %v", w.Body, err)
	}
	return w.Code, got
}

const (
	valid   = "valid"
	wrong   = "wrong"   // signed with another secret
	missing = "missing" // no credential header
)

func TestProviders(t *testing.T) {
	triggered := map[string]string{"triggered": "prod"}
	badSig := map[string]string{"error": "signature does not match the body and the secret of source prod"}
	tests := []struct {
		name     string
		provider string
		file     string // in testdata, or literal body when it does not end in .json
		event    string // value of the provider's event header, none if empty
		branch   string // the source follows
		auth     string
		header   map[string]string // extra headers, set last
		status   int
		body     map[string]string
		triggers int64
	}{
		// GitHub
		{"github push", "github", "github_push.json", "push", "main", valid, nil, 202, triggered, 1},
		{"github wrong secret", "github", "github_push.json", "push", "main", wrong, nil, 401, badSig, 0},
		{"github unsigned", "github", "github_push.json", "push", "main", missing, nil, 401,
			map[string]string{"error": "missing X-Hub-Signature-256 header"}, 0},
		{"github sha1 signature", "github", "github_push.json", "push", "main", valid,
			map[string]string{"X-Hub-Signature-256": "sha1=0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}, 401,
			map[string]string{"error": "malformed X-Hub-Signature-256 header, want sha256=<hex HMAC-SHA256 of the body>"}, 0},
		{"github other branch", "github", "github_push.json", "push", "release", valid, nil, 422,
			map[string]string{"error": "push to refs/heads/main does not concern source prod (follows release)"}, 0},
		{"github ping", "github", "github_ping.json", "ping", "main", valid, nil, 200, map[string]string{"pong": "prod"}, 0},
		{"github unsigned ping", "github", "github_ping.json", "ping", "main", missing, nil, 401,
			map[string]string{"error": "missing X-Hub-Signature-256 header"}, 0},
		{"github tag", "github", "github_tag.json", "push", "v1.4.0", valid, nil, 202, triggered, 1},
		{"github tag, source follows main", "github", "github_tag.json", "push", "main", valid, nil, 422,
			map[string]string{"error": "push to refs/tags/v1.4.0 does not concern source prod (follows main)"}, 0},
		{"github source follows default branch", "github", "github_push.json", "push", "", valid, nil, 202, triggered, 1},
		{"github issues event", "github", "github_push.json", "issues", "main", valid, nil, 202,
			map[string]string{"ignored": `event "issues" is not a push`}, 0},
		{"github no event", "github", "github_push.json", "", "main", valid, nil, 400,
			map[string]string{"error": "missing X-GitHub-Event header"}, 0},
		{"github form encoded", "github", "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D", "push", "main", valid, nil, 400,
			map[string]string{"error": "malformed JSON payload (is the webhook's content type application/json?): invalid character 'p' looking for beginning of value"}, 0},
		{"github no ref", "github", `{"zen": "Keep it logically awesome."}`, "push", "main", valid, nil, 400,
			map[string]string{"error": `push payload has no "ref"`}, 0},

		// GitLab
		{"gitlab push", "gitlab", "gitlab_push.json", "Push Hook", "main", valid, nil, 202, triggered, 1},
		{"gitlab wrong token", "gitlab", "gitlab_push.json", "Push Hook", "main", wrong, nil, 401,
			map[string]string{"error": "X-Gitlab-Token does not match the secret of source prod"}, 0},
		{"gitlab token is a prefix of the secret", "gitlab", "gitlab_push.json", "Push Hook", "main", valid,
			map[string]string{"X-Gitlab-Token": secret[:len(secret)-1]}, 401,
			map[string]string{"error": "X-Gitlab-Token does not match the secret of source prod"}, 0},
		{"gitlab no token", "gitlab", "gitlab_push.json", "Push Hook", "main", missing, nil, 401,
			map[string]string{"error": "missing X-Gitlab-Token header"}, 0},
		{"gitlab other branch", "gitlab", "gitlab_push.json", "Push Hook", "release", valid, nil, 422,
			map[string]string{"error": "push to refs/heads/main does not concern source prod (follows release)"}, 0},
		{"gitlab tag", "gitlab", "gitlab_tag.json", "Tag Push Hook", "v1.4.0", valid, nil, 202, triggered, 1},
		{"gitlab merge request", "gitlab", "gitlab_push.json", "Merge Request Hook", "main", valid, nil, 202,
			map[string]string{"ignored": `event "Merge Request Hook" is not a push`}, 0},

		// Gitea and Forgejo
		{"gitea push", "gitea", "gitea_push.json", "push", "main", valid, nil, 202, triggered, 1},
		{"gitea wrong secret", "gitea", "gitea_push.json", "push", "main", wrong, nil, 401, badSig, 0},
		{"gitea unsigned", "gitea", "gitea_push.json", "push", "main", missing, nil, 401,
			map[string]string{"error": "missing X-Gitea-Signature header"}, 0},
		{"gitea prefixed signature", "gitea", "gitea_push.json", "push", "main", valid,
			map[string]string{"X-Gitea-Signature": "sha256=" + strings.Repeat("ab", 32)}, 401,
			map[string]string{"error": "malformed X-Gitea-Signature header, want <hex HMAC-SHA256 of the body>"}, 0},
		{"gitea other branch", "gitea", "gitea_push.json", "push", "release", valid, nil, 422,
			map[string]string{"error": "push to refs/heads/main does not concern source prod (follows release)"}, 0},
		{"gitea tag", "gitea", "gitea_tag.json", "push", "v1.4.0", valid, nil, 202, triggered, 1},
		{"gitea create event", "gitea", "gitea_tag.json", "create", "v1.4.0", valid, nil, 202,
			map[string]string{"ignored": `event "create" is not a push`}, 0},
		{"forgejo push", "gitea", "gitea_push.json", "", "main", missing,
			map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": sig(payloadOf("gitea_push.json"))}, 202, triggered, 1},

		// generic
		{"generic push", "generic", "generic_push.json", "", "main", valid, nil, 202, triggered, 1},
		{"generic wrong secret", "generic", "generic_push.json", "", "main", wrong, nil, 401, badSig, 0},
		{"generic unsigned", "generic", "generic_push.json", "", "main", missing, nil, 401,
			map[string]string{"error": "missing X-Moor-Signature header"}, 0},
		{"generic other branch", "generic", "generic_push.json", "", "release", valid, nil, 422,
			map[string]string{"error": "push to refs/heads/main does not concern source prod (follows release)"}, 0},
		{"generic without ref", "generic", "generic_empty.json", "", "release", valid, nil, 202, triggered, 1},
		{"generic empty body", "generic", "", "", "release", valid, nil, 202, triggered, 1},
		{"generic malformed", "generic", `{"ref": "refs/heads/main"`, "", "main", valid, nil, 400,
			map[string]string{"error": "malformed JSON payload (is the webhook's content type application/json?): unexpected end of JSON input"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.file)
			if strings.HasSuffix(tc.file, ".json") {
				body = payload(t, tc.file)
			}
			r := httptest.NewRequest(http.MethodPost, "/hooks/"+tc.provider+"/prod", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if tc.event != "" {
				r.Header.Set(eventHeader[tc.provider], tc.event)
			}
			switch tc.auth {
			case valid:
				r.Header.Set(authHeader(tc.provider, secret, body))
			case wrong:
				r.Header.Set(authHeader(tc.provider, "not the secret", body))
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			h, c := newHandler(tc.branch)
			status, got := serve(t, h, r)
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
			if diff := cmp.Diff(tc.body, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if n := c.n.Load(); n != tc.triggers {
				t.Errorf("triggered %d times, want %d", n, tc.triggers)
			}
		})
	}
}

// payloadOf is payload for table literals, which have no *testing.T.
func payloadOf(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}

// sig is the bare hex signature Gitea and Forgejo send.
func sig(body []byte) string {
	_, v := authHeader("gitea", secret, body)
	return v
}

// untouchable is a body that fails the test when read.
type untouchable struct{ t *testing.T }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("handler read the body")
	return 0, io.EOF
}

func TestRouting(t *testing.T) {
	c := new(counter)
	h := New([]Target{
		{Source: "prod", Branch: "main", Secret: []byte(secret), Trigger: c.trigger},
		{Source: "lab", Branch: "main", Trigger: c.trigger}, // no secret: takes no hooks
	})
	tests := []struct {
		method, path string
		status       int
		body         map[string]string
	}{
		{"GET", "/hooks/github/prod", 405, map[string]string{"error": "method GET not allowed, webhooks are POSTed"}},
		{"PUT", "/hooks/github/prod", 405, map[string]string{"error": "method PUT not allowed, webhooks are POSTed"}},
		{"POST", "/hooks/bitbucket/prod", 404, map[string]string{"error": "no webhook at /hooks/bitbucket/prod"}},
		{"POST", "/hooks/github/staging", 404, map[string]string{"error": "no webhook at /hooks/github/staging"}},
		{"POST", "/hooks/github/lab", 404, map[string]string{"error": "no webhook at /hooks/github/lab"}},
		{"POST", "/hooks/github", 404, map[string]string{"error": "no webhook at /hooks/github"}},
		{"POST", "/hooks/github/", 404, map[string]string{"error": "no webhook at /hooks/github/"}},
		{"POST", "/hooks/github/prod/x", 404, map[string]string{"error": "no webhook at /hooks/github/prod/x"}},
		{"POST", "/github/prod", 404, map[string]string{"error": "no webhook at /github/prod"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, untouchable{t})
			r.Header.Set("X-GitHub-Event", "push")
			r.Header.Set(authHeader("github", secret, nil))
			status, got := serve(t, h, r)
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
			if diff := cmp.Diff(tc.body, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
	if n := c.n.Load(); n != 0 {
		t.Errorf("triggered %d times, want 0", n)
	}
}

func TestRoutingAllowHeader(t *testing.T) {
	h, _ := newHandler("main")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hooks/github/prod", nil))
	if got := w.Header().Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
}

package webhook

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// endless is a body of unknown length that never ends and counts what the
// handler reads from it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.n += int64(len(p))
	return len(p), nil
}

// signedGitHub returns a GitHub push request for body, signed as sigBody.
func signedGitHub(body io.Reader, sigBody []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/github/prod", body)
	r.Header.Set("X-GitHub-Event", "push")
	r.Header.Set(authHeader("github", secret, sigBody))
	return r
}

// pad appends JSON whitespace to body up to n bytes; the result is still a
// valid payload.
func pad(body []byte, n int64) []byte {
	return append(bytes.Clone(body), bytes.Repeat([]byte{' '}, int(n)-len(body))...)
}

func TestBodyLimit(t *testing.T) {
	push := payload(t, "github_push.json")

	t.Run("declared too large, not read", func(t *testing.T) {
		h, c := newHandler("main")
		r := signedGitHub(untouchable{t}, push)
		r.ContentLength = DefaultMaxBody + 1
		status, got := serve(t, h, r)
		want := map[string]string{"error": "body of 1048577 bytes exceeds the limit of 1048576"}
		if status != 413 || !cmp.Equal(got, want) {
			t.Errorf("got %d %v, want 413 %v", status, got, want)
		}
		if c.n.Load() != 0 {
			t.Error("triggered")
		}
	})

	t.Run("chunked too large, read at most MaxBody+1", func(t *testing.T) {
		h, c := newHandler("main")
		body := new(endless)
		r := signedGitHub(body, push)
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		status, got := serve(t, h, r)
		want := map[string]string{"error": "body exceeds the limit of 1048576 bytes"}
		if status != 413 || !cmp.Equal(got, want) {
			t.Errorf("got %d %v, want 413 %v", status, got, want)
		}
		if body.n > DefaultMaxBody+1 {
			t.Errorf("read %d bytes, want at most %d", body.n, DefaultMaxBody+1)
		}
		if c.n.Load() != 0 {
			t.Error("triggered")
		}
	})

	// An attacker holding one genuine delivery must not get it past the
	// limit by padding: the padded body is refused on size, unread past it.
	for _, declared := range []bool{true, false} {
		name := map[bool]string{true: "padded replay with length", false: "padded replay chunked"}[declared]
		t.Run(name, func(t *testing.T) {
			h, c := newHandler("main")
			padded := pad(push, DefaultMaxBody+1)
			r := signedGitHub(bytes.NewReader(padded), push)
			if !declared {
				r.ContentLength = -1
			}
			if status, got := serve(t, h, r); status != 413 {
				t.Errorf("got %d %v, want 413", status, got)
			}
			if c.n.Load() != 0 {
				t.Error("triggered")
			}
		})
	}

	t.Run("exactly MaxBody is accepted", func(t *testing.T) {
		h, c := newHandler("main")
		full := pad(push, DefaultMaxBody)
		r := signedGitHub(bytes.NewReader(full), full)
		r.ContentLength = -1 // no shortcut: the limited reader decides
		if status, got := serve(t, h, r); status != 202 {
			t.Errorf("got %d %v, want 202", status, got)
		}
		if n := c.n.Load(); n != 1 {
			t.Errorf("triggered %d times, want 1", n)
		}
	})

	t.Run("custom MaxBody", func(t *testing.T) {
		h, c := newHandler("main")
		h.MaxBody = int64(len(push)) - 1
		body := new(endless)
		r := signedGitHub(io.MultiReader(bytes.NewReader(push), body), push)
		r.ContentLength = -1
		if status, got := serve(t, h, r); status != 413 {
			t.Errorf("got %d %v, want 413", status, got)
		}
		if body.n != 0 {
			t.Errorf("read %d bytes past the payload, want 0", body.n)
		}
		if c.n.Load() != 0 {
			t.Error("triggered")
		}
	})
}

func TestCounts(t *testing.T) {
	h, _ := newHandler("main")
	push := payload(t, "github_push.json")
	for _, r := range []*http.Request{
		signedGitHub(bytes.NewReader(push), push),
		signedGitHub(bytes.NewReader(push), push),
		signedGitHub(bytes.NewReader(push), []byte("something else")),
		httptest.NewRequest(http.MethodGet, "/hooks/github/prod", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	want := map[string]int64{
		"triggered":             2,
		"pong":                  0,
		"ignored":               0,
		"rejected_method":       1,
		"rejected_not_found":    0,
		"rejected_unauthorized": 1,
		"rejected_too_large":    0,
		"rejected_bad_request":  0,
		"rejected_other_ref":    0,
	}
	if diff := cmp.Diff(want, h.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

// TestServer sends a delivery the way a forge does, through a real server
// and mux, to check the handler works mounted on the /hooks/ prefix.
func TestServer(t *testing.T) {
	h, c := newHandler("main")
	mux := http.NewServeMux()
	mux.Handle("/hooks/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	push := payload(t, "gitea_push.json")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/hooks/gitea/prod", bytes.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitea-Event", "push")
	req.Header.Set(authHeader("gitea", secret, push))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 || string(got) != `{"triggered":"prod"}`+"\n" {
		t.Errorf("got %d %q, want 202 {\"triggered\":\"prod\"}", resp.StatusCode, got)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("triggered %d times, want 1", n)
	}
}

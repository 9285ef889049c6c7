package webhook

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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
		"rejected_busy":         0,
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

// stalling is a body that gives head at once, then blocks until resume is
// closed, then gives tail: a client that sends part of its body and waits.
type stalling struct {
	head, tail []byte
	stalled    chan struct{} // closed once the handler waits for more
	resume     chan struct{}
	once       sync.Once
}

func newStalling(body []byte, at int) *stalling {
	return &stalling{head: body[:at], tail: body[at:], stalled: make(chan struct{}), resume: make(chan struct{})}
}

func (s *stalling) Read(p []byte) (int, error) {
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	s.once.Do(func() { close(s.stalled) })
	<-s.resume
	if len(s.tail) > 0 {
		n := copy(p, s.tail)
		s.tail = s.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

// stall starts a signed GitHub push of body that stops after at bytes, and
// returns once the handler waits for the rest; resume lets it finish, and
// the returned channel gives its status.
func stall(t *testing.T, h *Handler, body []byte, at int) (resume func(), status <-chan int) {
	t.Helper()
	s := newStalling(body, at)
	r := signedGitHub(s, body)
	r.ContentLength = -1
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		done <- w.Code
	}()
	select {
	case <-s.stalled:
	case code := <-done:
		t.Fatalf("the stalled request was answered %d", code)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not read the body")
	}
	return func() { close(s.resume) }, done
}

// TestBodyBudget: clients that send a body and stall hold at most
// MaxReading bodies and MaxBuffered bytes between them; the next one is
// answered 503 at once, without a byte of its body read, and the budget
// comes back when they finish.
func TestBodyBudget(t *testing.T) {
	push := payload(t, "github_push.json")

	t.Run("bodies read at once", func(t *testing.T) {
		h, c := newHandler("main")
		h.MaxReading = 2
		var resumes []func()
		var statuses []<-chan int
		for range 2 {
			resume, status := stall(t, h, push, len(push)/2)
			resumes, statuses = append(resumes, resume), append(statuses, status)
		}
		r := signedGitHub(untouchable{t}, push)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := `{"error":"2 webhook bodies are being read already; retry later"}` + "\n"
		if w.Code != 503 || w.Body.String() != want {
			t.Errorf("third body: got %d %s, want 503 %s", w.Code, w.Body, want)
		}
		if got := w.Header().Get("Connection"); got != "close" {
			t.Errorf("Connection: %q, want close", got)
		}
		for i, resume := range resumes {
			resume()
			if code := <-statuses[i]; code != 202 {
				t.Errorf("stalled request %d: %d, want 202 once resumed", i, code)
			}
		}
		if status, got := serve(t, h, signedGitHub(bytes.NewReader(push), push)); status != 202 {
			t.Errorf("after the stalled ones finished: %d %v, want 202", status, got)
		}
		if n := c.n.Load(); n != 3 {
			t.Errorf("triggered %d times, want 3", n)
		}
		if n := h.Counts()["rejected_busy"]; n != 1 {
			t.Errorf("rejected_busy = %d, want 1", n)
		}
	})

	t.Run("bytes buffered at once", func(t *testing.T) {
		h, c := newHandler("main")
		h.MaxBuffered = 64 << 10
		// 20,000 bytes sent: each body holds a 32 KiB buffer, and two of
		// them the whole budget.
		body := pad(push, 20000)
		var resumes []func()
		var statuses []<-chan int
		for range 2 {
			resume, status := stall(t, h, body, len(body))
			resumes, statuses = append(resumes, resume), append(statuses, status)
		}
		if got := h.buffered.Load(); got != 64<<10 {
			t.Errorf("buffered %d bytes, want %d", got, 64<<10)
		}
		status, got := serve(t, h, signedGitHub(bytes.NewReader(push), push))
		want := map[string]string{"error": "webhook bodies hold 65536 bytes already; retry later"}
		if status != 503 || !cmp.Equal(got, want) {
			t.Errorf("third body: got %d %v, want 503 %v", status, got, want)
		}
		for i, resume := range resumes {
			resume()
			if code := <-statuses[i]; code != 202 {
				t.Errorf("stalled request %d: %d, want 202 once resumed", i, code)
			}
		}
		if got := h.buffered.Load(); got != 0 {
			t.Errorf("buffered %d bytes once every request is answered, want 0", got)
		}
		// The whole budget is back: one body may use all of it.
		big := pad(push, 60000)
		if status, got := serve(t, h, signedGitHub(bytes.NewReader(big), big)); status != 202 {
			t.Errorf("a 60,000-byte body after the stalled ones finished: %d %v, want 202", status, got)
		}
		if n := c.n.Load(); n != 3 {
			t.Errorf("triggered %d times, want 3", n)
		}
	})

	t.Run("budget given back on refusal", func(t *testing.T) {
		h, _ := newHandler("main")
		h.MaxBody = 10000
		for _, r := range []*http.Request{
			signedGitHub(new(endless), push),                                       // too large
			signedGitHub(io.MultiReader(bytes.NewReader(push), errReader{}), push), // broken
			signedGitHub(bytes.NewReader(push), []byte("another body")),            // bad signature
		} {
			r.ContentLength = -1
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		if got, n := h.buffered.Load(), h.reading.Load(); got != 0 || n != 0 {
			t.Errorf("after three refusals: %d bytes buffered, %d bodies reading; want 0 and 0", got, n)
		}
	})
}

// errReader fails every read, like a connection that breaks.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

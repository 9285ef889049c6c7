package testkit

import (
	"crypto/subtle"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/moor-dev/moor/internal/githttp"
)

// GitHTTPServer is git's smart HTTP protocol (git http-backend behind Go's
// CGI host) on 127.0.0.1, optionally behind basic auth. A test can stop it
// and start it again on the same port to play "the git server is down".
type GitHTTPServer struct {
	t       testing.TB
	addr    string // 127.0.0.1:PORT, fixed by the first start
	handler http.Handler

	mu     sync.Mutex
	srv    *http.Server // nil while stopped
	active int          // requests in flight
	idle   *sync.Cond   // signalled when active drops
}

// GitHTTP serves the repositories under root (bare ones: "x.git" is
// URL("x.git")) over plain HTTP on a free port of 127.0.0.1, with every
// repository exported (GIT_HTTP_EXPORT_ALL). With a non-empty user, every
// request needs basic auth with user and pass and is answered 401 otherwise;
// an empty user serves anyone. The server is stopped at cleanup. Without the
// git binary the test is skipped, or fails under CI.
func GitHTTP(t testing.TB, root, user, pass string) *GitHTTPServer {
	t.Helper()
	backend, err := githttp.Backend(root, testLogWriter{t: t, prefix: "git http-backend: "})
	if err != nil {
		skipOrFail(t, err)
	}
	s := &GitHTTPServer{t: t}
	s.idle = sync.NewCond(&s.mu)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			u, p, ok := r.BasicAuth()
			// Both compared, always: a test server, but no reason to
			// teach the timing of an early return.
			okUser := subtle.ConstantTimeCompare([]byte(u), []byte(user))
			okPass := subtle.ConstantTimeCompare([]byte(p), []byte(pass))
			if !ok || okUser&okPass != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="moor-test"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("git http server: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// URL returns the URL of the repository at repoPath (slash-separated,
// relative to the root the server was given).
func (s *GitHTTPServer) URL(repoPath string) string {
	return "http://" + s.addr + "/" + strings.TrimPrefix(repoPath, "/")
}

// Stop closes the listener and every connection and waits for the requests
// in flight to end. Connecting fails until Start. Stopping a stopped server
// does nothing.
func (s *GitHTTPServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// Close does not wait for handlers; a CGI child still writing its
	// answer is killed by the CGI host once the connection is gone.
	s.mu.Lock()
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// Start serves again on the same address after Stop (it fails the test if
// another process took the port meanwhile). Starting a running server does
// nothing. Call it from the test's goroutine.
func (s *GitHTTPServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("restart git http server on %s: %v", s.addr, err)
	}
	s.serve(l)
}

func (s *GitHTTPServer) serve(l net.Listener) {
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0)}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.srv != srv { // stopped while this request was on its way
			s.mu.Unlock()
			http.Error(w, "stopped", http.StatusServiceUnavailable)
			return
		}
		s.active++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.active--
			s.idle.Broadcast()
			s.mu.Unlock()
		}()
		s.handler.ServeHTTP(w, r)
	})
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	// The listener is bound already: the server accepts from now on, so
	// there is nothing to wait for.
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("git http server on %s: %v", s.addr, err)
		}
	}()
}

// testLogWriter writes what a helper process prints to the test log.
type testLogWriter struct {
	t      testing.TB
	prefix string
}

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

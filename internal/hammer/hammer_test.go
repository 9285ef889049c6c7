package hammer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runUntil hammers h until cond holds for its summary (or 10s pass) and
// returns the final summary.
func runUntil(t *testing.T, h *Hammer, cond func(Summary) bool) Summary {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan Summary, 1)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(h.Summary()) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("condition not met in 10s; summary %+v", <-done)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	return <-done
}

func TestCountsVersionsAndFailures(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Connection") != "close" && !r.Close {
			t.Errorf("request without Connection: close: %v", r.Header)
		}
		switch k := n.Add(1); {
		case k <= 3:
			fmt.Fprintln(w, "version=1 host=a")
		case k <= 5:
			http.Error(w, "unhealthy", http.StatusInternalServerError)
		default:
			fmt.Fprintln(w, "version=2 host=b")
		}
	}))
	defer srv.Close()
	var progress atomic.Int64
	h := &Hammer{URL: srv.URL, Pause: time.Millisecond, Progress: func(requests, failed int) { progress.Store(int64(requests)) }}
	s := runUntil(t, h, func(s Summary) bool { return s.Versions["2"] >= 3 })
	if s.Failed != 2 || s.Versions["1"] != 3 || s.Requests != s.Failed+s.Versions["1"]+s.Versions["2"] || s.DialRetries != 0 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Errors) != 2 || !strings.Contains(s.Errors[0], "status 500: unhealthy") {
		t.Errorf("errors %q", s.Errors)
	}
	if s.LongestOutageMS < 0 || s.LongestOutage() > time.Second {
		t.Errorf("outage %dms for two quick failures", s.LongestOutageMS)
	}
	if got := progress.Load(); got != int64(s.Requests) {
		t.Errorf("last progress %d, requests %d", got, s.Requests)
	}
}

// A dial that fails once is retried and the request succeeds; a dial that
// fails twice fails the request.
func TestDialRetry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "version=1")
	}))
	defer srv.Close()
	var (
		mu    sync.Mutex
		dials int
	)
	h := &Hammer{URL: srv.URL, Pause: time.Millisecond}
	h.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials++
		k := dials
		mu.Unlock()
		// Dials 1, 3 and 4 are refused: request 1 succeeds on its retry,
		// request 2 fails after it.
		if k == 1 || k == 3 || k == 4 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("connection refused")}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	s := runUntil(t, h, func(s Summary) bool { return s.Requests >= 3 })
	if s.DialRetries != 2 || s.Failed != 1 || s.Versions["1"] != s.Requests-1 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "retried once: ") || !strings.Contains(s.Errors[0], "dial: dial tcp: connection refused") {
		t.Errorf("errors %q", s.Errors)
	}
}

// Nothing listens: every request fails after its retry, and both of its
// connection attempts are counted.
func TestNothingListens(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	h := &Hammer{URL: url, Pause: time.Millisecond}
	s := runUntil(t, h, func(s Summary) bool { return s.Requests >= 3 })
	if s.Failed != s.Requests || s.DialRetries != s.Requests || s.AddressDialFailures != 2*s.Requests || len(s.Versions) != 0 {
		t.Errorf("summary %+v", s)
	}
	if len(s.AddressDialErrors) == 0 || !strings.Contains(s.AddressDialErrors[0], "connection refused") {
		t.Errorf("address dial errors %q", s.AddressDialErrors)
	}
	if s.LongestOutageMS <= 0 {
		t.Errorf("no outage measured while nothing listened: %+v", s)
	}
}

// A dial that hangs (its address went away) fails at DialTimeout, in time
// for the retry within the request's Timeout.
func TestDialTimeoutRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "version=1")
	}))
	defer srv.Close()
	var hung atomic.Bool
	h := &Hammer{URL: srv.URL, Timeout: 2 * time.Second, DialTimeout: 100 * time.Millisecond}
	h.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if hung.CompareAndSwap(false, true) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	s := runUntil(t, h, func(s Summary) bool { return s.Requests >= 2 })
	if s.DialRetries != 1 || s.Failed != 0 || len(s.DialErrors) != 1 || !strings.Contains(s.DialErrors[0], "deadline exceeded") {
		t.Errorf("summary %+v", s)
	}
}

// The outage runs from the first failure to the next success.
func TestLongestOutage(t *testing.T) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "version=1")
	}))
	defer srv.Close()
	h := &Hammer{URL: srv.URL, Pause: time.Millisecond}
	var downAt, upAt time.Time
	s := runUntil(t, h, func(s Summary) bool {
		switch {
		case downAt.IsZero() && s.Versions["1"] >= 5:
			downAt = time.Now()
			down.Store(true)
		case !downAt.IsZero() && upAt.IsZero() && time.Since(downAt) >= 200*time.Millisecond:
			upAt = time.Now()
			down.Store(false)
		case !upAt.IsZero():
			return s.Versions["1"] >= 10 && s.Failed > 0
		}
		return false
	})
	want := upAt.Sub(downAt)
	if got := s.LongestOutage(); got < want-50*time.Millisecond || got > want+50*time.Millisecond {
		t.Errorf("longest outage %s, the service was down for %s", got, want)
	}
}

// A request in flight when the hammer stops is not counted as failed.
func TestStopIsNotAFailure(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	h := &Hammer{URL: srv.URL, Timeout: time.Minute}
	done := make(chan Summary, 1)
	go func() { done <- h.Run(ctx) }()
	<-started
	cancel()
	if s := <-done; s.Requests != 0 || s.Failed != 0 {
		t.Errorf("summary %+v", s)
	}
}

func TestVersion(t *testing.T) {
	for body, want := range map[string]string{
		"version=2 host=abc\n": "2",
		"host=x version=v1.2":  "v1.2",
		"ok":                   "unknown",
		"version= host=x":      "unknown",
	} {
		if got := Version(body); got != want {
			t.Errorf("Version(%q) = %q, want %q", body, got, want)
		}
	}
}

// TestUnansweredRetry: a connection the server closes before any answer is
// sent again once; closed twice, the request fails. An answer cut short
// after it began is a failure at once.
func TestUnansweredRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			k := conns.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				switch k {
				case 1, 3, 4: // closed unanswered
				case 5: // cut short after the status line
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nversion=1")
				default:
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nversion=1\n")
				}
			}()
		}
	}()
	h := &Hammer{URL: "http://" + ln.Addr().String() + "/", Pause: time.Millisecond}
	s := runUntil(t, h, func(s Summary) bool { return s.Requests >= 5 })
	// Requests: 1 (conns 1, 2: retried, ok), 2 (conns 3, 4: failed), 3 (conn
	// 5: cut short, failed), then ok.
	if s.UnansweredRetries != 2 || s.Failed != 2 || s.Versions["1"] != s.Requests-2 {
		t.Errorf("summary %+v", s)
	}
}

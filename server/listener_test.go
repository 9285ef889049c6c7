package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitHarness serves a connLimit of three connections on a clock the test
// moves. GET / answers, GET /block answers once the test ends, POST /refuse
// answers 503 with Connection: close without reading the body.
type limitHarness struct {
	t   *testing.T
	l   *connLimit
	mu  sync.Mutex
	now time.Time
}

func newLimitHarness(t *testing.T) *limitHarness {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &limitHarness{t: t, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.l = newConnLimit(ln, 3)
	h.l.now = h.clock
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("GET /block", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /refuse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Length", "4")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "busy")
	})
	srv := &http.Server{Handler: closeFirst(mux, h.l), ConnState: h.l.track, ConnContext: withConn}
	go srv.Serve(h.l)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return h
}

func (h *limitHarness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// advance moves the clock and wakes an Accept that waits for room.
func (h *limitHarness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
	h.l.mu.Lock()
	h.l.signal()
	h.l.mu.Unlock()
}

// settle waits until the limiter holds the connections given, by rank.
func (h *limitHarness) settle(done, silent, heard, serving int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.l.mu.Lock()
		got := [4]int{h.l.done.Len(), h.l.silent.Len(), h.l.heard.Len(), h.l.serving.Len()}
		h.l.mu.Unlock()
		if got == [4]int{done, silent, heard, serving} {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("done, silent, heard, serving = %v, want %v", got, [4]int{done, silent, heard, serving})
		}
		time.Sleep(time.Millisecond)
	}
}

// dial connects and sends req, if any.
func (h *limitHarness) dial(req string) net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.l.Addr().String())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			h.t.Fatal(err)
		}
	}
	return c
}

const (
	getRoot  = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	getBlock = "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"
)

// answer reads one response from c and returns its status code.
func answer(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// closedByServer reports whether the server closed c (within a second).
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestConnLimitMakesRoom walks the ranks in which connections are closed
// to make room, at a limit of three.
func TestConnLimitMakesRoom(t *testing.T) {
	h := newLimitHarness(t)

	// Silent: c1 sends nothing; c2's request runs; c3 waits between
	// requests.
	c1 := h.dial("")
	c2 := h.dial(getBlock)
	c3 := h.dial(getRoot)
	if code := answer(t, c3); code != 200 {
		t.Fatalf("c3: %d", code)
	}
	h.settle(0, 2, 0, 1)

	// A fourth connection closes the one silent longest: c1, then c3.
	h.advance(200 * time.Millisecond)
	c4 := h.dial(getRoot)
	if code := answer(t, c4); code != 200 {
		t.Fatalf("c4: %d", code)
	}
	if !closedByServer(c1) {
		t.Fatal("c1, silent longest, is still open")
	}
	h.settle(0, 2, 0, 1) // c3, c4; c2
	c5 := h.dial("")
	h.settle(0, 2, 0, 1)
	if !closedByServer(c3) {
		t.Fatal("c3, idle longest, is still open")
	}

	// Nobody has been silent for SilentGrace, and c2's request is younger
	// than ConnGrace: c6 waits in the accept queue, and is served once c4
	// has been silent long enough.
	c6 := h.dial(getRoot)
	c6.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c6.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("c6 was answered (or closed: %v) while no connection could make room", err)
	}
	c6.SetReadDeadline(time.Time{})
	h.advance(100 * time.Millisecond)
	if code := answer(t, c6); code != 200 {
		t.Fatalf("c6: %d", code)
	}
	if !closedByServer(c4) {
		t.Fatal("c4, idle longest, is still open")
	}
	h.settle(0, 2, 0, 1) // c5, c6; c2

	// An answered connection the server is about to close goes first, even
	// before silent ones: c7's body is refused unread, and the server
	// lingers on the connection.
	h.advance(200 * time.Millisecond)
	c7 := h.dial("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 300000))
	if code := answer(t, c7); code != 503 {
		t.Fatalf("c7: %d", code)
	}
	if !closedByServer(c5) {
		t.Fatal("c5, silent longest, is still open")
	}
	h.settle(1, 1, 0, 1) // c7; c6; c2
	h.dial("")
	h.settle(0, 2, 0, 1) // c6, c8; c2
	if !closedByServer(c7) {
		t.Fatal("c7, answered and closing, is still open")
	}

	// Once c2's request is ConnGrace old, it goes before connections that
	// have been silent for less than SilentGrace: two new ones take the
	// places of c6 and c8, and a third one c2's.
	h.advance(time.Second)
	h.dial("")
	h.dial("")
	h.settle(0, 2, 0, 1)
	h.dial("")
	h.settle(0, 3, 0, 0)
	if !closedByServer(c2) {
		t.Fatal("c2, serving the oldest request, is still open")
	}
	if n := h.l.evicted.Load(); n != 8 {
		t.Errorf("%d connections closed to make room, want 8", n)
	}
	if n := h.l.open.Load(); n != 3 {
		t.Errorf("%d connections counted open, want 3", n)
	}
}

// TestConnLimitPartialRequests: a connection that has sent part of its
// request keeps its place for ConnGrace, while silent ones go first.
func TestConnLimitPartialRequests(t *testing.T) {
	h := newLimitHarness(t)
	partial := "GET / HTTP/1.1\r\nHost"
	c1 := h.dial(partial)
	h.settle(0, 0, 1, 0)
	h.dial(partial)
	h.settle(0, 0, 2, 0)
	c3 := h.dial("")
	h.settle(0, 1, 2, 0)

	h.advance(200 * time.Millisecond)
	h.dial("")
	h.settle(0, 1, 2, 0)
	if !closedByServer(c3) {
		t.Fatal("c3, silent, is still open")
	}
	h.advance(time.Second) // c1 and c2 are past ConnGrace, c4 past SilentGrace
	h.dial("")
	h.settle(0, 1, 2, 0) // c4 went first
	h.dial("")
	h.settle(0, 2, 1, 0)
	if !closedByServer(c1) {
		t.Fatal("c1, the oldest partial request, is still open")
	}
}

// TestPending: bytes that arrived and that nobody has read are seen, and
// left where they are.
func TestPending(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if pending(server) {
		t.Fatal("pending before the client sent anything")
	}
	io.WriteString(client, "GET")
	deadline := time.Now().Add(5 * time.Second)
	for !pending(server) {
		if time.Now().After(deadline) {
			t.Fatal("not pending after the client sent 3 bytes")
		}
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "GET" {
		t.Fatalf("read %q, %v after the peek; want GET", buf, err)
	}
}

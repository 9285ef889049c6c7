package testkit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Flood is a crowd of hostile clients of one HTTP address, for tests that
// show a server survives them. Each client holds one connection as long as
// the server lets it, and opens another one a little after the server
// closes it, until the flood stops.
type Flood struct {
	// Addr is host:port.
	Addr string
	// SlowBodies clients POST to Path with a Content-Length of BodySize,
	// send BodySent bytes of it in 64 KiB pieces, one every PieceEvery,
	// and then send nothing more: a webhook whose body never ends.
	SlowBodies int
	Path       string
	// Headers are added to the slow bodies' requests ("Name: value").
	Headers    []string
	BodySize   int
	BodySent   int
	PieceEvery time.Duration
	// Idle clients connect and send nothing.
	Idle int
	// Pause is how long a client waits after its connection closed before
	// it opens another one.
	Pause time.Duration

	held, dials, refused, closed atomic.Int64
	stop                         context.CancelFunc
	wg                           sync.WaitGroup
}

// FloodStats are what the clients saw.
type FloodStats struct {
	// Held is how many connections are open now.
	Held int64
	// Dials counts connections made, Refused dials that failed, Closed
	// connections the server closed.
	Dials, Refused, Closed int64
}

func (s FloodStats) String() string {
	return fmt.Sprintf("%d connections open now; %d made, %d dials failed, %d closed by the server", s.Held, s.Dials, s.Refused, s.Closed)
}

// Start raises the test's open-file limit as far as it may go, starts the
// clients, and stops them at test cleanup. It fails the test when the limit
// cannot hold them all.
func (f *Flood) Start(t testing.TB) {
	t.Helper()
	need := uint64(f.SlowBodies + f.Idle + 256)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < need {
		lim.Cur = min(lim.Max, need)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < need {
		t.Fatalf("the open-file limit is %d, and the flood needs %d", lim.Cur, need)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	piece := []byte(strings.Repeat("x", 64<<10))
	for range f.SlowBodies {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.client(ctx, func(c net.Conn) { f.slowBody(ctx, c, piece) })
		}()
	}
	for range f.Idle {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.client(ctx, func(c net.Conn) { f.wait(ctx, c) })
		}()
	}
	t.Cleanup(f.Stop)
}

// Stop ends the flood and closes every connection.
func (f *Flood) Stop() {
	if f.stop != nil {
		f.stop()
	}
	f.wg.Wait()
}

// Stats returns what the clients saw so far.
func (f *Flood) Stats() FloodStats {
	return FloodStats{Held: f.held.Load(), Dials: f.dials.Load(), Refused: f.refused.Load(), Closed: f.closed.Load()}
}

// client connects again and again until ctx ends, and lets use hold each
// connection until the server closes it.
func (f *Flood) client(ctx context.Context, use func(net.Conn)) {
	d := net.Dialer{Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", f.Addr)
		if err != nil {
			f.refused.Add(1)
		} else {
			f.dials.Add(1)
			f.held.Add(1)
			stop := context.AfterFunc(ctx, func() { c.Close() })
			use(c)
			stop()
			c.Close()
			f.held.Add(-1)
			if ctx.Err() == nil {
				f.closed.Add(1)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.Pause):
		}
	}
}

// slowBody sends a request's headers and BodySent bytes of its body, then
// waits until the connection closes.
func (f *Flood) slowBody(ctx context.Context, c net.Conn, piece []byte) {
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", f.Path, f.Addr, f.BodySize)
	for _, h := range f.Headers {
		fmt.Fprintf(w, "%s\r\n", h)
	}
	fmt.Fprint(w, "\r\n")
	if w.Flush() != nil {
		return
	}
	for sent := 0; sent < f.BodySent; sent += len(piece) {
		if sent > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.PieceEvery):
			}
		}
		if _, err := c.Write(piece[:min(len(piece), f.BodySent-sent)]); err != nil {
			return
		}
	}
	f.wait(ctx, c)
}

// wait reads (and drops) whatever the server sends until it closes c.
func (f *Flood) wait(ctx context.Context, c net.Conn) {
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

package server

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// How long a connection keeps its place at the connection limit. An
// honest client sends its whole request as soon as it is connected, and it
// arrives with, or a moment after, the end of the TCP handshake.
const (
	// ConnGrace is how long a connection that has sent part of a request,
	// or whose request is being served, keeps its place.
	ConnGrace = time.Second
	// SilentGrace is how long a new connection from which nothing has
	// arrived keeps its place (and an idle keep-alive one).
	SilentGrace = 100 * time.Millisecond
)

// connLimit is a listener that keeps at most max connections open. When a
// connection arrives and max are open, room is made by closing
//
//  1. a connection that has been answered and is about to close (see
//     closing); else
//  2. the connection that has been silent longest, once that was
//     SilentGrace ago: a new one from which nothing has arrived, or an
//     idle keep-alive one; else
//  3. the one that has waited longest for the rest of its request, or
//     whose request began longest ago, once that was ConnGrace ago;
//
// and when there is none of those, Accept waits until there is (or until a
// connection closes), leaving new connections in the kernel's accept queue.
//
// So clients that connect and send nothing cost at most max connections
// and cannot crowd out one that sends a request: what it sent is there when
// room is made, whether it waits in the accept queue or for the server to
// read it, and it is served within ConnGrace or keeps its place until then.
// Clients that send part of a request and stall hold a place for ConnGrace
// at most while others wait, and the server's timeouts end them anyway.
//
// On Linux the listening socket also defers accepting a connection until
// its client has sent something (see deferAccept), so that a new
// connection is silent only once that has timed out.
//
// The server reports each connection's state through track
// (http.Server.ConnState); a connection is counted from Accept until it is
// closed, by the server, by its client or to make room.
type connLimit struct {
	net.Listener
	max                int
	grace, silentGrace time.Duration
	now                func() time.Time

	mu sync.Mutex
	// done holds the connections of rank 1 above, silent those of rank
	// 2, heard those with something sent but not a whole request read,
	// serving those with a request in progress; each oldest first.
	done, silent, heard, serving list.List
	// changed is signalled when a connection closes or falls silent.
	changed chan struct{}
	// closed is closed with the listener.
	closed    chan struct{}
	closeOnce sync.Once

	open    atomic.Int64
	evicted atomic.Int64
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, grace: ConnGrace, silentGrace: SilentGrace, now: time.Now,
		changed: make(chan struct{}, 1), closed: make(chan struct{})}
}

// Close stops listening, and ends an Accept waiting for room.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn is a connection of a connLimit.
type limitedConn struct {
	net.Conn
	l *connLimit
	// in is the list it is in, elem its place there, since when; in is nil
	// once closed.
	in    *list.List
	elem  *list.Element
	since time.Time
	// silent mirrors in == &l.silent, for Read to check without the lock.
	silent atomic.Bool
}

func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	for {
		l.mu.Lock()
		var victim *limitedConn
		var wait time.Duration
		if int(l.open.Load()) >= l.max {
			victim, wait = l.victim()
			if victim != nil {
				victim.forget()
			}
		}
		if wait == 0 {
			lc.moveTo(&l.silent)
			l.open.Add(1)
		}
		l.mu.Unlock()
		if victim != nil {
			// Counted before it closes: whoever sees it closed sees it
			// counted.
			l.evicted.Add(1)
			victim.Conn.Close()
		}
		if wait == 0 {
			return lc, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-l.changed:
		case <-t.C:
		case <-l.closed:
			t.Stop()
			c.Close()
			return nil, net.ErrClosed
		}
		t.Stop()
	}
}

// victim is the connection to close to make room, or, when none may be
// closed yet, how long until one may. A silent connection whose client
// has sent something that the server has not read yet is moved to heard on
// the way. l.mu is held, and max connections are open.
func (l *connLimit) victim() (*limitedConn, time.Duration) {
	if e := l.done.Front(); e != nil {
		return e.Value.(*limitedConn), 0
	}
	now := l.now()
	wait := l.grace
	for e := l.silent.Front(); e != nil; e = l.silent.Front() {
		c := e.Value.(*limitedConn)
		if pending(c.Conn) {
			c.moveTo(&l.heard)
			continue
		}
		if w := c.since.Add(l.silentGrace).Sub(now); w > 0 {
			wait = w
			break
		}
		return c, 0
	}
	var oldest *limitedConn
	for _, ls := range []*list.List{&l.heard, &l.serving} {
		if e := ls.Front(); e != nil {
			if c := e.Value.(*limitedConn); oldest == nil || c.since.Before(oldest.since) {
				oldest = c
			}
		}
	}
	if oldest == nil {
		return nil, wait
	}
	if w := oldest.since.Add(l.grace).Sub(now); w > 0 {
		return nil, min(w, wait)
	}
	return oldest, 0
}

// track follows a connection through the server's states: a request read
// puts it at the end of serving, the end of a request at the end of
// silent.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.in == nil { // closed already
		return
	}
	switch state {
	case http.StateActive:
		lc.moveTo(&l.serving)
	case http.StateIdle:
		lc.moveTo(&l.silent)
		l.signal()
	case http.StateHijacked, http.StateClosed:
		lc.forget()
	}
}

// closing marks the connection of a request that has been answered, and
// whose connection the server closes next, as the first to go when room is
// needed: its answer has been flushed, and the server may still linger on
// it (up to half a second when the client was still sending a body).
func (l *connLimit) closing(ctx context.Context) {
	lc, ok := ctx.Value(connKey{}).(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.in != nil {
		lc.moveTo(&l.done)
		l.signal()
	}
}

// connKey is the context key of the connection a request came on
// (http.Server.ConnContext).
type connKey struct{}

func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (l *connLimit) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// Read moves a silent connection to heard once something arrives.
func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.silent.Load() {
		c.l.mu.Lock()
		if c.in == &c.l.silent {
			c.moveTo(&c.l.heard)
		}
		c.l.mu.Unlock()
	}
	return n, err
}

// moveTo puts c at the end of to. l.mu is held.
func (c *limitedConn) moveTo(to *list.List) {
	if c.in != nil {
		c.in.Remove(c.elem)
	}
	c.in, c.elem, c.since = to, to.PushBack(c), c.l.now()
	c.silent.Store(to == &c.l.silent)
}

// forget stops counting c. l.mu is held.
func (c *limitedConn) forget() {
	if c.in == nil {
		return
	}
	c.in.Remove(c.elem)
	c.in, c.elem = nil, nil
	c.silent.Store(false)
	c.l.open.Add(-1)
	c.l.signal()
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.forget()
	c.l.mu.Unlock()
	return c.Conn.Close()
}

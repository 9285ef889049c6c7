package testkit

import (
	"context"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// EngineProxy is a reverse proxy on a unix socket in front of the
// engine's that counts the requests a program behind it makes, by method
// and path ("GET /containers/json"), and can cut its streams of events, as
// an engine restart does. A program reaches it through DOCKER_HOST=Host().
type EngineProxy struct {
	path string
	srv  *http.Server

	mu      sync.Mutex
	calls   map[string]int
	refuse  bool                       // events requests are answered 503
	streams map[int]context.CancelFunc // events requests under way
	next    int
}

var apiVersionRE = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// StartEngineProxy starts a proxy in front of the engine testkit finds
// (a unix socket only); it stops when the test ends.
func StartEngineProxy(t testing.TB) *EngineProxy {
	t.Helper()
	cli := Docker(t)
	host := cli.DaemonHost()
	engine, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		t.Skipf("the engine is at %s, not a unix socket", host)
	}
	dir, err := os.MkdirTemp("", "moor-proxy-") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &EngineProxy{path: filepath.Join(dir, "engine.sock"), calls: map[string]int{}, streams: map[int]context.CancelFunc{}}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	var dialer net.Dialer
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", "docker", r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", engine)
			},
			IdleConnTimeout: 30 * time.Second,
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := apiVersionRE.ReplaceAllString(r.URL.Path, "/")
		key := r.Method + " " + path
		p.mu.Lock()
		p.calls[key]++
		if path != "/events" {
			p.mu.Unlock()
			rp.ServeHTTP(w, r)
			return
		}
		if p.refuse {
			p.mu.Unlock()
			http.Error(w, "the engine is restarting", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		id := p.next
		p.next++
		p.streams[id] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.streams, id)
			p.mu.Unlock()
			cancel()
		}()
		rp.ServeHTTP(w, r.WithContext(ctx))
	})}
	go p.srv.Serve(l)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// Host is the DOCKER_HOST of the proxy.
func (p *EngineProxy) Host() string { return "unix://" + p.path }

// Client is an engine client through the proxy.
func (p *EngineProxy) Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(p.Host()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Calls returns the requests so far, by method and path.
func (p *EngineProxy) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

// Streams is how many streams of events are open.
func (p *EngineProxy) Streams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.streams)
}

// CutEvents ends every stream of events, and answers new requests for
// them 503 until RestoreEvents: the engine went away and is coming back.
func (p *EngineProxy) CutEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
	for _, cancel := range p.streams {
		cancel()
	}
}

// RestoreEvents serves streams of events again.
func (p *EngineProxy) RestoreEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
}

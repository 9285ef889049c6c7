// Package engineproxy is a reverse proxy on a unix socket in front of the
// Docker Engine's that counts the requests a program behind it makes, by
// endpoint ("GET /containers/{id}/json"), and can cut its streams of
// events as an engine restart does. Streams (events, logs) are flushed as
// they come and upgraded connections (attach) are passed through, so a
// program behind it works as it does against the engine. The bench puts
// moor, docker compose and its own floor behind it; tests put moor run.
package engineproxy

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Proxy is one proxy; Start makes it.
type Proxy struct {
	path string
	srv  *http.Server

	mu      sync.Mutex
	calls   map[string]int
	refuse  bool                       // events requests are answered 503
	streams map[int]context.CancelFunc // events requests under way
	next    int
}

// Start listens on the unix socket path (removing a stale one) and serves
// the engine at the unix socket engine behind it.
func Start(path, engine string) (*Proxy, error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("engine proxy: %w", err)
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
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     30 * time.Second,
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p := &Proxy{path: path, calls: map[string]int{}, streams: map[int]context.CancelFunc{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := Endpoint(r)
		p.mu.Lock()
		p.calls[key]++
		if key != "GET /events" {
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
	return p, nil
}

// Host is the DOCKER_HOST of the proxy.
func (p *Proxy) Host() string { return "unix://" + p.path }

// Calls returns the requests so far, by endpoint.
func (p *Proxy) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

// Streams is how many streams of events are open.
func (p *Proxy) Streams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.streams)
}

// CutEvents ends every stream of events, and answers new requests for
// them 503 until RestoreEvents: the engine went away and is coming back.
func (p *Proxy) CutEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
	for _, cancel := range p.streams {
		cancel()
	}
}

// RestoreEvents serves streams of events again.
func (p *Proxy) RestoreEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
}

// Close stops the proxy and removes its socket.
func (p *Proxy) Close() {
	p.srv.Close()
	os.Remove(p.path)
}

var apiVersionRE = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// collections are the path segments after /containers/ and the like that
// name no object.
var collections = map[string]bool{"json": true, "create": true, "prune": true}

// Endpoint names a request by method and path, with the API version
// dropped and object names and IDs replaced: "GET /containers/{id}/json".
func Endpoint(r *http.Request) string {
	path := apiVersionRE.ReplaceAllString(r.URL.Path, "/")
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) >= 2 && !collections[seg[1]] {
		switch seg[0] {
		case "containers", "networks", "volumes", "exec", "plugins":
			seg[1] = "{id}"
		case "images", "distribution":
			// Image names hold slashes: keep the verb at the end, if any.
			last := seg[len(seg)-1]
			if len(seg) > 2 && (last == "json" || last == "history" || last == "tag" || last == "push") {
				seg = []string{seg[0], "{name}", last}
			} else {
				seg = []string{seg[0], "{name}"}
			}
		}
	}
	return r.Method + " /" + strings.Join(seg, "/")
}

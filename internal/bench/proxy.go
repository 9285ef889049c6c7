package main

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

// proxy is a reverse proxy on a unix socket in front of the engine's that
// counts every request, by endpoint. Streams (events, logs) are flushed as
// they come and upgraded connections (attach) are passed through, so a tool
// behind it works as it does against the engine.
type proxy struct {
	path string
	srv  *http.Server

	mu    sync.Mutex
	calls counts
}

// counts are requests by endpoint ("GET /containers/json").
type counts map[string]int

func (c counts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// minus returns the counts of c that are not in before.
func (c counts) minus(before counts) counts {
	out := counts{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (c counts) add(o counts) {
	for k, v := range o {
		c[k] += v
	}
}

func startProxy(path, engine string) (*proxy, error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	var dialer net.Dialer
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = "docker"
			r.Out.Host = r.In.Host
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
	p := &proxy{path: path, calls: counts{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[endpoint(r)]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(l)
	return p, nil
}

// snapshot returns the counts so far.
func (p *proxy) snapshot() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

func (p *proxy) close() {
	p.srv.Close()
	os.Remove(p.path)
}

var apiVersionRE = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// collections are the path segments after /containers/ and the like that
// name no object.
var collections = map[string]bool{"json": true, "create": true, "prune": true}

// endpoint names a request by method and path, with the API version dropped
// and object names and IDs replaced: "GET /containers/{id}/json".
func endpoint(r *http.Request) string {
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

package engineproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeEngine answers every request 200 with its path, and /events with a
// stream that stays open until the client goes.
func fakeEngine(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.41/events" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, r.URL.Path)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func TestProxyCountsAndCutsEvents(t *testing.T) {
	dir, err := os.MkdirTemp("", "engineproxy-") // a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	engine := filepath.Join(dir, "engine.sock")
	fakeEngine(t, engine)
	p, err := Start(filepath.Join(dir, "proxy.sock"), engine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", p.path)
	}}}
	get := func(path string) (int, string) {
		t.Helper()
		res, err := hc.Get("http://docker" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/v1.41/containers/abc123/json"); code != 200 || body != "/v1.41/containers/abc123/json" {
		t.Fatalf("through the proxy: %d %q", code, body)
	}
	get("/v1.41/containers/json")
	get("/v1.41/images/registry.example/app:1/json")

	res, err := hc.Get("http://docker/v1.41/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for p.Streams() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stream of events is not counted as open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.CutEvents()
	if _, err := io.ReadAll(res.Body); err == nil && p.Streams() != 0 {
		t.Fatalf("the stream of events was not cut: %d open", p.Streams())
	}
	if code, _ := get("/v1.41/events"); code != http.StatusServiceUnavailable {
		t.Errorf("events while cut: %d, want 503", code)
	}
	p.RestoreEvents()

	want := map[string]int{
		"GET /containers/{id}/json": 1,
		"GET /containers/json":      1,
		"GET /images/{name}/json":   1,
		"GET /events":               2,
	}
	got := p.Calls()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d requests counted, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/engineproxy"
)

// EngineProxy is a reverse proxy on a unix socket in front of the
// engine's that counts the requests a program behind it makes, by
// endpoint ("GET /containers/json"), and can cut its streams of events, as
// an engine restart does (engineproxy). A program reaches it through
// DOCKER_HOST=Host().
type EngineProxy struct {
	*engineproxy.Proxy
}

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
	p, err := engineproxy.Start(filepath.Join(dir, "engine.sock"), engine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &EngineProxy{Proxy: p}
}

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

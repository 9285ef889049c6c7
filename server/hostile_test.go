package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/fakeclock"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/server"
)

// TestHostileClients holds five hundred webhooks that send 768 KiB of a
// 1 MiB body, slowly, and stall, and a thousand connections that send
// nothing against the server, with a controller polling behind it, for
// five seconds; each client connects again a second after the server
// closes it. (The flood and the server share this process and its two
// cores; cmd/moor's TestRunSurvivesHostileClients holds four times as many
// against a real moor run.) /healthz
// answers every probe, on a new connection, within five seconds and in
// milliseconds at the median (the first probes wait behind the flood's
// first connections in the accept queue), the server keeps at most its connection
// limit open and its heap small, a commit made meanwhile is deployed, and
// a valid webhook works once the flood ends.
func TestHostileClients(t *testing.T) {
	repo := testkit.NewRepo(t)
	repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:1\n")
	repo.Commit("v1")
	fake := runtime.NewFake()
	fake.Publish("app:1", "sha256:1")
	fake.Publish("app:2", "sha256:2")
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("s3cret"), 0o600)
	src := config.Source{Name: "prod", Repo: repo.Dir, Ref: "main", WebhookSecretFile: secretFile}
	ctl := controller.New(src, t.TempDir(), fake, nil, nil)
	ctl.Executor.Clock = fakeclock.NewAuto()
	reg := prometheus.NewRegistry()
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Sources: []*controller.Controller{ctl}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// The loop ends with the test's context; its state directory goes
	// once it has.
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		ctl.Loop(t.Context(), cron.Every(time.Second), nil)
	}()
	t.Cleanup(func() { <-loopDone })
	testkit.Eventually(t, 10*time.Second, "v1 deployed", func() bool {
		rep := ctl.Report()
		return rep != nil && rep.Applied != ""
	})
	before := heapInUse()

	flood := &testkit.Flood{
		Addr: srv.Addr, Path: "/hooks/github/prod", SlowBodies: 500, Idle: 1000, Pause: time.Second,
		Headers:  []string{"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + strings.Repeat("0", 64)},
		BodySize: 1 << 20, BodySent: 768 << 10, PieceEvery: 100 * time.Millisecond,
	}
	flood.Start(t)

	// Every probe on a new connection, as a health checker makes them.
	health := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	var peakHeap uint64
	var peakConns float64
	committed := false
	var rev2 string
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for start := time.Now(); time.Since(start) < 5*time.Second; <-tick.C {
		t0 := time.Now()
		res, err := health.Get("http://" + srv.Addr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz under the flood (%s): %v", flood.Stats(), err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("/healthz under the flood: %s", res.Status)
		}
		latencies = append(latencies, time.Since(t0))
		peakHeap = max(peakHeap, heapInUse())
		peakConns = max(peakConns, gauge(t, reg, "moor_http_connections"))
		if !committed && time.Since(start) > time.Second {
			repo.Write("web/compose.yaml", "services:\n  app:\n    image: app:2\n")
			rev2 = "main@sha1:" + repo.Commit("v2")
			committed = true
		}
	}
	testkit.Eventually(t, 10*time.Second, "v2 deployed under the flood", func() bool {
		rep := ctl.Report()
		return rep != nil && rep.Applied == rev2
	})
	stats := flood.Stats()
	flood.Stop()

	slices.Sort(latencies)
	t.Logf("flood: %s", stats)
	t.Logf("/healthz: %d probes, median %s, slowest %s", len(latencies), latencies[len(latencies)/2], latencies[len(latencies)-1])
	if median := latencies[len(latencies)/2]; median > 250*time.Millisecond {
		t.Errorf("/healthz answered in %s at the median under the flood, want it prompt", median)
	}
	t.Logf("heap in use: %.1f MiB before, %.1f MiB at most during the flood; at most %.0f connections open",
		mib(before), mib(peakHeap), peakConns)
	if peakConns > config.DefaultMaxConnections {
		t.Errorf("%.0f connections open, want at most %d", peakConns, config.DefaultMaxConnections)
	}
	// What the server may hold: 2 MiB of bodies, a few KiB for each of
	// 256 connections, and the garbage of the refused ones. A server that
	// buffered each body would hold gigabytes.
	if grew := int64(peakHeap) - int64(before); grew > 64<<20 {
		t.Errorf("the heap grew by %.1f MiB under the flood, want under 64 MiB", mib(uint64(grew)))
	}
	if stats.Closed < 500 {
		t.Errorf("the server closed %d connections, want the flood's to be cut short", stats.Closed)
	}

	// Once the flood is over (and the server has seen its connections
	// close), a forge's hook is served.
	body := []byte(`{"ref": "refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	testkit.Eventually(t, 5*time.Second, "a valid hook accepted after the flood", func() bool {
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.Addr+"/hooks/github/prod", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		res, err := health.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusAccepted
	})
}

func heapInUse() uint64 {
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapInuse
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// gauge reads an unlabelled gauge from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

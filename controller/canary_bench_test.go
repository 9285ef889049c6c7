package controller

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/moor-dev/moor/config"
)

// BenchmarkCanaryAsk is what a run holding a change pays to ask two
// canary hosts, each reporting 20 stacks, over loopback HTTP: what a poll
// adds while a change waits (an unchanged poll asks no one).
func BenchmarkCanaryAsk(b *testing.B) {
	var stacks []map[string]any
	for i := range 20 {
		stacks = append(stacks, map[string]any{"name": fmt.Sprintf("stack-%d", i),
			"revision": "main@sha1:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "health": HealthHealthy,
			"services": []map[string]any{{"stack": fmt.Sprintf("stack-%d", i), "service": "web", "state": StateInSync}}})
	}
	body, err := json.Marshal(map[string]any{"version": 1, "source": "prod", "stacks": stacks})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	c := &Controller{Source: config.Source{Name: "prod", Canary: config.Canary{
		Peers: map[string]string{"c1": srv.URL, "c2": srv.URL}, Source: "prod"}}}
	for b.Loop() {
		for h, a := range c.askPeers(b.Context(), []string{"c1", "c2"}, "main@sha1:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d") {
			if a.err != nil || len(a.stacks) != 20 {
				b.Fatalf("%s: %v, %d stacks", h, a.err, len(a.stacks))
			}
		}
	}
}

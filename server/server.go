// Package server is moor run's HTTP listener: /healthz, /status (every
// source's report as of its last run), /metrics and the webhooks that
// trigger a source. It holds no state of its own: it serves what the
// controllers computed and hands webhooks to them.
package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/webhook"
)

// Config is what the server serves.
type Config struct {
	// Addr is the address to listen on ("127.0.0.1:9100", ":0").
	Addr string
	// Sources are the controllers whose reports /status shows and whose
	// webhooks /hooks/ accepts.
	Sources []*controller.Controller
	// Metrics is the registry /metrics serves.
	Metrics *prometheus.Registry
}

// Server is a running listener.
type Server struct {
	srv *http.Server
	// Addr is the address it listens on (with the port the system chose
	// for ":0").
	Addr string
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Server, error) {
	h, err := Handler(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops listening and closes every connection.
func (s *Server) Close() error { return s.srv.Close() }

// Handler routes moor's endpoints.
func Handler(cfg Config) (http.Handler, error) {
	hooks, err := webhooks(cfg.Sources)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		reports := []*controller.SourceReport{}
		for _, ctl := range cfg.Sources {
			if rep := ctl.Report(); rep != nil {
				reports = append(reports, rep)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"sources": reports})
	})
	mux.Handle("/hooks/", hooks)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	return mux, nil
}

// webhooks builds the handler of POST /hooks/{provider}/{source} for every
// source that has a webhook secret. A hook only triggers a run: it never
// carries desired state.
func webhooks(sources []*controller.Controller) (*webhook.Handler, error) {
	var targets []webhook.Target
	for _, ctl := range sources {
		file := ctl.Source.WebhookSecretFile
		if file == "" {
			continue
		}
		secret, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("source %s: webhook secret: %w", ctl.Source.Name, err)
		}
		secret = bytes.TrimSpace(secret)
		if len(secret) == 0 {
			return nil, fmt.Errorf("source %s: webhook secret file %s is empty", ctl.Source.Name, file)
		}
		targets = append(targets, webhook.Target{Source: ctl.Source.Name, Branch: ctl.Source.Ref, Secret: secret, Trigger: ctl.Trigger})
	}
	return webhook.New(targets), nil
}

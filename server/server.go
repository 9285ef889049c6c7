// Package server is moor run's HTTP listener: /healthz, /status (every
// source's report as of its last run), /metrics, the webhooks that
// trigger a source, the API under /api/v1/ (api.go, docs/api.md), and the
// dashboard at / (package dashboard). It holds no state of its own: it serves what the
// controllers computed and hands webhooks to them.
package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/webhook"
)

// Limits of the listener. Every client of moor's port is a forge, a
// Prometheus server, a health checker or an operator: each sends a request
// of a few KiB at once and reads a short answer. These limits leave that
// plenty of room and bound what any number of clients that connect and
// stall can hold: a connection waits at most ReadHeaderTimeout for its
// headers (IdleTimeout between requests), a request is read within
// ReadTimeout and answered within WriteTimeout, and the webhooks' bodies
// share a small budget (see package webhook).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 15 * time.Second
	IdleTimeout       = 60 * time.Second
	// MaxHeaderBytes bounds a request's headers (the server allows 4 KiB
	// more); forges send 1 to 3 KiB.
	MaxHeaderBytes = 16 << 10
	// MaxMetricsInFlight is how many /metrics requests are answered at
	// once; more get 503.
	MaxMetricsInFlight = 4
)

// Config is what the server serves.
type Config struct {
	// Addr is the address to listen on ("127.0.0.1:9100", ":0").
	Addr string
	// Sources are the controllers whose reports /status shows and whose
	// webhooks /hooks/ accepts.
	Sources []*controller.Controller
	// Metrics is the registry /metrics serves. Start adds the listener's
	// and the webhooks' counters to it.
	Metrics *prometheus.Registry
	// MaxConnections is how many connections are kept open at once (0:
	// config.DefaultMaxConnections); see connLimit for how room is made
	// for more.
	MaxConnections int
	// TokenFile holds the API's bearer token (api.token_file); empty:
	// there is none, and /status always withholds what containers
	// printed.
	TokenFile string
	// Actions adapts a source's controller to the actions of /api/v1/
	// (see api.go); nil: the API takes none.
	Actions func(*controller.Controller) Actions
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
	h, hooks, err := build(cfg)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: deferAccept}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	max := cfg.MaxConnections
	if max <= 0 {
		max = config.DefaultMaxConnections
	}
	lim := newConnLimit(ln, max)
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(&collector{conns: lim, hooks: hooks}); err != nil {
			ln.Close()
			return nil, err
		}
	}
	s := &Server{Addr: ln.Addr().String(), srv: &http.Server{
		Handler:           closeFirst(h, lim),
		ConnContext:       withConn,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         lim.track,
	}}
	go s.srv.Serve(lim)
	return s, nil
}

// closeFirst serves h, and makes the connection of an answer that closes
// it the first to go at the connection limit: the webhooks' refusals of a
// body they do not read (413, 503) close the connection, and the server may
// hold it for half a second more.
func closeFirst(h http.Handler, lim *connLimit) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if w.Header().Get("Connection") == "close" {
			if http.NewResponseController(w).Flush() == nil {
				lim.closing(r.Context())
			}
		}
	})
}

// Close stops listening and closes every connection.
func (s *Server) Close() error { return s.srv.Close() }

// Handler routes moor's endpoints.
func Handler(cfg Config) (http.Handler, error) {
	h, _, err := build(cfg)
	return h, err
}

func build(cfg Config) (http.Handler, *webhook.Handler, error) {
	hooks, err := webhooks(cfg.Sources)
	if err != nil {
		return nil, nil, err
	}
	var token []byte
	if cfg.TokenFile != "" {
		if token, err = readSecret(cfg.TokenFile); err != nil {
			return nil, nil, fmt.Errorf("API token: %w", err)
		}
		if len(token) < minTokenLen {
			return nil, nil, fmt.Errorf("API token in %s: %d characters, want at least %d (e.g. openssl rand -hex 32)", cfg.TokenFile, len(token), minTokenLen)
		}
	}
	mux := newMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", status(cfg.Sources, token))
	mux.Handle("/hooks/", hooks)
	mux.Handle("/", dashboardHandler(cfg, token))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{MaxRequestsInFlight: MaxMetricsInFlight}))
	}
	(&api{sources: cfg.Sources, actions: cfg.Actions, token: token, loopback: isLoopback(cfg.Addr), ledger: ledgerFile(cfg.Sources)}).register(mux)
	return mux, hooks, nil
}

// ledgerFile is the ledger the sources append to; "": none.
func ledgerFile(sources []*controller.Controller) string {
	for _, ctl := range sources {
		if ctl.Ledger != nil {
			return ctl.Ledger.Path()
		}
	}
	return ""
}

// readSecret reads a secret from file, without the whitespace around it.
func readSecret(file string) ([]byte, error) {
	secret, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) == 0 {
		return nil, fmt.Errorf("%s is empty", file)
	}
	return secret, nil
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
		secret, err := readSecret(file)
		if err != nil {
			return nil, fmt.Errorf("source %s: webhook secret: %w", ctl.Source.Name, err)
		}
		targets = append(targets, webhook.Target{Source: ctl.Source.Name, Branch: ctl.Source.Ref, Secret: secret, Trigger: ctl.TriggerPush})
	}
	return webhook.New(targets), nil
}

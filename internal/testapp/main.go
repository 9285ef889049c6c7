// Command testapp is the workload of moor's integration tests. It is built
// statically and runs as PID 1 in a FROM scratch image (see package testkit),
// so it also carries the few tools such an image lacks: a healthcheck probe
// and an HTTP client for container-to-container calls.
//
// Server mode (no arguments) is configured by environment:
//
//	PORT         listen port (default 8080)
//	VERSION      reported by GET / (default "dev")
//	UNHEALTHY=1  GET /health answers 500 (as does the file /tmp/unhealthy)
//	EXIT_CODE=N  print a line and exit with N at once (one-shot job, crash)
//	CRASH_AFTER  a duration: serve, then exit 1 after it
//
// Endpoints: GET / ("version=V host=H"), GET /health, GET /env?name=X,
// GET and PUT /file?path=P (volume persistence).
//
// Subcommands: "testapp health [url]" exits 0 when the health endpoint
// answers 200, "testapp get URL" prints the body of URL.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// unhealthyFile makes the app unhealthy while it exists, so a test can flip
// health at run time with a PUT /file.
const unhealthyFile = "/tmp/unhealthy"

func main() {
	if len(os.Args) > 1 {
		os.Exit(subcommand(os.Args[1], os.Args[2:]))
	}
	// First thing: a SIGTERM that arrives before the handler exists makes
	// the Go runtime exit with 2 instead of stopping cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		stop()
		os.Exit(1)
	}
}

func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return "8080"
}

func subcommand(name string, args []string) int {
	switch name {
	case "health":
		url := "http://127.0.0.1:" + port() + "/health"
		if len(args) > 0 {
			url = args[0]
		}
		code, _, err := get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "health:", err)
			return 1
		}
		if code != http.StatusOK {
			fmt.Fprintln(os.Stderr, "health: status", code)
			return 1
		}
		return 0
	case "get":
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: testapp get URL")
			return 2
		}
		code, body, err := get(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "get:", err)
			return 1
		}
		fmt.Print(body)
		if code != http.StatusOK {
			fmt.Fprintln(os.Stderr, "get: status", code)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown subcommand %q (want health or get)\n", name)
		return 2
	}
}

func get(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}

func serve(ctx context.Context) error {
	if s := os.Getenv("EXIT_CODE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("parse EXIT_CODE %q: %w", s, err)
		}
		fmt.Printf("testapp: exiting with code %d\n", n)
		os.Exit(n)
	}

	if s := os.Getenv("CRASH_AFTER"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parse CRASH_AFTER %q: %w", s, err)
		}
		time.AfterFunc(d, func() {
			fmt.Printf("testapp: crashing after %s\n", d)
			os.Exit(1)
		})
	}

	srv := &http.Server{
		Addr:              ":" + port(),
		Handler:           handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("testapp: version=%s listening on %s\n", version(), srv.Addr)

	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Println("testapp: stopped")
	return nil
}

func version() string {
	if v := os.Getenv("VERSION"); v != "" {
		return v
	}
	return "dev"
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "version=%s host=%s\n", version(), host)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("UNHEALTHY") == "1" {
			http.Error(w, "unhealthy (UNHEALTHY=1)", http.StatusInternalServerError)
			return
		}
		if _, err := os.Stat(unhealthyFile); err == nil {
			http.Error(w, "unhealthy ("+unhealthyFile+" exists)", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("PUT /file", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		if p == "" {
			http.Error(w, "missing path", http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

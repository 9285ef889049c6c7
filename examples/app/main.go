// Command hello is the example application that moor's examples deploy: an
// HTTP server that says which version it is, with a health endpoint and a
// `health` subcommand for compose healthchecks (its image has no shell), and
// a `migrate` subcommand that stands in for a release's migration job.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if len(os.Args) > 1 && os.Args[1] == "health" {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/health")
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Printf("%s: %s", resp.Status, body) // the engine keeps it as the probe's output
		if resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		// A stand-in for a release's database migration, run as a job
		// that gates the release: FAIL_MIGRATION makes it fail, to see
		// moor keep the old release serving.
		fmt.Printf("migrating the database to release %s\n", os.Getenv("VERSION"))
		if os.Getenv("FAIL_MIGRATION") != "" {
			fmt.Println("migration failed on purpose (FAIL_MIGRATION is set)")
			os.Exit(1)
		}
		fmt.Println("migration done")
		os.Exit(0)
	}
	version := os.Getenv("VERSION")
	if version == "" {
		version = "dev"
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "%s from %s (version %s)\n", greeting, host, version)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		// FAIL_HEALTH makes a release that never becomes healthy, to see
		// moor put the old one back.
		if os.Getenv("FAIL_HEALTH") != "" {
			http.Error(w, "failing on purpose (FAIL_HEALTH is set)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

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
//
// The lifecycle hook tests run these in the container (FROM scratch has no
// shell): "testapp mark [-serving] FILE TEXT..." appends the line
// "TEXT version=V" to FILE (relative to the working directory), V being
// the VERSION of the environment; with -serving it first checks that the
// server of this container answers GET / on PORT, and fails if not (so the
// line proves the container was still serving). "testapp exit N
// [MESSAGE...]" prints MESSAGE to stderr and exits with N. "testapp env
// NAME..." prints "NAME=VALUE" for each name, then "uid=U pwd=P".
//
// "testapp hammer [-pause D] [-timeout D] URL" is the client of the rollout
// tests (package internal/hammer): it GETs URL in a loop until SIGTERM or
// SIGINT, each request on a fresh connection (no keep-alive) with a
// per-request timeout (default 2s) and a pause between requests (default
// 5ms). A request whose dial fails (connection refused, no such host, no
// connection within 3/4 of the timeout: nothing was sent) is retried once at
// once with a fresh lookup, as a load balancer would, and counted in
// dial_retries, not as failed; a second dial failure, any error after the
// connection was made, or an answer other than 200 is a failed request.
// Every 100 requests it prints a progress line to stderr ("hammer:
// requests=N failed=F versions={"1":N1}"); when stopped it prints one JSON
// line to stdout and exits 0:
//
//	{"requests":N,"failed":F,"dial_retries":R,"versions":{"1":N1,"2":N2},
//	 "longest_outage_ms":MS,"slowest_ms":MS,"errors":["first failures"],
//	 "slow":["first requests over 500ms"],"dial_errors":["first retried dials"],
//	 "address_dial_failures":A,"address_dial_errors":["first ones"]}
//
// versions counts the 200 answers by the "version=V" of their body;
// longest_outage_ms is the longest run of consecutive failures, from its
// first failed request to the next successful one; address_dial_failures
// counts connection attempts to single addresses that failed, even when
// the dialer went on to the name's next address (see package hammer).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moor-dev/moor/internal/hammer"
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
	case "hammer":
		return hammerCmd(args)
	case "mark":
		return markCmd(args)
	case "exit":
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "usage: testapp exit N [MESSAGE...]")
			return 2
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "exit:", err)
			return 2
		}
		if len(args) > 1 {
			fmt.Fprintln(os.Stderr, strings.Join(args[1:], " "))
		}
		return n
	case "env":
		for _, k := range args {
			fmt.Printf("%s=%s\n", k, os.Getenv(k))
		}
		wd, _ := os.Getwd()
		fmt.Printf("uid=%d pwd=%s\n", os.Getuid(), wd)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown subcommand %q (want health, get, hammer, mark, exit or env)\n", name)
		return 2
	}
}

// markCmd runs "testapp mark": see the package comment.
func markCmd(args []string) int {
	fs := flag.NewFlagSet("mark", flag.ContinueOnError)
	serving := fs.Bool("serving", false, "fail unless this container's server answers")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: testapp mark [-serving] FILE TEXT...")
		return 2
	}
	if *serving {
		code, _, err := get("http://127.0.0.1:" + port() + "/")
		if err != nil || code != http.StatusOK {
			fmt.Fprintln(os.Stderr, "mark: not serving:", code, err)
			return 1
		}
	}
	line := strings.Join(append(fs.Args()[1:], "version="+version()), " ") + "\n"
	f, err := os.OpenFile(fs.Arg(0), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mark:", err)
		return 1
	}
	fmt.Printf("marked %s: %s", fs.Arg(0), line)
	return 0
}

// hammerCmd runs "testapp hammer": see the package comment.
func hammerCmd(args []string) int {
	// First thing, as in server mode: a SIGTERM before the handler exists
	// would kill the process without its summary.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("hammer", flag.ContinueOnError)
	pause := fs.Duration("pause", 5*time.Millisecond, "wait between two requests")
	timeout := fs.Duration("timeout", 2*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: testapp hammer [-pause D] [-timeout D] URL")
		return 2
	}
	h := &hammer.Hammer{URL: fs.Arg(0), Pause: *pause, Timeout: *timeout}
	h.Progress = func(requests, failed int) {
		if requests%100 != 0 {
			return
		}
		versions, _ := json.Marshal(h.Summary().Versions)
		fmt.Fprintf(os.Stderr, "hammer: requests=%d failed=%d versions=%s\n", requests, failed, versions)
	}
	fmt.Fprintf(os.Stderr, "hammer: GET %s\n", h.URL)
	sum := h.Run(ctx)
	b, err := json.Marshal(sum)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hammer:", err)
		return 1
	}
	fmt.Println(string(b))
	return 0
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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/webhook"
)

func statusCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	stateDir := fs.String("state-dir", defaultStateDir(), "where snapshots, status and the ledger live ($MOOR_STATE_DIR)")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) > 0 {
			return e.errorf("status takes no arguments, got %q", args)
		}
		reports, err := statusReports(ctx, *stateDir)
		if err != nil {
			return e.errorf("%v", err)
		}
		if *asJSON {
			return writeJSON(e, map[string]any{"sources": reports})
		}
		controller.WriteReport(e.stdout, reports, time.Now())
		return exitOK
	}
}

func statusReports(ctx context.Context, stateDir string) ([]controller.SourceReport, error) {
	statuses, err := controller.ReadAllStatus(stateDir)
	if err != nil {
		return nil, err
	}
	d, err := runtime.NewDocker(ctx)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	obs, err := d.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return controller.Report(statuses, obs), nil
}

func historyCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	stateDir := fs.String("state-dir", defaultStateDir(), "where snapshots, status and the ledger live ($MOOR_STATE_DIR)")
	stack := fs.String("stack", "", "only applies that touched this stack")
	source := fs.String("source", "", "only applies of this source")
	last := fs.Int("n", 20, "show the last N applies (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) > 0 {
			return e.errorf("history takes no arguments, got %q", args)
		}
		recs, err := ledger.Read(filepath.Join(*stateDir, "ledger.jsonl"))
		if err != nil {
			return e.errorf("%v", err)
		}
		var keep []ledger.Record
		for _, r := range recs {
			if *source != "" && r.Source != *source {
				continue
			}
			if *stack != "" && !r.Touches(*stack) {
				continue
			}
			keep = append(keep, r)
		}
		if *last > 0 && len(keep) > *last {
			keep = keep[len(keep)-*last:]
		}
		if *asJSON {
			if keep == nil {
				keep = []ledger.Record{}
			}
			return writeJSON(e, keep)
		}
		if len(keep) == 0 {
			fmt.Fprintln(e.stdout, "no applies recorded")
		}
		for _, r := range keep {
			fmt.Fprintf(e.stdout, "#%d %s %s %s %s %s", r.Seq, r.Started.Local().Format("2006-01-02 15:04:05"), r.Source,
				r.Revision, r.Result, r.Duration().Round(time.Millisecond))
			if r.Subject != "" {
				fmt.Fprintf(e.stdout, " %q by %s", r.Subject, r.Author)
			}
			fmt.Fprintln(e.stdout)
			for _, op := range r.Ops {
				if *stack != "" && op.Stack != *stack {
					continue
				}
				fmt.Fprintf(e.stdout, "    %-7s %s", op.Result, op.Op)
				if op.Error != "" {
					fmt.Fprintf(e.stdout, ": %s", op.Error)
				}
				fmt.Fprintln(e.stdout)
			}
			for _, name := range sortedKeys(r.Broken) {
				if *stack == "" || name == *stack {
					fmt.Fprintf(e.stdout, "    broken  %s: %s\n", name, r.Broken[name])
				}
			}
			if r.Error != "" && len(r.Ops) == 0 && len(r.Broken) == 0 {
				fmt.Fprintf(e.stdout, "    error   %s\n", strings.ReplaceAll(r.Error, "\n", "\n            "))
			}
		}
		return exitOK
	}
}

func writeJSON(e *env, v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.errorf("%v", err)
	}
	return exitOK
}

// serveHTTP serves /healthz, /status, /metrics and the webhooks on addr
// until closed.
func serveHTTP(addr string, p *parts) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		statuses, err := controller.ReadAllStatus(p.cfg.StateDir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		obs, err := p.docker.Observe(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"sources": controller.Report(statuses, obs)})
	})
	hooks, err := webhooks(p)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux.Handle("/hooks/", hooks)
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.metrics, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// webhooks builds the handler of POST /hooks/{provider}/{source} for every
// source that has a webhook secret. A hook only triggers a poll: it never
// carries desired state.
func webhooks(p *parts) (*webhook.Handler, error) {
	var targets []webhook.Target
	for _, ctl := range p.sources {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

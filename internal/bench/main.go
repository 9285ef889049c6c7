// Command bench runs moor and docker compose v2 (the CLI plugin, -compose)
// side by side on the local Docker Engine, measures the Engine floor of the
// same figures in the same run, and prints a Markdown report of the ratios.
// BENCHMARKS.md records its output. Its parts (-only) are:
//
//	start     process start: `moor version`, `docker compose version`, and
//	          /bin/true as the floor; -inittrace adds moor's costliest
//	          package inits (GODEBUG=inittrace=1)
//	noop      a no-op `moor apply` and `docker compose up -d` on a converged
//	          host (10 services, 100 in 10 stacks, 100 in one stack); floor:
//	          one container list
//	poll      an unchanged poll inside `moor run --interval 1s` (100
//	          services): time per poll from moor's /metrics, Engine API
//	          requests per poll from the proxy; floor: one container list
//	deploy    a first deploy of -services services in one stack and a
//	          change of one of them; floor of the deploy: a network create
//	          and every container's create and start, all in parallel
//	idle      `moor run` at rest with 10 stacks: memory, CPU, requests
//	downtime  stop-first replacement of a service publishing a port, under
//	          a prober; floor: create new, stop old, start new
//	push      a commit reaching the service through `moor run` (poll,
//	          webhook, watched local repository); floor: the same
//	          replacement as above, until the port answers
//
//	go run ./internal/bench > report.md     # or ./scripts/bench
//
// It builds moor and the test app image (internal/testapp in a FROM scratch
// image; no registry is needed), and puts a counting proxy on a unix socket
// in front of the engine's: both tools and the floor's client are pointed
// at it, so every Engine API request each one makes is counted (`moor run`
// in the push part talks to the engine's own socket, as does the floor
// there: the proxy would add its hop to a latency). The two tools never
// share containers (moor's stacks and compose's projects have different
// names) and never run at the same time.
//
// Everything it creates on the engine is named moorbench-* and carries
// compose's project label; it is removed by label before each scenario, at
// the end, on SIGINT/SIGTERM, and at the start of the next run (leftovers of
// a killed one). The image moor-bench-app:<hash of the app binary> is kept
// for the next run. Two runs must not overlap.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	starts    int           // repetitions of a process start
	inittrace bool          // report moor's package inits (GODEBUG=inittrace=1)
	reps      int           // repetitions of a no-op run
	poll      time.Duration // how long moor run's unchanged polls are watched
	services  int           // services of the first deploy
	deploys   int           // repetitions of a first deploy
	changes   int           // changes of one service of the first deploy's stack
	stops     int           // stop-first changes
	pushes    int           // commits per push-to-deploy trigger
	idle      time.Duration // how long the controller at rest is watched
	only      map[string]bool
	compose   string // the compose command: "docker compose" (v2, the CLI plugin)
	engine    string // the engine's unix socket
	keepWork  bool
}

// scenarios, in the order they run.
var scenarios = []string{"start", "noop", "poll", "deploy", "idle", "downtime", "push"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var only string
	fs.IntVar(&o.starts, "starts", 50, "repetitions of a process start (moor version)")
	fs.BoolVar(&o.inittrace, "inittrace", false, "also run moor version with GODEBUG=inittrace=1 and report the costliest package inits")
	fs.IntVar(&o.reps, "reps", 5, "repetitions of each no-op run (the median is reported)")
	fs.DurationVar(&o.poll, "poll", 20*time.Second, "how long the unchanged polls of moor run (interval 1s) are watched")
	fs.IntVar(&o.services, "services", 100, "services of the first deploy (one stack)")
	fs.IntVar(&o.deploys, "deploys", 5, "repetitions of the first deploy, per tool and of the floor")
	fs.IntVar(&o.changes, "changes", 5, "changes of one service of the first deploy's stack, per tool")
	fs.IntVar(&o.stops, "stops", 7, "stop-first changes of a service publishing a port, per tool")
	fs.IntVar(&o.pushes, "pushes", 10, "commits per push-to-deploy trigger (poll, webhook, local watch)")
	fs.DurationVar(&o.idle, "idle", 60*time.Second, "how long the controller at rest is watched")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarios, ","))
	fs.StringVar(&o.compose, "compose", "docker compose", "the compose v2 command (words split on spaces); ./scripts/compose-v2 builds the CLI plugin")
	fs.StringVar(&o.engine, "engine", "/var/run/docker.sock", "the Docker Engine's unix socket, behind the counting proxy")
	fs.BoolVar(&o.keepWork, "keep-work", false, "keep the work directory (repositories, state dirs, logs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			if !slices.Contains(scenarios, s) {
				fmt.Fprintf(stderr, "bench: unknown scenario %q (want %s)\n", s, strings.Join(scenarios, ","))
				return 2
			}
			o.only[s] = true
		}
	}
	if o.starts < 1 || o.reps < 1 || o.deploys < 1 || o.changes < 1 || o.stops < 1 || o.pushes < 1 {
		fmt.Fprintln(stderr, "bench: -starts, -reps, -deploys, -changes, -stops and -pushes must be at least 1")
		return 2
	}
	if o.services <= changedService || o.poll < 5*time.Second {
		fmt.Fprintf(stderr, "bench: -services must be more than %d and -poll at least 5s\n", changedService)
		return 2
	}

	b, err := setup(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		if b != nil {
			b.close()
		}
		return 1
	}
	defer b.close()
	started := time.Now()
	b.rep.loadBefore = loadAverage()
	for _, s := range scenarios {
		if o.only != nil && !o.only[s] {
			continue
		}
		if err := b.scenario(ctx, s); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "bench: interrupted; cleaning up")
				return 1
			}
			fmt.Fprintf(stderr, "bench: %s: %v\n", s, err)
			return 1
		}
	}
	b.rep.took = time.Since(started)
	b.rep.loadAfter = loadAverage()
	b.close() // before the report: a reader that hangs up must not leave leftovers
	b.rep.write(stdout)
	return 0
}

func (b *bench) scenario(ctx context.Context, name string) error {
	b.logf("scenario %s", name)
	if err := b.cleanup(ctx); err != nil {
		return err
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	switch name {
	case "start":
		return b.start(ctx)
	case "poll":
		return b.pollIdle(ctx)
	case "noop":
		return b.noop(ctx)
	case "deploy":
		return b.deployAndChange(ctx)
	case "idle":
		return b.idle(ctx)
	case "downtime":
		return b.downtime(ctx)
	case "push":
		return b.push(ctx)
	}
	return fmt.Errorf("unknown scenario %q", name)
}

// loadAverage is the 1-minute load average: the engine and the machine are
// shared, and the report says how busy they were.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

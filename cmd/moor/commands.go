package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/moor-dev/moor/internal/memtrim"
	"io"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/secrets"
	"github.com/moor-dev/moor/server"
)

func planCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var c common
	c.register(fs)
	exitCode := fs.Bool("exit-code", false, "exit 2 when the plan has changes or reports drift, 0 when it has none, 1 on error")
	dir := fs.String("dir", "", "plan this local directory (a working copy not committed yet) instead of the repository")
	steps := fs.Bool("steps", false, "show how each op is carried out: its steps, what each waits for, and how each is undone")
	asJSON := fs.Bool("json", false, "print the plan as JSON, every op with its steps")
	images := fs.Bool("images", false, "also ask the registry whether the tags the services run moved, as image_updates does, and plan their rollout")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) > 0 {
			return e.errorf("plan takes no arguments, got %q", args)
		}
		if *dir != "" && c.src.Repo == "" && c.configFile == "" {
			c.src.Repo = *dir // names the source; the snapshot is the directory itself
		}
		p, err := c.build(ctx, false, false, false)
		if err != nil {
			return e.errorf("%v", err)
		}
		defer p.close()
		changes, broken := false, false
		var plans []reconcile.PlanJSON
		for _, ctl := range p.sources {
			if *dir != "" {
				ctl.WorkDir = *dir
			}
			// What moor apply would do, which also retries a held service
			// and repairs reported drift; the plan notes both.
			ctl.Explicit = true
			ctl.CheckImages = *images
			out, err := ctl.Plan(ctx)
			if err != nil {
				return e.errorf("source %s: %v", ctl.Source.Name, err)
			}
			if *asJSON {
				plans = append(plans, reconcile.NewPlanJSON(out.Plan))
			} else {
				printHeader(e.stdout, ctl, out)
				printPlan(e.stdout, out.Plan, *steps)
			}
			if !out.Plan.Empty() || len(out.Plan.Drift) > 0 || len(out.Plan.Waiting) > 0 {
				changes = true
			}
			if len(out.Plan.Broken) > 0 || len(out.Plan.Blocked) > 0 {
				broken = true
			}
		}
		if *asJSON {
			if code := writeJSON(e, map[string]any{"plans": plans}); code != exitOK {
				return code
			}
		}
		if broken {
			return e.errorf("some stacks or services cannot be converged (see above)")
		}
		if changes && *exitCode {
			return exitChanges
		}
		return exitOK
	}
}

func applyCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var c common
	c.register(fs)
	images := fs.Bool("images", false, "also roll out the tags that moved in their registry, as an image_updates check does")
	ignoreSuspend := fs.Bool("ignore-suspend", false, "apply a suspended source or stack all the same (recorded in the ledger)")
	ignoreWindows := fs.Bool("ignore-windows", false, "apply while the source's deploy windows are closed (recorded in the ledger)")
	ignoreCanary := fs.Bool("ignore-canary", false, "apply a change that waits for its canary hosts all the same (recorded in the ledger)")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) > 0 {
			return e.errorf("apply takes no arguments, got %q", args)
		}
		p, err := c.build(ctx, false, true, true)
		if err != nil {
			return e.errorf("%v", err)
		}
		defer p.close()
		code := exitOK
		for _, ctl := range p.sources {
			ctl.Explicit = true // retries a failed rollout now, repairs reported drift
			ctl.CheckImages = *images
			ctl.IgnoreSuspend, ctl.IgnoreWindows, ctl.IgnoreCanary = *ignoreSuspend, *ignoreWindows, *ignoreCanary
			out, err := ctl.Apply(ctx)
			if out != nil && out.Snapshot != nil {
				printHeader(e.stdout, ctl, out)
			}
			if out != nil && out.Plan != nil {
				printResult(e.stdout, out)
			}
			if err != nil {
				code = e.errorf("source %s: %v", ctl.Source.Name, err)
				continue
			}
			if held := heldBy(out); held != "" {
				code = e.errorf("source %s: %s", ctl.Source.Name, held)
				continue
			}
			fmt.Fprintf(e.stdout, "converged: the host matches %s\n", out.Desired.Revision)
		}
		return code
	}
}

func runCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var c common
	c.register(fs)
	fs.DurationVar(&c.interval, "interval", 0, "poll interval for --repo (default 30s)")
	fs.StringVar(&c.schedule, "schedule", "", "cron schedule for --repo instead of an interval (\"*/5 * * * *\", \"@every 1m\")")
	fs.DurationVar(&c.src.DriftInterval, "drift-interval", 0, "for --repo: how often a poll of an unchanged repository also checks the engine for drift (default 5m; the engine's events trigger a check at once)")
	listen := fs.String("listen", "", "HTTP address for /healthz, /status, /metrics, webhooks and the API (default 127.0.0.1:9100 or the config's listen; \"off\" disables)")
	return func(ctx context.Context, e *env, args []string) int {
		if len(args) > 0 {
			return e.errorf("run takes no arguments, got %q", args)
		}
		if c.interval != 0 && c.schedule != "" {
			return e.errorf("--interval and --schedule exclude each other")
		}
		p, err := c.build(ctx, true, true, true)
		if err != nil {
			return e.errorf("%v", err)
		}
		defer p.close()
		// The controller reads its ledger once at start, so that damage
		// to it is logged then rather than at the first change.
		if _, err := p.ledger.Corrupt(); err != nil {
			return e.errorf("%v", err)
		}
		addr := p.cfg.Listen
		if c.configFile == "" {
			addr = config.DefaultListen
		}
		if *listen != "" {
			addr = *listen
		}
		if addr != "" && addr != "off" {
			srv, err := server.Start(server.Config{Addr: addr, Sources: p.sources, Metrics: p.metrics,
				TokenFile: p.cfg.API.TokenFile, MaxConnections: p.cfg.API.MaxConnections, Actions: apiActions})
			if err != nil {
				return e.errorf("listen on %s: %v", addr, err)
			}
			defer srv.Close()
			p.log.Info("serving", zap.String("addr", srv.Addr))
		}
		// What a load or an apply touched is given back once the host is
		// quiet: a controller at rest keeps only what its polls use.
		trim := &memtrim.After{Quiet: 2 * time.Second, RestGCPercent: 25, Trimmed: func(n int64) {
			p.log.Debug("memory trimmed", zap.Int64("code_bytes_released", n))
		}}
		defer trim.Stop()
		notified, err := startNotifier(ctx, p)
		if err != nil {
			return e.errorf("%v", err)
		}
		var wg sync.WaitGroup
		for _, ctl := range p.sources {
			ctl.Ran = both(workDone(trim.Note), notified(ctl.Source.Name))
			sched, err := ctl.Source.CronSchedule()
			if err != nil {
				return e.errorf("source %s: %v", ctl.Source.Name, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctl.Loop(ctx, sched, nil)
			}()
			// A repository on this host is watched: a push deploys at once.
			go func() {
				if err := ctl.WatchLocal(ctx); err != nil && !errors.Is(err, gitsource.ErrNotLocal) {
					p.log.Warn("cannot watch the repository; polling only", zap.String("source", ctl.Source.Name), zap.Error(err))
				}
			}()
		}
		// The engine's events say at once when a container, network or
		// volume of a source's is stopped or removed: between them, a
		// poll of an unchanged source does not ask the engine.
		wg.Add(1)
		go func() {
			defer wg.Done()
			controller.WatchEngine(ctx, p.docker, p.sources, p.log, nil)
		}()
		p.log.Info("moor running", zap.Int("sources", len(p.sources)), zap.String("state_dir", p.cfg.StateDir))
		<-ctx.Done()
		p.log.Info("stopping: waiting for applies in flight")
		wg.Wait()
		return exitOK
	}
}

func validateCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var vars keyValues
	var profiles listFlag
	fs.Var(&vars, "var", "KEY=VALUE compose interpolation variable (repeatable)")
	fs.Var(&profiles, "profile", "compose profile to enable (repeatable)")
	maxReplicas := fs.Int("max-replicas", config.DefaultMaxReplicas, "the most replicas one service may ask for (the max_replicas of the source that deploys the repository)")
	ageKey := fs.String("sops-age-key-file", "", "an age key file that decrypts the repository's SOPS files; without a key file, encrypted files are checked but not decrypted")
	pgpKey := fs.String("sops-pgp-key-file", "", "an OpenPGP secret key file (no passphrase) that decrypts the repository's SOPS files")
	rt := fs.String("runtime", config.RuntimeDocker, "docker|swarm: check the stacks as the source's runtime deploys them (docs/swarm.md)")
	var hostFlag hostFlags
	hostFlag.register(fs)
	return func(ctx context.Context, e *env, args []string) int {
		if *maxReplicas < 1 {
			return e.errorf("--max-replicas %d: want at least 1", *maxReplicas)
		}
		keys, err := secrets.LoadKeys(*ageKey, *pgpKey)
		if err != nil {
			return e.errorf("%v", err)
		}
		dir := "."
		switch len(args) {
		case 0:
		case 1:
			dir = args[0]
		default:
			return e.errorf("validate takes one directory, got %q", args)
		}
		host, err := hostFlag.compose()
		if err != nil {
			return e.errorf("%v", err)
		}
		stacks, notHere, err := compose.DiscoverFor(dir, host)
		if err != nil {
			return e.errorf("%v", err)
		}
		if host != nil {
			printNotHere(e.stdout, host, notHere)
		} else {
			noteFleetDirs(e.stdout, dir)
		}
		if len(stacks) == 0 && len(notHere) == 0 {
			return e.errorf("%s holds no stacks (no directory with a compose.yaml)", dir)
		}
		if *rt != config.RuntimeDocker && *rt != config.RuntimeSwarm {
			return e.errorf("--runtime %q: want docker or swarm", *rt)
		}
		code := exitOK
		// A file .sops.yaml marks as encrypted is checked whether or not
		// a stack uses it: a secret committed in the clear is refused
		// before it is pushed.
		problems, err := compose.CheckEncrypted(dir)
		if err != nil {
			return e.errorf("%v", err)
		}
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "error .sops.yaml: %s\n", printable.Escape(p))
			code = exitError
		}
		if *rt == config.RuntimeSwarm {
			opts := compose.Options{Variables: vars.m, Profiles: profiles, Host: host,
				Limits: compose.Limits{Replicas: *maxReplicas}, Secrets: compose.Secrets{Keys: keys, Unkeyed: keys == nil}}
			return max(code, validateSwarm(ctx, e, dir, opts))
		}
		loaded := map[string]*reconcile.Stack{}
		errs := map[string]error{}
		// What compose-go still logs itself (an unset variable in an
		// env_file) is a warning of the stack being loaded.
		logged := map[string][]string{}
		var current string
		restore := captureLogrus(func(msg string) { logged[current] = append(logged[current], msg) })
		defer restore()
		for _, sd := range stacks {
			current = sd.Name
			// The same rules as a source's: nothing outside dir is read,
			// every limit holds, and no two stacks claim one host port or
			// container name.
			st, err := compose.LoadStack(ctx, sd, compose.Options{
				Variables: vars.m,
				Profiles:  profiles,
				Limits:    compose.Limits{Replicas: *maxReplicas},
				Secrets:   compose.Secrets{Keys: keys, Unkeyed: keys == nil},
				Host:      host,
			})
			if err != nil {
				errs[sd.Name] = err
				continue
			}
			loaded[sd.Name] = st
		}
		for name, err := range compose.CheckClaims(loaded) {
			errs[name] = err
			delete(loaded, name)
		}
		for name, err := range compose.NeedsNotHere(loaded, notHere, host) {
			errs[name] = err
			delete(loaded, name)
		}
		for name, err := range compose.CheckOrder(loaded, errs) {
			errs[name] = err
		}
		for _, sd := range stacks {
			st, err := loaded[sd.Name], errs[sd.Name]
			var warnings []string
			if err != nil {
				fmt.Fprintf(e.stdout, "error %s: %s\n", sd.Name, printable.Error(err))
				code = exitError
			} else {
				fmt.Fprintf(e.stdout, "ok    %s (%s)\n", st.Name, printable.Escape(strings.Join(st.ServiceNames(), ", ")))
				warnings = st.Warnings
			}
			for _, w := range append(warnings, logged[sd.Name]...) {
				fmt.Fprintf(e.stdout, "warn  %s: %s\n", sd.Name, printable.Escape(w))
			}
		}
		return code
	}
}

// The printers below print a repository's text (subjects, authors, and
// the errors and reasons that quote its files) escaped: see printable.

func printHeader(w io.Writer, ctl *controller.Controller, out *controller.Outcome) {
	s := out.Snapshot
	fmt.Fprintf(w, "source %s: %s", ctl.Source.Name, printable.Escape(s.Revision.String()))
	if s.Subject != "" {
		fmt.Fprintf(w, " \"%s\" by %s", printable.Escape(s.Subject), printable.Escape(s.Author))
	}
	fmt.Fprintln(w)
}

func printPlan(w io.Writer, p *reconcile.Plan, steps bool) {
	if p.Converged() && len(p.Notes) == 0 {
		fmt.Fprint(w, printable.Lines(strings.Join(prefixed("warning: ", p.Warnings), ""), ""))
		fmt.Fprintln(w, "no changes")
		return
	}
	if steps {
		fmt.Fprint(w, printable.Lines(p.Detail(), ""))
	} else {
		fmt.Fprint(w, printable.Lines(p.String(), ""))
	}
	if len(p.Waiting) > 0 {
		fmt.Fprintf(w, "%d change(s), %d held\n", len(p.Ops), len(p.Waiting))
		return
	}
	fmt.Fprintf(w, "%d change(s)\n", len(p.Ops))
}

func printResult(w io.Writer, out *controller.Outcome) {
	if out.Result == nil {
		printPlan(w, out.Plan, false)
		return
	}
	for _, r := range out.Result.Ops {
		status := "ok    "
		switch {
		case r.Skipped:
			status = "skip  "
		case r.RolledBack:
			status = "undone"
		case r.Err != nil:
			status = "FAILED"
		}
		fmt.Fprintf(w, "%s %s %s\n", status, printable.Escape(r.Op.String()), r.Duration.Round(time.Millisecond))
		if r.Err != nil && !r.Skipped {
			fmt.Fprintf(w, "       %s\n", strings.ReplaceAll(printable.Error(r.Err), "\n", "\n       "))
		}
	}
	p := *out.Plan
	p.Ops = nil
	fmt.Fprint(w, printable.Lines(p.String(), ""))
	for _, warning := range out.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", printable.Escape(warning))
	}
}

// heldBy says what held ops of an apply, and how to go past it, or "".
func heldBy(out *controller.Outcome) string {
	p := out.Remaining
	if p == nil {
		p = out.Plan
	}
	if p == nil || len(p.Waiting) == 0 {
		return ""
	}
	var why []string
	for _, s := range out.Suspended {
		why = append(why, fmt.Sprintf("%s is %s", s.Target(), s.Reason()))
	}
	if len(why) > 0 {
		why = append(why, "moor resume, or --ignore-suspend, applies it")
	}
	if w := out.Constraints.Window; w != "" {
		why = append(why, w+"; --ignore-windows applies now")
	}
	if len(out.Constraints.Canary) > 0 {
		why = append(why, "a change waits for its canary hosts; --ignore-canary applies now")
	}
	return fmt.Sprintf("%d change(s) held, nothing of them applied: %s", len(p.Waiting), printable.Escape(strings.Join(why, "; ")))
}

// prefixed returns each of lines with prefix before it and a newline after.
func prefixed(prefix string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = prefix + l + "\n"
	}
	return out
}

// workDone returns a Controller.Ran that calls note after every run that
// loaded a revision it had not loaded before or applied a plan: the runs
// after which memory is worth trimming.
func workDone(note func()) func(*controller.Outcome, error) {
	var last string
	return func(out *controller.Outcome, _ error) {
		if out == nil {
			return
		}
		var rev string
		if out.Snapshot != nil {
			rev = out.Snapshot.Revision.String()
		}
		if out.Result != nil || rev != last {
			last = rev
			note()
		}
	}
}

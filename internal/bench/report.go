package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is everything measured, rendered as Markdown by write.
type report struct {
	machine, engine, compose, build, date, command string
	took                                           time.Duration
	loadBefore, loadAfter                          string

	start                         *startResult
	noop                          []comparison
	poll                          *pollResult
	deploy, change                comparison
	services                      int // of the first deploy's stack
	replacedMoor, replacedCompose []int
	idle                          *idleResult
	downMoor, downCompose         downtimeResult
	downFloor                     downtimeResult
	push                          []pushResult
	pushFloor                     *pushResult
}

func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "## moor, compose v2 and the Engine floor\n\n")
	fmt.Fprintf(w, "- Machine: %s; %s; %s.\n", r.machine, r.engine, runtime.Version())
	fmt.Fprintf(w, "- moor: built from %s. Compose: %s.\n", r.build, r.compose)
	fmt.Fprintf(w, "- Command: `%s` on %s, %s in all; load average %s before, %s after.\n\n",
		r.command, r.date, r.took.Round(time.Second), r.loadBefore, r.loadAfter)
	fmt.Fprintf(w, "The Engine floor is the least the figure needs, done by the bench itself through the Engine API "+
		"(moby's Go client, through the same counting proxy as the tools): for a no-op, one list of the containers; "+
		"for a first deploy, a network create and every container's create and start, all in parallel; "+
		"for a change reaching the service, the new container created, the old one stopped and the new one started "+
		"until the port answers; for a process start, the exec of /bin/true.\n\n")
	var rows []comparison
	if r.start != nil {
		rows = append(rows, r.start.comparison)
	}
	rows = append(rows, r.noop...)
	if r.deploy.moor != nil {
		rows = append(rows, r.deploy, r.change)
	}
	if len(rows) > 0 {
		r.writeComparison(w, rows)
	}
	if r.change.moor != nil {
		fmt.Fprintf(w, "Containers recreated by a change of one service's environment, per change: moor %v, compose %v (of %d).\n\n",
			r.replacedMoor, r.replacedCompose, r.services)
	}
	if r.start != nil && r.start.inits != nil {
		r.writeInits(w)
	}
	if r.poll != nil {
		r.writePoll(w)
	}
	if r.idle != nil {
		r.writeIdle(w)
	}
	if r.downMoor.downtime != nil {
		fmt.Fprintf(w, "### Stop-first downtime\n\n")
		r.writeDowntime(w)
	}
	if len(r.push) > 0 {
		fmt.Fprintf(w, "### Commit to the new version serving\n\n")
		r.writePush(w)
	}
}

func (r *report) writeComparison(w io.Writer, rows []comparison) {
	fmt.Fprintf(w, "Medians over the repetitions (n); compose ÷ moor and moor ÷ floor are ratios of those medians.\n\n")
	fmt.Fprintln(w, "Wall time:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | n | moor | compose | floor | compose ÷ moor | moor ÷ floor |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|")
	for _, c := range rows {
		m, p, f := medianOf(c.moor, wallOf), medianOf(c.compose, wallOf), medianOf(c.floor, wallOf)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", c.label, len(c.moor),
			durOr(m, c.moor), durOr(p, c.compose), durOr(f, c.floor), ratio(p, m), ratio(m, f))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU time of the process (user+sys from wait4, children included):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | moor | compose | compose ÷ moor |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, c := range rows {
		m, p := medianOf(c.moor, cpuOf), medianOf(c.compose, cpuOf)
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.label, durOr(m, c.moor), durOr(p, c.compose), ratio(p, m))
	}
	fmt.Fprintln(w)
	rows = slices.DeleteFunc(slices.Clone(rows), func(c comparison) bool { return medianOf(c.moor, callsOf)+medianOf(c.compose, callsOf) == 0 })
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "Engine API requests:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | moor | compose | floor | compose ÷ moor | moor ÷ floor |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, c := range rows {
		m, p, f := medianOf(c.moor, callsOf), medianOf(c.compose, callsOf), medianOf(c.floor, callsOf)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", c.label, numOr(m, c.moor), numOr(p, c.compose), numOr(f, c.floor), ratio(p, m), ratio(m, f))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Engine API requests of the first run, by endpoint:")
	fmt.Fprintln(w)
	for _, c := range rows {
		fmt.Fprintf(w, "- %s: moor %s; compose %s", c.label, breakdown(c.moor[0].calls), breakdown(c.compose[0].calls))
		if c.floor != nil {
			fmt.Fprintf(w, "; floor %s", breakdown(c.floor[0].calls))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// writeInits lists the costliest package inits of moor's start.
func (r *report) writeInits(w io.Writer) {
	s := r.start
	fmt.Fprintf(w, "Package inits of `moor version` (`GODEBUG=inittrace=1`, mean of %d runs): %d packages, %s in all. The costliest:\n\n",
		s.traced, len(s.inits), dur(s.initsTotal))
	fmt.Fprintln(w, "| package | clock | bytes | allocs |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, c := range s.inits[:min(len(s.inits), 12)] {
		fmt.Fprintf(w, "| `%s` | %s | %d | %d |\n", c.pkg, dur(c.clock), c.bytes, c.allocs)
	}
	fmt.Fprintln(w)
}

func (r *report) writePoll(w io.Writer) {
	p := r.poll
	fmt.Fprintf(w, "### Unchanged poll in `moor run`\n\n")
	fmt.Fprintf(w, "`moor run --interval %s`, %d services in one stack (a local repository), converged; over %s it ran %d times (%d no-ops). "+
		"Time per poll is moor's own `moor_run_duration_seconds` (sum ÷ count over the window, from /metrics); "+
		"requests are the proxy's count over the window ÷ runs. Compose has no daemon: its unchanged poll is a no-op `docker compose up -d` (the noop part, if it ran).\n\n",
		p.interval, p.services, p.window.Round(time.Second), p.polls, p.noops)
	perPoll := float64(p.calls.total()) / float64(p.polls)
	f, fc := medianOf(p.floor, wallOf), medianOf(p.floor, callsOf)
	// compose's figures are those of its no-op on the same layout, if measured.
	var compose []sample
	for _, c := range r.noop {
		if c.label == noopLayouts[len(noopLayouts)-1].label && pollLayout.services() == 100 {
			compose = c.compose
		}
	}
	cw, cc := medianOf(compose, wallOf), medianOf(compose, callsOf)
	fmt.Fprintln(w, "| what | moor run | compose: no-op `up -d`, 100 services in 1 stack | floor (one list) | compose ÷ moor | moor ÷ floor |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| time per poll | %s | %s | %s | %s | %s |\n", dur(p.perPoll), durOr(cw, compose), dur(time.Duration(f)),
		ratio(cw, float64(p.perPoll)), ratio(float64(p.perPoll), f))
	fmt.Fprintf(w, "| Engine API requests per poll | %.1f | %s | %.0f | %s | %s |\n", perPoll, numOr(cc, compose), fc, ratio(cc, perPoll), ratio(perPoll, fc))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Requests over the window: %s.\n\n", breakdown(p.calls))
}

func (r *report) writeIdle(w io.Writer) {
	i := r.idle
	fmt.Fprintf(w, "### `moor run` at rest\n\n")
	fmt.Fprintf(w, "`moor run`, %d stacks of one service, interval 10s, `--listen off`, after the first converge:\n\n", idleStacks)
	fmt.Fprintln(w, "| what | moor | compose |")
	fmt.Fprintln(w, "|---|--:|---|")
	fmt.Fprintf(w, "| resident memory (VmRSS / VmHWM) | %s / %s | no daemon |\n", mib(i.rss), mib(i.hwm))
	fmt.Fprintf(w, "| CPU over %s (utime+stime) | %s (%.2f %% of one core) | no daemon: each run is a fresh process |\n",
		i.window.Round(time.Second), dur(i.cpu), 100*i.cpu.Seconds()/i.window.Seconds())
	fmt.Fprintf(w, "| Engine API requests over %s | %d (%s) | — |\n", i.window.Round(time.Second), i.calls.total(), breakdown(i.calls))
	fmt.Fprintf(w, "| binary size | %s (`go build ./cmd/moor`), %s with `-ldflags \"-s -w\"` | — |\n\n",
		mib(i.plain), mib(i.stripped))
}

func (r *report) writeDowntime(w io.Writer) {
	fmt.Fprintln(w, "| tool | n | downtime, median | min | max | failed requests, median | the run, median | containers recreated | ÷ floor, median downtime |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|---|--:|")
	floor := float64(median(r.downFloor.downtime))
	for _, t := range []struct {
		name string
		res  downtimeResult
	}{{"`moor apply`", r.downMoor}, {"`docker compose up -d`", r.downCompose}, {"Engine floor (create, stop, start)", r.downFloor}} {
		d := t.res
		if d.downtime == nil {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.0f | %s | %v | %s |\n", t.name, len(d.downtime),
			dur(median(d.downtime)), dur(slices.Min(d.downtime)), dur(slices.Max(d.downtime)),
			medianInts(d.fails), dur(median(d.wall)), d.replaced, ratio(float64(median(d.downtime)), floor))
	}
	if m, c := median(r.downMoor.downtime), median(r.downCompose.downtime); m > 0 {
		fmt.Fprintf(w, "\ncompose ÷ moor, median downtime: %s.\n", ratio(float64(c), float64(m)))
	}
	fmt.Fprintln(w)
}

func (r *report) writePush(w io.Writer) {
	fmt.Fprintln(w, "| trigger | median | min | max | commits | ÷ floor, median |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	var floor float64
	if r.pushFloor != nil {
		floor = float64(median(r.pushFloor.latency))
	}
	rows := r.push
	if r.pushFloor != nil {
		rows = append(slices.Clone(rows), *r.pushFloor)
	}
	for _, p := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s |\n", p.trigger,
			dur(median(p.latency)), dur(slices.Min(p.latency)), dur(slices.Max(p.latency)), len(p.latency),
			ratio(float64(median(p.latency)), floor))
	}
	fmt.Fprintln(w)
	r.writePushStages(w)
}

// pushStages are the stages of a deploy's run, in the order moor runs them.
var pushStages = []string{"resolve", "checkout", "trust", "load", "records", "pull", "observe", "plan", "apply", "verify", "record"}

// writePushStages prints, for each trigger, the median of each stage of
// the deploys' runs as moor logged them: where a push's time goes once
// the run has started. The apply holds the replacement: the old
// container stopped, the new one started, and the wait for it to be
// healthy before the old one is removed.
func (r *report) writePushStages(w io.Writer) {
	var rows []pushResult
	for _, p := range r.push {
		if len(p.stages) > 0 {
			rows = append(rows, p)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "Stages of the deploys' runs (moor's `applied` log line, median ms):")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| trigger |")
	for _, name := range pushStages {
		fmt.Fprintf(w, " %s |", name)
	}
	fmt.Fprint(w, "\n|---|")
	for range pushStages {
		fmt.Fprint(w, "--:|")
	}
	fmt.Fprintln(w)
	for _, p := range rows {
		fmt.Fprintf(w, "| %s |", p.trigger)
		for _, name := range pushStages {
			var v []float64
			for _, st := range p.stages {
				if ms, ok := st[name]; ok {
					v = append(v, ms)
				}
			}
			if len(v) == 0 {
				fmt.Fprint(w, " — |")
				continue
			}
			slices.Sort(v)
			fmt.Fprintf(w, " %.1f |", v[len(v)/2])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// durOr prints a median duration, or "—" when nothing was measured.
func durOr(v float64, of []sample) string {
	if len(of) == 0 {
		return "—"
	}
	return dur(time.Duration(v))
}

// numOr prints a median count, or "—" when nothing was measured.
func numOr(v float64, of []sample) string {
	if len(of) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func wallOf(s sample) float64  { return float64(s.wall) }
func cpuOf(s sample) float64   { return float64(s.cpu) }
func callsOf(s sample) float64 { return float64(s.calls.total()) }

func medianOf(ss []sample, f func(sample) float64) float64 {
	var v []float64
	for _, s := range ss {
		v = append(v, f(s))
	}
	return medianF(v)
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func median(ds []time.Duration) time.Duration {
	var v []float64
	for _, d := range ds {
		v = append(v, float64(d))
	}
	return time.Duration(medianF(v))
}

func medianInts(is []int) float64 {
	var v []float64
	for _, i := range is {
		v = append(v, float64(i))
	}
	return medianF(v)
}

// dur prints a duration with three significant digits or so.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// ratio prints a ÷ b, or "—" when either was not measured (zero).
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	r := a / b
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// breakdown prints counts by endpoint, the most frequent first.
func breakdown(c counts) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c[a] != c[b] {
			return c[b] - c[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %d", k, c[k]))
	}
	return fmt.Sprintf("%d: %s", c.total(), strings.Join(parts, ", "))
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report is everything measured, rendered as Markdown by write.
type report struct {
	machine, command, build string
	took                    time.Duration
	loadBefore, loadAfter   string

	noop                          []comparison
	deploy, change                comparison
	replacedMoor, replacedCompose []int
	idle                          *idleResult
	downMoor, downCompose         downtimeResult
	push                          []pushResult
}

func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "## Side by side with docker-compose\n\n")
	fmt.Fprintf(w, "Machine: %s.\n\n", r.machine)
	fmt.Fprintf(w, "Command: `%s` (%s in all); moor built from %s; load average %s before, %s after.\n\n",
		r.command, r.took.Round(time.Second), r.build, r.loadBefore, r.loadAfter)
	var rows []comparison
	rows = append(rows, r.noop...)
	if r.deploy.moor != nil {
		rows = append(rows, r.deploy, r.change)
	}
	if len(rows) > 0 {
		r.writeComparison(w, rows)
	}
	if r.change.moor != nil {
		fmt.Fprintf(w, "Containers recreated by a change of one service's environment, per change: moor %v, docker-compose %v (of %d).\n\n",
			r.replacedMoor, r.replacedCompose, deployServices)
	}
	if r.idle != nil {
		r.writeIdle(w)
	}
	if r.downMoor.downtime != nil {
		fmt.Fprintf(w, "## Stop-first downtime\n\n")
		r.writeDowntime(w)
	}
	if len(r.push) > 0 {
		fmt.Fprintf(w, "## Push to deploy\n\n")
		r.writePush(w)
	}
}

func (r *report) writeComparison(w io.Writer, rows []comparison) {
	fmt.Fprintf(w, "Medians of each figure over its repetitions; ×: docker-compose ÷ moor.\n\n")
	fmt.Fprintln(w, "| run | n | moor wall | compose wall | × | moor CPU | compose CPU | × | moor API calls | compose API calls | × |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, c := range rows {
		mw, cw := medianOf(c.moor, wallOf), medianOf(c.compose, wallOf)
		mc, cc := medianOf(c.moor, cpuOf), medianOf(c.compose, cpuOf)
		mn, cn := medianOf(c.moor, callsOf), medianOf(c.compose, callsOf)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s |\n", c.label, len(c.moor),
			dur(time.Duration(mw)), dur(time.Duration(cw)), ratio(cw, mw),
			dur(time.Duration(mc)), dur(time.Duration(cc)), ratio(cc, mc),
			mn, cn, ratio(cn, mn))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Engine API requests of the first run, by endpoint (moor / docker-compose):")
	fmt.Fprintln(w)
	for _, c := range rows {
		fmt.Fprintf(w, "- %s: moor %s; docker-compose %s\n", c.label, breakdown(c.moor[0].calls), breakdown(c.compose[0].calls))
	}
	fmt.Fprintln(w)
}

func (r *report) writeIdle(w io.Writer) {
	i := r.idle
	fmt.Fprintf(w, "`moor run`, %d stacks of one service, interval 10s, `--listen off`, after the first converge:\n\n", idleStacks)
	fmt.Fprintln(w, "| what | moor | docker-compose |")
	fmt.Fprintln(w, "|---|--:|---|")
	fmt.Fprintf(w, "| resident memory (VmRSS / VmHWM) | %s / %s | no daemon |\n", mib(i.rss), mib(i.hwm))
	fmt.Fprintf(w, "| CPU over %s (utime+stime) | %s (%.2f %% of one core) | no daemon: each run is a fresh process |\n",
		i.window.Round(time.Second), dur(i.cpu), 100*i.cpu.Seconds()/i.window.Seconds())
	fmt.Fprintf(w, "| Engine API requests over %s | %d (%s) | — |\n", i.window.Round(time.Second), i.calls.total(), breakdown(i.calls))
	fmt.Fprintf(w, "| binary size | %s (`go build ./cmd/moor`), %s with `-ldflags \"-s -w\"` | a Python program on CPython |\n\n",
		mib(i.plain), mib(i.stripped))
}

func (r *report) writeDowntime(w io.Writer) {
	fmt.Fprintln(w, "| tool | n | downtime, median | min | max | failed requests, median | the tool's run, median | containers recreated |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|---|")
	for _, t := range []struct {
		name string
		res  downtimeResult
	}{{"moor apply", r.downMoor}, {"docker-compose up -d", r.downCompose}} {
		d := t.res
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.0f | %s | %v |\n", t.name, len(d.downtime),
			dur(median(d.downtime)), dur(slices.Min(d.downtime)), dur(slices.Max(d.downtime)),
			medianInts(d.fails), dur(median(d.wall)), d.replaced)
	}
	if m, c := median(r.downMoor.downtime), median(r.downCompose.downtime); m > 0 {
		fmt.Fprintf(w, "\ndocker-compose ÷ moor, median downtime: %s.\n", ratio(float64(c), float64(m)))
	}
	fmt.Fprintln(w)
}

func (r *report) writePush(w io.Writer) {
	fmt.Fprintln(w, "| trigger | median | min | max | commits |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, p := range r.push {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", p.trigger,
			dur(median(p.latency)), dur(slices.Min(p.latency)), dur(slices.Max(p.latency)), len(p.latency))
	}
	fmt.Fprintln(w)
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

func ratio(a, b float64) string {
	if b == 0 {
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

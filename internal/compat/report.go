package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// report prints the figures as Markdown: a row per corpus and the total,
// then a row per reason moor refuses a stack for, with the stacks it
// refuses and those it alone refuses (the stacks fixing it would win).
func report(w io.Writer, corpora []string, results []result, verbose bool) {
	type counts struct{ files, compose, moor int }
	per := map[string]*counts{}
	var total counts
	for _, c := range corpora {
		per[c] = &counts{}
	}
	reasons := map[string]int{}
	alone := map[string]int{}
	example := map[string]string{}
	for _, r := range results {
		c := per[r.corpus]
		c.files++
		total.files++
		if r.composeErr != "" {
			continue
		}
		c.compose++
		total.compose++
		if r.moorErr == "" {
			c.moor++
			total.moor++
			continue
		}
		keys := reasonKeys(r.moorErr)
		for _, k := range keys {
			reasons[k]++
			if _, ok := example[k]; !ok {
				example[k] = filepath.Base(r.corpus) + "/" + r.file
			}
		}
		if len(keys) == 1 {
			alone[keys[0]]++
		}
	}
	fmt.Fprintln(w, "| corpus | compose files | docker compose accepts | moor accepts | moor/compose |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, name := range corpora {
		c := per[name]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %s |\n", filepath.Base(name), c.files, c.compose, c.moor, percent(c.moor, c.compose))
	}
	fmt.Fprintf(w, "| **total** | %d | %d | %d | **%s** |\n", total.files, total.compose, total.moor, percent(total.moor, total.compose))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| reason moor refuses a stack | stacks | only reason | e.g. |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	keys := slices.SortedFunc(maps.Keys(reasons), func(a, b string) int {
		return cmp.Or(cmp.Compare(reasons[b], reasons[a]), cmp.Compare(a, b))
	})
	for _, k := range keys {
		fmt.Fprintf(w, "| %s | %d | %d | %s |\n", strings.ReplaceAll(k, "|", `\|`), reasons[k], alone[k], example[k])
	}
	warned := map[string]int{}
	for _, r := range results {
		seen := map[string]bool{}
		for _, wn := range r.warnings {
			seen[reasonKey(wn)] = true
		}
		for k := range seen {
			warned[k]++
		}
	}
	if len(warned) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| warning on a stack moor accepts | stacks |")
		fmt.Fprintln(w, "|---|---:|")
		for _, k := range slices.SortedFunc(maps.Keys(warned), func(a, b string) int {
			return cmp.Or(cmp.Compare(warned[b], warned[a]), cmp.Compare(a, b))
		}) {
			fmt.Fprintf(w, "| %s | %d |\n", strings.ReplaceAll(k, "|", `\|`), warned[k])
		}
	}
	var hashed, differ int
	for _, r := range results {
		hashed += r.hashed
		differ += len(r.hashDiffer)
	}
	if hashed > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "com.docker.compose.config-hash: moor's equals docker compose config --hash for %d of %d services (%s).\n",
			hashed-differ, hashed, percent(hashed-differ, hashed))
	}
	if !verbose {
		return
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if len(r.hashDiffer) > 0 {
			fmt.Fprintf(w, "config hash differs: %s/%s: %s\n", r.corpus, r.file, strings.Join(r.hashDiffer, ", "))
		}
	}
	for _, r := range results {
		if r.composeErr == "" && r.moorErr != "" {
			fmt.Fprintf(w, "%s/%s\n    %s\n", r.corpus, r.file, strings.ReplaceAll(r.moorErr, "\n", "\n    "))
		}
	}
	for _, r := range results {
		if r.composeErr != "" {
			fmt.Fprintf(w, "compose refuses %s/%s: %s\n", r.corpus, r.file, firstLine(r.composeErr))
		}
	}
}

func percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

var (
	stackPrefix  = regexp.MustCompile(`^stack [^ ]+ \([^)]*\): `)
	servicePart  = regexp.MustCompile(`\bservice [^ :]+(:| )`)
	entry        = regexp.MustCompile(`\b([a-z_]+)\[\d+\] "(?:[^"\\]|\\.)*"`)
	unsupported  = regexp.MustCompile(`^(.*?is not supported by moor)`)
	quoted       = regexp.MustCompile(`(field |top-level )?"(?:[^"\\]|\\.)*"`)
	hostPort     = regexp.MustCompile(`(?:\[[0-9a-fA-F:]*\]:|\d+\.\d+\.\d+\.\d+:)?\d+/(?:tcp|udp|sctp)\b`)
	number       = regexp.MustCompile(`\b\d+\b`)
	bothSides    = regexp.MustCompile(` and .* both `)
	variable     = regexp.MustCompile(`variable \S+ is not set`)
	namedThing   = regexp.MustCompile(`^(config|secret|volume|network) [^ :]+:`)
	pathLike     = regexp.MustCompile(`(?:\.{0,2}/)?[\w.-]+(?:/[\w.-]+)+`)
	maxReasonLen = 140
)

// reasonKeys turns the error moor gave a stack into its reasons, one per
// kind of problem (sorted, each once): the stack, service, entries as
// written, names, paths and numbers are taken out, so that the same
// problem in two stacks has the same key.
func reasonKeys(err string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(err, "\n") {
		seen[reasonKey(line)] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func reasonKey(line string) string {
	s := stackPrefix.ReplaceAllString(line, "")
	s = servicePart.ReplaceAllString(s, "")
	s = entry.ReplaceAllString(s, "$1[]")
	s = strings.TrimLeft(s, " :")
	if m := unsupported.FindStringSubmatch(s); m != nil {
		s = m[1] // the hint after it says what to do, not why
	}
	s, _, _ = strings.Cut(s, "; ") // likewise
	s, _, _ = strings.Cut(s, " (") // and a parenthesis
	s = bothSides.ReplaceAllString(s, " and … both ")
	s = variable.ReplaceAllString(s, "variable … is not set")
	s = namedThing.ReplaceAllString(s, "$1 …:")
	// A field's name is the reason; other quoted text is the user's.
	s = quoted.ReplaceAllStringFunc(s, func(q string) string {
		if strings.HasPrefix(q, "field ") || strings.HasPrefix(q, "top-level ") {
			return q
		}
		return `"…"`
	})
	s = hostPort.ReplaceAllString(s, "PORT")
	s = pathLike.ReplaceAllString(s, "PATH")
	s = number.ReplaceAllString(s, "N")
	s = strings.TrimSpace(s)
	if len(s) > maxReasonLen {
		s = strings.ToValidUTF8(s[:maxReasonLen], "") + "…"
	}
	return s
}

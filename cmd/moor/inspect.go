package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/repourl"
	"github.com/moor-dev/moor/runtime"
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

// statusReports reports every source under the state dir against the
// engine as it is now, as each source's controller would plan it.
func statusReports(ctx context.Context, stateDir string) ([]controller.SourceReport, error) {
	d, err := runtime.NewDocker(ctx)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	obs, err := d.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return controller.ReadReports(stateDir, obs, time.Now())
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
		path := filepath.Join(*stateDir, "ledger.jsonl")
		recs, corrupt, err := ledger.Read(path)
		if err != nil {
			return e.errorf("%v", err)
		}
		// Said last, on stderr: the records (or the JSON) stay what they are.
		defer reportCorrupt(e.stderr, path, corrupt)
		keep := recs
		if *source != "" {
			keep = ledger.BySource(keep, *source)
		}
		if *stack != "" {
			keep = ledger.ByStack(keep, *stack)
		}
		keep = ledger.Last(keep, *last)
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
			printRecord(e.stdout, r, *stack)
		}
		return exitOK
	}
}

// printRecord prints one apply of the ledger, its ops limited to stack
// when it is not "". What the repository wrote (subject, author, the
// errors that quote its files) is printed escaped; the record is kept as
// it was.
func printRecord(w io.Writer, r ledger.Record, stack string) {
	fmt.Fprintf(w, "#%d %s %s %s %s %s", r.Seq, r.Started.Local().Format("2006-01-02 15:04:05"), printable.Escape(r.Source),
		printable.Escape(r.Revision), printable.Escape(r.Result), r.Duration().Round(time.Millisecond))
	if r.Subject != "" {
		fmt.Fprintf(w, " \"%s\" by %s", printable.Escape(r.Subject), printable.Escape(r.Author))
	}
	if len(r.Overrides) > 0 {
		fmt.Fprintf(w, " (ignored %s)", printable.Escape(strings.Join(r.Overrides, ", ")))
	}
	fmt.Fprintln(w)
	for _, op := range r.Ops {
		if stack != "" && op.Stack != stack {
			continue
		}
		fmt.Fprintf(w, "    %-7s %s", printable.Escape(op.Result), printable.Escape(op.Op))
		if op.Error != "" {
			fmt.Fprintf(w, ": %s", printable.Lines(op.Error, "            "))
		}
		fmt.Fprintln(w)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Broken)) {
		if stack == "" || name == stack {
			fmt.Fprintf(w, "    broken  %s: %s\n", printable.Escape(name), printable.Lines(r.Broken[name], "            "))
		}
	}
	if r.Error != "" && len(r.Ops) == 0 && len(r.Broken) == 0 {
		// An older moor may have recorded a URL with credentials.
		fmt.Fprintf(w, "    error   %s\n", printable.Lines(repourl.RedactText(r.Error), "            "))
	}
}

// reportCorrupt says which lines of the ledger are not records: a few of
// them, and how many more.
func reportCorrupt(w io.Writer, path string, corrupt []ledger.Corrupt) {
	const shown = 10
	for i, c := range corrupt {
		if i == shown {
			fmt.Fprintf(w, "moor: %s: %d more lines are not records\n", path, len(corrupt)-shown)
			break
		}
		fmt.Fprintf(w, "moor: %s: %s; the line is left in the file\n", path, printable.Escape(c.String()))
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

// Command moor keeps a Docker host moored to a Git repository of compose
// stacks. This package parses flags and the configuration file, builds the
// parts and runs them; everything else lives in the packages it wires.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/moor-dev/moor/printable"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // moor plan --exit-code: the plan is not empty
	exitUsage   = 64
)

// command is one subcommand: its flags, and what it does with them.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	flags   func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) int
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

// errorf prints an error on stderr. Errors among a are printed escaped
// (printable.Error): they may quote a repository's text.
func (e *env) errorf(format string, a ...any) int {
	for i, v := range a {
		if err, ok := v.(error); ok {
			a[i] = printable.Error(err)
		}
	}
	fmt.Fprintf(e.stderr, "moor: "+format+"\n", a...)
	return exitError
}

func commands() []command {
	return []command{
		{name: "plan", summary: "show what would change, and why; nothing is touched", flags: planCmd},
		{name: "apply", summary: "converge the host once; exit 0 only when it matches the revision", flags: applyCmd},
		{name: "run", summary: "the controller: converge on every trigger, until stopped", flags: runCmd},
		{name: "status", summary: "per stack and service: desired and applied revision, containers, state, health", flags: statusCmd},
		{name: "suspend", args: "SOURCE [STACK]", summary: "hold every change of a source, or of one stack, until moor resume", flags: suspendCmd},
		{name: "resume", args: "SOURCE [STACK]", summary: "end a suspension: moor run applies what waited at its next trigger", flags: resumeCmd},
		{name: "history", summary: "the ledger: every apply, its revision, plan, result and duration", flags: historyCmd},
		{name: "validate", args: "DIR", summary: "lint a deploy repository checkout; non-zero on any error", flags: validateCmd},
		{name: "version", summary: "print moor's version", flags: versionCmd},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("moor "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(stderr, "usage: moor %s [flags] %s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		do := c.flags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		return do(ctx, e, fs.Args())
	}
	fmt.Fprintf(stderr, "moor: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "moor keeps a Docker host moored to a Git repository of compose stacks.")
	fmt.Fprintln(w, "\nusage: moor COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'moor COMMAND -h' for a command's flags.")
}

func versionCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	return func(_ context.Context, e *env, _ []string) int {
		fmt.Fprintf(e.stdout, "moor %s\n", Version)
		return exitOK
	}
}

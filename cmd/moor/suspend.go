package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/printable"
)

// suspendCmd and resumeCmd change a source's suspensions in the state dir
// (controller/suspend.go): a `moor run` on it, running or started later,
// honours them at its next trigger.
func suspendCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var t suspendTarget
	t.register(fs)
	by := fs.String("by", "moor suspend", "who suspends, as plans, status and the ledger show it")
	return func(ctx context.Context, e *env, args []string) int {
		stateDir, source, stack, err := t.resolve(args)
		if err != nil {
			return e.errorf("suspend: %v", err)
		}
		if err := controller.SuspendSource(stateDir, source, stack, *by, time.Now()); err != nil {
			return e.errorf("suspend: %v", err)
		}
		ss, err := controller.ReadSuspensions(stateDir, source)
		if err != nil {
			return e.errorf("suspend: %v", err)
		}
		for _, s := range ss {
			if s.Stack == stack {
				fmt.Fprintf(e.stdout, "source %s: %s %s; its changes are planned and held until moor resume\n",
					source, s.Target(), printable.Escape(s.Reason()))
			}
		}
		return exitOK
	}
}

func resumeCmd(fs *flag.FlagSet) func(context.Context, *env, []string) int {
	var t suspendTarget
	t.register(fs)
	return func(ctx context.Context, e *env, args []string) int {
		stateDir, source, stack, err := t.resolve(args)
		if err != nil {
			return e.errorf("resume: %v", err)
		}
		if err := controller.ResumeSource(stateDir, source, stack); err != nil {
			return e.errorf("resume: %v", err)
		}
		what := "the whole source"
		if stack != "" {
			what = "stack " + stack
		}
		fmt.Fprintf(e.stdout, "source %s: %s resumed; moor run applies what waited at its next trigger\n", source, what)
		ss, err := controller.ReadSuspensions(stateDir, source)
		if err != nil {
			return e.errorf("resume: %v", err)
		}
		for _, s := range ss {
			fmt.Fprintf(e.stdout, "still suspended: %s %s\n", s.Target(), printable.Escape(s.Reason()))
		}
		return exitOK
	}
}

// suspendTarget is where suspend and resume find the source: the state dir
// of --config, or --state-dir.
type suspendTarget struct {
	configFile string
	stateDir   string
}

func (t *suspendTarget) register(fs *flag.FlagSet) {
	fs.StringVar(&t.configFile, "config", "", "configuration file: its state dir, and the source must be one of its sources")
	fs.StringVar(&t.stateDir, "state-dir", defaultStateDir(), "the state dir of the moor that runs the source ($MOOR_STATE_DIR)")
}

// resolve checks the arguments SOURCE [STACK] and that the source is
// known: one of the config's, or one that ran on the state dir.
func (t *suspendTarget) resolve(args []string) (stateDir, source, stack string, err error) {
	switch len(args) {
	case 1:
		source = args[0]
	case 2:
		source, stack = args[0], args[1]
	default:
		return "", "", "", fmt.Errorf("want SOURCE [STACK], got %q", args)
	}
	stateDir = t.stateDir
	if t.configFile != "" {
		cfg, err := config.Load(t.configFile, config.Defaults{StateDir: t.stateDir})
		if err != nil {
			return "", "", "", err
		}
		stateDir = cfg.StateDir
		if !slices.ContainsFunc(cfg.Sources, func(s config.Source) bool { return s.Name == source }) {
			return "", "", "", fmt.Errorf("%s has no source %q", t.configFile, source)
		}
		return stateDir, source, stack, nil
	}
	if _, err := os.Stat(filepath.Join(stateDir, "sources", source)); errors.Is(err, fs.ErrNotExist) {
		return "", "", "", fmt.Errorf("no source %q has run on %s (give --config to suspend one that has not run yet)", source, stateDir)
	} else if err != nil {
		return "", "", "", err
	}
	return stateDir, source, stack, nil
}

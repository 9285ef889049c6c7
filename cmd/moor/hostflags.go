package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/printable"
)

// hostFlags are --host and --labels: the host a command acts as in a
// fleet, instead of the config file's host: block (or, without one, the
// machine's hostname and no labels).
type hostFlags struct {
	name, labels string
}

func (h *hostFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.name, "host", "", "act as this host of a fleet: the stacks of hosts/NAME/ and those whose x-moor names it (default: the config's host.name, or the machine's hostname)")
	fs.StringVar(&h.labels, "labels", "", "act as a host with these labels, KEY=VALUE,KEY=VALUE: they select groups/KEY=VALUE/ and x-moor.host_labels (default: the config's host.labels)")
}

func (h *hostFlags) set() bool { return h.name != "" || h.labels != "" }

// apply puts the flags, when given, in place of host.
func (h *hostFlags) apply(host *config.Host) error {
	if h.name != "" {
		if err := config.CheckHostName(h.name); err != nil {
			return fmt.Errorf("--host: %w", err)
		}
		host.Name = h.name
	}
	if h.labels != "" {
		labels, err := config.ParseHostLabels(h.labels)
		if err != nil {
			return fmt.Errorf("--labels: %w", err)
		}
		host.Labels = labels
	}
	return nil
}

// compose is the host the flags give, for moor validate: nil (no fleet
// selection) when neither is given.
func (h *hostFlags) compose() (*compose.Host, error) {
	if !h.set() {
		return nil, nil
	}
	host := config.Host{Name: config.DefaultHostName()}
	if err := h.apply(&host); err != nil {
		return nil, err
	}
	return &compose.Host{Name: host.Name, Labels: host.Labels}, nil
}

// printNotHere says, for moor validate --host, which host the stacks were
// selected for and which stacks are left out, and why.
func printNotHere(w io.Writer, host *compose.Host, notHere map[string]string) {
	h := config.Host{Name: host.Name, Labels: host.Labels}
	fmt.Fprintf(w, "host  %s\n", printable.Escape(h.String()))
	for _, name := range slices.Sorted(maps.Keys(notHere)) {
		fmt.Fprintf(w, "skip  %s: %s\n", name, printable.Escape(notHere[name]))
	}
}

// noteFleetDirs says, for moor validate without --host, that the fleet
// directories of dir were not checked: they are read for a host only.
func noteFleetDirs(w io.Writer, dir string) {
	for _, name := range []string{compose.HostsDir, compose.GroupsDir} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			continue
		}
		if slices.ContainsFunc(compose.FileNames, func(n string) bool { _, err := os.Lstat(filepath.Join(p, n)); return err == nil }) {
			continue // a stack named so
		}
		fmt.Fprintf(w, "note  %s/ holds the stacks of fleet hosts, not checked without --host NAME --labels KEY=VALUE,...\n", name)
	}
}

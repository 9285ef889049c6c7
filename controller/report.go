package controller

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moor-dev/moor/reconcile"
)

// SourceReport is `moor status` for one source: what it last resolved and
// applied, and every service it wants or runs, with the engine's view.
type SourceReport struct {
	*Status
	Services []ServiceReport `json:"service_states"`
}

// ServiceReport is one service: what the revision wants and what runs.
type ServiceReport struct {
	Stack      string            `json:"stack"`
	Service    string            `json:"service"`
	Replicas   int               `json:"replicas"` // desired; 0 when git no longer has it
	State      string            `json:"state"`    // in-sync, drifted, missing, broken, blocked, removed-from-git
	Reason     string            `json:"reason,omitempty"`
	Containers []ContainerReport `json:"containers"`
}

// ContainerReport is one container of a service.
type ContainerReport struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	State    string `json:"state"`
	Health   string `json:"health,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
	Revision string `json:"revision"`
	Image    string `json:"image"`
	InSync   bool   `json:"in_sync"`
}

// Report joins the recorded status of every source with one engine snapshot.
func Report(statuses []*Status, obs *reconcile.Observed) []SourceReport {
	var out []SourceReport
	for _, st := range statuses {
		out = append(out, SourceReport{Status: st, Services: serviceReports(st, obs)})
	}
	return out
}

func serviceReports(st *Status, obs *reconcile.Observed) []ServiceReport {
	byKey := map[string]*ServiceReport{}
	get := func(stack, service string) *ServiceReport {
		k := stack + "/" + service
		if byKey[k] == nil {
			byKey[k] = &ServiceReport{Stack: stack, Service: service}
		}
		return byKey[k]
	}
	for key, ds := range st.Services {
		stack, service, _ := strings.Cut(key, "/")
		get(stack, service).Replicas = ds.Replicas
	}
	for _, c := range obs.Containers {
		if c.Source != st.Source || c.Stack == "" {
			continue
		}
		sr := get(c.Stack, c.Service)
		ds, wanted := st.Services[c.Stack+"/"+c.Service]
		sr.Containers = append(sr.Containers, ContainerReport{
			Name: c.Name, ID: shortID(c.ID), State: c.State, Health: c.Health, ExitCode: c.ExitCode,
			Revision: c.Revision, Image: c.Image, InSync: wanted && ds.Hash == c.ConfigHash,
		})
	}
	var out []ServiceReport
	for _, k := range sortedKeys(byKey) {
		sr := byKey[k]
		sr.State, sr.Reason = serviceState(st, sr)
		sort.Slice(sr.Containers, func(i, j int) bool { return sr.Containers[i].Name < sr.Containers[j].Name })
		out = append(out, *sr)
	}
	return out
}

func serviceState(st *Status, sr *ServiceReport) (string, string) {
	if why, ok := st.Broken[sr.Stack]; ok {
		return "broken", why
	}
	ds, wanted := st.Services[sr.Stack+"/"+sr.Service]
	if f, ok := st.Failures[sr.Stack+"/"+sr.Service]; ok && wanted && f.Hash == ds.Hash {
		return "degraded", fmt.Sprintf("running %s, %s failed: %s (next attempt after %s, or on a new commit or moor apply)",
			runningRevisions(sr), shortRev(f.Revision), f.Reason, f.RetryAt.UTC().Format(time.RFC3339))
	}
	if why, ok := st.Blocked[sr.Stack+"/"+sr.Service]; ok {
		return "blocked", why
	}
	if !wanted {
		return "removed-from-git", ""
	}
	expected := map[string]bool{}
	for n := 1; n <= sr.Replicas; n++ {
		expected[reconcile.ContainerName(sr.Stack, sr.Service, n)] = true
	}
	up := 0
	for _, c := range sr.Containers {
		if !c.InSync {
			return "drifted", c.Name + " runs another config"
		}
		if !expected[c.Name] {
			return "drifted", c.Name + " is not one of the service's replicas (renamed, or left over)"
		}
		if c.State == reconcile.StateRunning || (ds.OneShot && c.State == reconcile.StateExited && c.ExitCode == 0) {
			up++
		}
	}
	if up < sr.Replicas {
		return "missing", fmt.Sprintf("%d of %d replicas up", up, sr.Replicas)
	}
	return "in-sync", ""
}

// WriteReport prints reports as `moor status` shows them.
func WriteReport(w io.Writer, reports []SourceReport, now time.Time) {
	if len(reports) == 0 {
		fmt.Fprintln(w, "no source has run yet")
	}
	for _, r := range reports {
		fmt.Fprintf(w, "source %s  %s  ref %s", r.Source, r.Repo, r.Ref)
		if r.Path != "" {
			fmt.Fprintf(w, "  path %s", r.Path)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  desired  %s %q\n", r.Revision, r.Subject)
		applied := r.Applied
		if applied == "" {
			applied = "(none yet)"
		} else {
			applied += " (" + ago(now, r.AppliedAt) + ")"
		}
		fmt.Fprintf(w, "  applied  %s\n", applied)
		fmt.Fprintf(w, "  last run %s, %s\n", r.Result, ago(now, r.LastRun))
		if !r.UnreachableSince.IsZero() {
			good := r.Applied
			if good == "" {
				good = "none"
			}
			fmt.Fprintf(w, "  source unreachable since %s (last good revision %s); nothing on the host was touched\n", r.UnreachableSince.UTC().Format(time.RFC3339), good)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error    %s\n", strings.ReplaceAll(r.Error, "\n", "\n           "))
		}
		if len(r.Drift) > 0 {
			fmt.Fprintf(w, "  drift    not repaired (drift: report); moor apply would:\n")
			for _, op := range r.Drift {
				fmt.Fprintf(w, "           %s\n", op)
			}
		}
		if !r.FailingSince.IsZero() {
			fmt.Fprintf(w, "  failing since %s\n", r.FailingSince.Format(time.RFC3339))
		}
		for _, s := range r.Services {
			fmt.Fprintf(w, "  %-30s %-16s %d/%d", s.Stack+"/"+s.Service, s.State, upCount(s), s.Replicas)
			if s.Reason != "" {
				fmt.Fprintf(w, "  %s", s.Reason)
			}
			fmt.Fprintln(w)
			for _, c := range s.Containers {
				state := c.State
				if c.Health != "" {
					state += " (" + c.Health + ")"
				}
				if c.State == reconcile.StateExited {
					state += fmt.Sprintf(" (%d)", c.ExitCode)
				}
				fmt.Fprintf(w, "    %-32s %-12s %-22s %s %s\n", c.Name, c.ID, state, shortRev(c.Revision), c.Image)
			}
		}
	}
}

// runningRevisions names the revisions the service's running containers
// came from.
func runningRevisions(sr *ServiceReport) string {
	var revs []string
	for _, c := range sr.Containers {
		if c.State == reconcile.StateRunning && !slices.Contains(revs, shortRev(c.Revision)) {
			revs = append(revs, shortRev(c.Revision))
		}
	}
	if len(revs) == 0 {
		return "nothing"
	}
	return strings.Join(revs, " and ")
}

func upCount(s ServiceReport) int {
	n := 0
	for _, c := range s.Containers {
		if c.State == reconcile.StateRunning {
			n++
		}
	}
	return n
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// shortRev turns "main@sha1:<40 hex>" into "main@abcdef1".
func shortRev(rev string) string {
	ref, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok || len(sha) < 7 {
		return rev
	}
	return ref + "@" + sha[:7]
}

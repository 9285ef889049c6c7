package dashboard

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
)

// Source is what the dashboard needs of a source's controller
// (*controller.Controller is one).
type Source interface {
	// Report is the source's report as of its last run; nil before it.
	Report() *controller.SourceReport
	// Trigger asks for a run now.
	Trigger()
	// Retry asks for a run that tries a held service again now.
	Retry(service string) error
	// Suspend holds every change of a stack ("": of the source) until
	// Resume; by says who asked.
	Suspend(stack, by string) error
	// Resume ends the Suspend of the same stack ("": the source).
	Resume(stack string) error
}

// Overview is everything the dashboard shows, assembled in one place so
// that a JSON API can serve the same thing. Without Full, what containers
// and health checks printed is withheld, as on /status.
type Overview struct {
	Generated time.Time    `json:"generated"`
	Full      bool         `json:"full"`
	Sources   []SourceView `json:"sources"`
	// Waiting counts the sources that have not finished a run yet.
	Waiting int `json:"waiting,omitempty"`
	// LedgerError is why the last runs could not be read.
	LedgerError string `json:"ledger_error,omitempty"`
}

// SourceView is one source: its report, grouped by stack, its held
// failures and its last runs.
type SourceView struct {
	*controller.SourceReport
	// DesiredURL and AppliedURL link the revisions' commits on their
	// forge; empty when the repository URL does not tell how.
	DesiredURL string      `json:"desired_url,omitempty"`
	AppliedURL string      `json:"applied_url,omitempty"`
	Stacks     []StackView `json:"stacks"`
	Held       []HeldView  `json:"held,omitempty"`
	Runs       []RunView   `json:"runs,omitempty"`
}

// StackView is one stack of a source.
type StackView struct {
	Name string `json:"name"`
	// Broken is why the stack did not load (it runs as it was).
	Broken   string                     `json:"broken,omitempty"`
	Services []controller.ServiceReport `json:"services"`
}

// HeldView is a service held back by its failed rollout.
type HeldView struct {
	Service string `json:"service"` // "stack/service"
	controller.Failure
}

// RunView is one run from the ledger, newest first.
type RunView struct {
	ledger.Record
	CommitURL string `json:"commit_url,omitempty"`
}

// Collect assembles the overview of sources, with each one's last runs
// (at most runs of them) from recs, the ledger's records. Without full,
// output is withheld from reports and runs alike.
func Collect(sources []Source, recs []ledger.Record, runs int, full bool, now time.Time) Overview {
	o := Overview{Generated: now, Full: full, Sources: []SourceView{}}
	for _, src := range sources {
		rep := src.Report()
		if rep == nil || rep.Status == nil {
			o.Waiting++
			continue
		}
		if !full {
			rep = rep.WithoutOutput()
		}
		v := SourceView{SourceReport: rep,
			DesiredURL: CommitURL(rep.Repo, rep.Revision), AppliedURL: CommitURL(rep.Repo, rep.Applied)}
		v.Stacks = stacks(rep)
		for _, key := range slices.Sorted(maps.Keys(rep.Failures)) {
			v.Held = append(v.Held, HeldView{Service: key, Failure: rep.Failures[key]})
		}
		mine := ledger.Last(ledger.BySource(recs, rep.Source), runs)
		for i := len(mine) - 1; i >= 0; i-- {
			r := mine[i]
			if !full {
				r = withoutOutput(r)
			}
			v.Runs = append(v.Runs, RunView{Record: r, CommitURL: CommitURL(rep.Repo, r.Revision)})
		}
		o.Sources = append(o.Sources, v)
	}
	return o
}

// stacks groups a report's services by stack, with the stacks that did
// not load.
func stacks(rep *controller.SourceReport) []StackView {
	by := map[string]*StackView{}
	get := func(name string) *StackView {
		if by[name] == nil {
			by[name] = &StackView{Name: name}
		}
		return by[name]
	}
	for _, s := range rep.Services {
		st := get(s.Stack)
		st.Services = append(st.Services, s)
	}
	for name, why := range rep.Broken {
		get(name).Broken = why
	}
	var out []StackView
	for _, name := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[name])
	}
	return out
}

// withoutOutput is r with what containers, health checks and jobs printed
// taken out, as controller.SourceReport.WithoutOutput does for a report.
func withoutOutput(r ledger.Record) ledger.Record {
	r.Error = reconcile.WithholdOutput(r.Error)
	if r.Broken != nil {
		b := make(map[string]string, len(r.Broken))
		for k, v := range r.Broken {
			b[k] = reconcile.WithholdOutput(v)
		}
		r.Broken = b
	}
	r.Notes = slices.Clone(r.Notes)
	for i := range r.Notes {
		r.Notes[i] = reconcile.WithholdOutput(r.Notes[i])
	}
	r.Ops = slices.Clone(r.Ops)
	for i, op := range r.Ops {
		op.Error = reconcile.WithholdOutput(op.Error)
		if op.Job != nil {
			j := *op.Job
			if j.Output != "" {
				j.Output = reconcile.Withheld
			}
			op.Job = &j
		}
		r.Ops[i] = op
	}
	return r
}

// CommitURL links the commit of rev ("main@sha1:<hex>") on the web page of
// the forge that serves repo, or is "" when moor cannot tell how: only
// https URLs of GitHub, GitLab, Gitea, Forgejo and Codeberg hosts, with no
// credentials, query or fragment, are linked. Other repositories show the
// revision as plain text.
func CommitURL(repo, rev string) string {
	_, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok || len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return ""
	}
	u, err := url.Parse(repo)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ""
	}
	path := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	parts := strings.Split(path, "/")
	if len(parts) < 2 || slices.Contains(parts, "") || slices.Contains(parts, "..") || slices.Contains(parts, ".") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	var commit string
	switch {
	case host == "github.com" || host == "codeberg.org" || hostHas(host, "gitea") || hostHas(host, "forgejo"):
		if len(parts) != 2 {
			return ""
		}
		commit = "/commit/"
	case host == "gitlab.com" || hostHas(host, "gitlab"):
		commit = "/-/commit/" // GitLab's groups nest: any depth
	default:
		return ""
	}
	return (&url.URL{Scheme: "https", Host: u.Host, Path: "/" + path + commit + sha}).String()
}

// hostHas reports whether one of host's labels is label ("gitlab.example.com").
func hostHas(host, label string) bool {
	return slices.Contains(strings.Split(host, "."), label)
}

package server

import (
	"maps"
	"slices"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/repourl"
)

// APIVersion is the "version" of every answer under /api/v1/: a client
// that finds another one is reading a format it does not know.
const APIVersion = 1

// The shapes of the API's answers (docs/openapi.yaml describes them). They
// are built from a source's report as its last run left it, never from the
// engine, so that a client that polls the API costs the host nothing.

// SourceView is one source: its configuration and what its last run found
// (nil before the first run).
type SourceView struct {
	Name   string             `json:"name"`
	Repo   string             `json:"repo"` // redacted
	Ref    string             `json:"ref"`
	Path   string             `json:"path,omitempty"`
	Status *controller.Status `json:"status"`
	// Rolling is the apply under way, if any.
	Rolling *controller.Rolling `json:"rolling,omitempty"`
}

// StackView is one stack of a source, with its services: those of its
// revision and those it still runs.
type StackView struct {
	Name string `json:"name"`
	// Broken says why the stack did not load; "" when it did.
	Broken string `json:"broken,omitempty"`
	// Revision is the revision the source's last run resolved, at which
	// Health holds; Health is healthy, failed or pending
	// (controller.SourceReport.StackHealth), with why when not healthy:
	// what the hosts that wait for this one as a canary read.
	Revision     string                     `json:"revision,omitempty"`
	Health       string                     `json:"health"`
	HealthReason string                     `json:"health_reason,omitempty"`
	Services     []controller.ServiceReport `json:"services"`
}

// ContainerView is one container, with the service it belongs to.
type ContainerView struct {
	Stack   string `json:"stack"`
	Service string `json:"service"`
	controller.ContainerReport
}

// viewSource is ctl's source and rep (nil before its first run).
func viewSource(ctl *controller.Controller, rep *controller.SourceReport) SourceView {
	v := SourceView{Name: ctl.Source.Name, Repo: repourl.Redact(ctl.Source.Repo), Ref: ctl.Source.Ref, Path: ctl.Source.Path}
	if rep != nil {
		v.Status, v.Rolling = rep.Status, rep.Rolling
	}
	return v
}

// viewStacks groups rep's services by stack, with the stacks that did not
// load, sorted by name.
func viewStacks(rep *controller.SourceReport) []StackView {
	byName := map[string]*StackView{}
	get := func(name string) *StackView {
		if byName[name] == nil {
			byName[name] = &StackView{Name: name, Services: []controller.ServiceReport{}}
		}
		return byName[name]
	}
	if rep != nil {
		for _, s := range viewServices(rep) {
			st := get(s.Stack)
			st.Services = append(st.Services, s)
		}
		if rep.Status != nil {
			for name, why := range rep.Broken {
				get(name).Broken = why
			}
		}
	}
	out := []StackView{}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		st := byName[name]
		st.Health, st.HealthReason = rep.StackHealth(name)
		if rep != nil && rep.Status != nil {
			st.Revision = rep.Status.Revision
		}
		out = append(out, *st)
	}
	return out
}

// viewServices are rep's services, each with a list of containers, if
// empty.
func viewServices(rep *controller.SourceReport) []controller.ServiceReport {
	out := []controller.ServiceReport{}
	if rep == nil {
		return out
	}
	for _, s := range rep.Services {
		if s.Containers == nil {
			s.Containers = []controller.ContainerReport{}
		}
		out = append(out, s)
	}
	return out
}

// viewContainers lists the containers of rep's services, by service.
func viewContainers(rep *controller.SourceReport) []ContainerView {
	out := []ContainerView{}
	if rep == nil {
		return out
	}
	for _, s := range rep.Services {
		for _, c := range s.Containers {
			out = append(out, ContainerView{Stack: s.Stack, Service: s.Service, ContainerReport: c})
		}
	}
	return out
}

// viewPlan is p as `moor plan --json` prints it, with what containers
// printed withheld unless full.
func viewPlan(p *reconcile.Plan, full bool) *reconcile.PlanJSON {
	if p == nil {
		return nil
	}
	j := reconcile.NewPlanJSON(p)
	if full {
		return &j
	}
	j.Broken, j.Blocked, j.Held = withholdMap(j.Broken), withholdMap(j.Blocked), withholdMap(j.Held)
	j.Notes, j.Warnings = withholdList(j.Notes), withholdList(j.Warnings)
	for _, ops := range [][]reconcile.OpJSON{j.Ops, j.Drift} {
		for i := range ops {
			ops[i].Op, ops[i].Cause = reconcile.WithholdOutput(ops[i].Op), reconcile.WithholdOutput(ops[i].Cause)
		}
	}
	return &j
}

// viewRecord is r with what containers and jobs printed withheld unless
// full.
func viewRecord(r ledger.Record, full bool) ledger.Record {
	if full {
		return r
	}
	r.Error = reconcile.WithholdOutput(r.Error)
	r.Broken = withholdMap(r.Broken)
	r.Notes = withholdList(r.Notes)
	r.Ops = slices.Clone(r.Ops)
	for i, op := range r.Ops {
		r.Ops[i].Error = reconcile.WithholdOutput(op.Error)
		if op.Job != nil {
			job := *op.Job
			if job.Output != "" {
				job.Output = reconcile.Withheld
			}
			r.Ops[i].Job = &job
		}
	}
	return r
}

func withholdMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = reconcile.WithholdOutput(v)
	}
	return out
}

func withholdList(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = reconcile.WithholdOutput(s)
	}
	return out
}

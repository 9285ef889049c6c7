package main

import (
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/reconcile"
)

// planJSON is `moor plan --json`: the plan of one source, each op with its
// steps, as a program reads it (a deploy repository's CI, the crash tests).
type planJSON struct {
	Source   string            `json:"source"`
	Revision string            `json:"revision"`
	Ops      []opJSON          `json:"ops"`
	Broken   map[string]string `json:"broken,omitempty"`
	Blocked  map[string]string `json:"blocked,omitempty"`
	Held     map[string]string `json:"held,omitempty"`
	Drift    []opJSON          `json:"drift,omitempty"`
	// Waiting are the ops held by a suspension or a closed deploy window;
	// Waits says why, by stack.
	Waiting  []opJSON          `json:"waiting,omitempty"`
	Waits    map[string]string `json:"waits,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

type opJSON struct {
	// Op is the op as `moor plan` prints it.
	Op       string             `json:"op"`
	Kind     string             `json:"kind"`
	Resource string             `json:"resource"`
	Cause    string             `json:"cause"`
	Rollout  *reconcile.Rollout `json:"rollout,omitempty"`
	Needs    []string           `json:"needs,omitempty"`
	Waits    []string           `json:"waits,omitempty"`
	Steps    []stepJSON         `json:"steps"`
}

type stepJSON struct {
	// ID names the step in the plan: "replace web/api/1 #5".
	ID       string   `json:"id"`
	Step     string   `json:"step"`
	Deferred bool     `json:"deferred,omitempty"`
	Undo     []string `json:"undo,omitempty"`
}

func toPlanJSON(out *controller.Outcome) planJSON {
	p := out.Plan
	j := planJSON{Source: p.Source, Revision: p.Revision, Ops: opsJSON(p.Ops), Drift: opsJSON(p.Drift),
		Waiting: opsJSON(p.Waiting), Waits: p.Waits, Broken: p.Broken, Blocked: p.Blocked, Held: p.Held, Notes: p.Notes, Warnings: p.Warnings}
	if j.Ops == nil {
		j.Ops = []opJSON{}
	}
	return j
}

func opsJSON(ops []reconcile.Op) []opJSON {
	var out []opJSON
	for _, op := range ops {
		o := opJSON{Op: op.String(), Kind: op.Kind.String(), Resource: op.Resource, Cause: op.Cause,
			Rollout: op.Rollout, Needs: op.Needs}
		for _, w := range op.Waits {
			o.Waits = append(o.Waits, w.String())
		}
		for i, s := range op.Steps {
			sj := stepJSON{ID: reconcile.StepID(op, i), Step: s.String(), Deferred: s.Deferred}
			for _, u := range s.Undo {
				sj.Undo = append(sj.Undo, u.String())
			}
			o.Steps = append(o.Steps, sj)
		}
		out = append(out, o)
	}
	return out
}

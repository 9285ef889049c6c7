package reconcile

// PlanJSON is a plan as a program reads it: `moor plan --json` prints one
// per source (for a deploy repository's CI, the crash tests), and the HTTP
// API serves the one a source's controller would carry out next. Each op
// comes with its steps.
type PlanJSON struct {
	Source   string            `json:"source"`
	Revision string            `json:"revision"`
	Ops      []OpJSON          `json:"ops"`
	Broken   map[string]string `json:"broken,omitempty"`
	Blocked  map[string]string `json:"blocked,omitempty"`
	Held     map[string]string `json:"held,omitempty"`
	Drift    []OpJSON          `json:"drift,omitempty"`
	// Waiting are the ops held by a suspension or a closed deploy window;
	// Waits says why, by stack.
	Waiting  []OpJSON          `json:"waiting,omitempty"`
	Waits    map[string]string `json:"waits,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

// OpJSON is one op of a PlanJSON.
type OpJSON struct {
	// Op is the op as `moor plan` prints it.
	Op       string     `json:"op"`
	Kind     string     `json:"kind"`
	Resource string     `json:"resource"`
	Cause    string     `json:"cause"`
	Rollout  *Rollout   `json:"rollout,omitempty"`
	Needs    []string   `json:"needs,omitempty"`
	Waits    []string   `json:"waits,omitempty"`
	Steps    []StepJSON `json:"steps"`
}

// StepJSON is one step of an OpJSON.
type StepJSON struct {
	// ID names the step in the plan: "replace web/api/1 #5".
	ID       string   `json:"id"`
	Step     string   `json:"step"`
	Deferred bool     `json:"deferred,omitempty"`
	Undo     []string `json:"undo,omitempty"`
}

// NewPlanJSON is p as JSON.
func NewPlanJSON(p *Plan) PlanJSON {
	j := PlanJSON{Source: p.Source, Revision: p.Revision, Ops: opsJSON(p.Ops), Drift: opsJSON(p.Drift),
		Waiting: opsJSON(p.Waiting), Waits: p.Waits, Broken: p.Broken, Blocked: p.Blocked, Held: p.Held, Notes: p.Notes, Warnings: p.Warnings}
	if j.Ops == nil {
		j.Ops = []OpJSON{}
	}
	return j
}

func opsJSON(ops []Op) []OpJSON {
	var out []OpJSON
	for _, op := range ops {
		o := OpJSON{Op: op.String(), Kind: op.Kind.String(), Resource: op.Resource, Cause: op.Cause,
			Rollout: op.Rollout, Needs: op.Needs}
		for _, w := range op.Waits {
			o.Waits = append(o.Waits, w.String())
		}
		for i, s := range op.Steps {
			sj := StepJSON{ID: StepID(op, i), Step: s.String(), Deferred: s.Deferred}
			for _, u := range s.Undo {
				sj.Undo = append(sj.Undo, u.String())
			}
			o.Steps = append(o.Steps, sj)
		}
		out = append(out, o)
	}
	return out
}

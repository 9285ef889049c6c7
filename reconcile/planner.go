package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MakePlan compares what a revision wants with what the engine shows and
// returns the operations that converge the host. It is pure: no I/O, no
// clock, sorted iteration, so equal inputs give equal plans.
//
// Only resources whose LabelSource is d.Source are considered: other sources'
// stacks and unlabelled containers are never touched (invariant 1). Broken
// stacks and blocked services keep what runs. Named volumes are never
// removed (invariant 2), unless the source prunes them and their whole
// stack is gone from git.
func MakePlan(d *Desired, o *Observed) *Plan {
	p := &Plan{Source: d.Source, Revision: d.Revision, Broken: map[string]string{}, Blocked: map[string]string{}}
	for name, err := range d.Broken {
		p.Broken[name] = err.Error()
	}
	owned := ownedBy(o, d.Source)
	pulls := map[string]*Op{} // by image: the first service that wants it

	for _, name := range sortedKeys(d.Stacks) {
		st := d.Stacks[name]
		p.Ops = append(p.Ops, planStack(st, owned.stack(name), o.Images, pulls, p.Blocked)...)
	}
	for _, name := range sortedKeys(owned.stacks) {
		_, wanted := d.Stacks[name]
		_, broken := d.Broken[name]
		if !wanted && !broken {
			p.Ops = append(p.Ops, removeStack(name, owned.stacks[name], d.Source, d.PruneVolumes)...)
		}
	}
	for _, img := range sortedKeys(pulls) {
		p.Ops = append(p.Ops, *pulls[img])
	}
	sortOps(p.Ops)
	return p
}

// observedStack is what the engine holds of one stack.
type observedStack struct {
	containers []Container
	networks   []Network
	volumes    []Volume
}

type ownedState struct{ stacks map[string]*observedStack }

func (s ownedState) stack(name string) *observedStack {
	if st, ok := s.stacks[name]; ok {
		return st
	}
	return &observedStack{}
}

// ownedBy groups the observed resources of one source by stack. Volumes are
// left out: moor never removes them.
func ownedBy(o *Observed, source string) ownedState {
	s := ownedState{stacks: map[string]*observedStack{}}
	get := func(name string) *observedStack {
		if s.stacks[name] == nil {
			s.stacks[name] = &observedStack{}
		}
		return s.stacks[name]
	}
	for _, c := range o.Containers {
		if c.Stack != "" && c.Source == source {
			st := get(c.Stack)
			st.containers = append(st.containers, c)
		}
	}
	for _, n := range o.Networks {
		if n.Stack != "" && n.Source == source {
			st := get(n.Stack)
			st.networks = append(st.networks, n)
		}
	}
	// Volumes outlive their stack and may be shared by name: any labelled
	// volume counts as present, whichever source made it.
	for _, v := range o.Volumes {
		if v.Stack != "" {
			st := get(v.Stack)
			st.volumes = append(st.volumes, v)
		}
	}
	return s
}

func planStack(st *Stack, obs *observedStack, images map[string]string, pulls map[string]*Op, blocked map[string]string) []Op {
	var ops []Op
	haveNet := map[string]bool{}
	for _, n := range obs.networks {
		haveNet[n.Name] = true
	}
	wantNet := map[string]bool{}
	for _, key := range sortedKeys(st.Networks) {
		n := st.Networks[key]
		wantNet[n.Name] = true
		if !n.External && !haveNet[n.Name] {
			ops = append(ops, Op{Kind: OpCreateNetwork, Resource: st.Name + "/network/" + key, Stack: st.Name, Network: n, Cause: "missing"})
		}
	}
	for _, n := range obs.networks {
		if !wantNet[n.Name] {
			ops = append(ops, Op{Kind: OpRemoveNetwork, Resource: st.Name + "/network/" + n.Name, Stack: st.Name,
				Network: &NetworkSpec{Name: n.Name}, Cause: "network removed from git"})
		}
	}
	haveVol := map[string]bool{}
	for _, v := range obs.volumes {
		haveVol[v.Name] = true
	}
	for _, key := range sortedKeys(st.Volumes) {
		v := st.Volumes[key]
		if !v.External && !haveVol[v.Name] && volumeUsed(st, v.Name) {
			ops = append(ops, Op{Kind: OpCreateVolume, Resource: st.Name + "/volume/" + key, Stack: st.Name, Volume: v, Cause: "missing"})
		}
	}

	byService := map[string][]Container{}
	for _, c := range obs.containers {
		byService[c.Service] = append(byService[c.Service], c)
	}
	for _, name := range st.ServiceNames() {
		svc := st.Services[name]
		id := st.Name + "/" + name
		if svc.Err != nil {
			blocked[id] = svc.Err.Error()
			continue
		}
		imageID, present := images[svc.Spec.Image]
		if !present && svc.PullPolicy != PullNever {
			if _, ok := pulls[svc.Spec.Image]; !ok {
				pulls[svc.Spec.Image] = &Op{Kind: OpPull, Resource: svc.Spec.Image, Image: svc.Spec.Image,
					Stack: st.Name, Service: name, Cause: "not present, wanted by " + id}
			}
		}
		ops = append(ops, planService(st.Name, svc, byService[name], imageID)...)
	}
	for _, name := range sortedKeys(byService) {
		if _, ok := st.Services[name]; !ok {
			for _, c := range byService[name] {
				ops = append(ops, removeOp(st.Name, c, "service removed from git"))
			}
		}
	}
	return ops
}

func volumeUsed(st *Stack, name string) bool {
	for _, svc := range st.Services {
		for _, m := range svc.Spec.Mounts {
			if m.Type == MountVolume && m.Source == name {
				return true
			}
		}
	}
	return false
}

// planService converges the replicas of one service. imageID is the local
// ID of the service's image, "" when it is not present.
func planService(stack string, svc *Service, have []Container, imageID string) []Op {
	var ops []Op
	canonical := map[int][]Container{}
	retired := map[int]Container{}
	for _, c := range have {
		switch {
		case strings.HasSuffix(c.Name, CandidateSuffix):
			ops = append(ops, removeOp(stack, c, "leftover of an interrupted replacement"))
		case c.Retired || strings.HasSuffix(c.Name, RetiredSuffix):
			if _, dup := retired[c.Number]; dup || c.Number < 1 {
				ops = append(ops, removeOp(stack, c, "duplicate retired container"))
				continue
			}
			retired[c.Number] = c
		case c.Number < 1 || c.Name != ContainerName(stack, svc.Name, c.Number):
			ops = append(ops, removeOp(stack, c, fmt.Sprintf("unexpected name %s", c.Name)))
		default:
			canonical[c.Number] = append(canonical[c.Number], c)
		}
	}
	for n := 1; n <= svc.Replicas; n++ {
		ops = append(ops, planReplica(stack, svc, n, canonical[n], retired, imageID)...)
	}
	for _, n := range sortedInts(canonical) {
		if n > svc.Replicas {
			for _, c := range canonical[n] {
				ops = append(ops, removeOp(stack, c, fmt.Sprintf("scaled to %d", svc.Replicas)))
			}
		}
	}
	for _, n := range sortedInts(retired) {
		if n > svc.Replicas {
			ops = append(ops, removeOp(stack, retired[n], fmt.Sprintf("scaled to %d", svc.Replicas)))
		}
	}
	return ops
}

func planReplica(stack string, svc *Service, n int, cs []Container, retired map[int]Container, imageID string) []Op {
	var ops []Op
	res := fmt.Sprintf("%s/%s/%d", stack, svc.Name, n)
	op := func(kind OpKind, c *Container, cause string) Op {
		return Op{Kind: kind, Resource: res, Cause: cause, Stack: stack, Service: svc.Name, Number: n, Container: c, Image: svc.Spec.Image}
	}
	var cur *Container
	// The engine refuses two containers of one name, but ids differ in
	// recreated containers found mid-removal: keep the first, remove others.
	for i := range cs {
		if i == 0 {
			c := cs[i]
			cur = &c
			continue
		}
		c := cs[i]
		ops = append(ops, removeOp(stack, c, "duplicate replica"))
	}
	if r, ok := retired[n]; ok {
		switch {
		case cur != nil && cur.Running():
			ops = append(ops, removeOp(stack, r, "replacement finished"))
		default:
			cause := "interrupted replacement: new container missing"
			if cur != nil {
				cause = "interrupted replacement: new container " + cur.State
			}
			r := r
			ops = append(ops, op(OpRestore, &r, cause))
			restored := r
			restored.Name = ContainerName(stack, svc.Name, n)
			restored.Retired = false
			restored.State = StateRunning
			cur = &restored
		}
	}
	if cur == nil {
		return append(ops, op(OpCreate, nil, "missing"))
	}
	if cur.ConfigHash != svc.Hash {
		cause := "config changed"
		if fields := ChangedFields(cur.Labels[LabelConfigFields], svc.Spec.FieldDigests()); len(fields) > 0 {
			cause += ": " + strings.Join(fields, ", ")
		}
		return append(ops, op(OpReplace, cur, cause))
	}
	if imageID != "" && cur.ImageID != "" && cur.ImageID != imageID {
		return append(ops, op(OpReplace, cur, fmt.Sprintf("image %s updated: %s -> %s", svc.Spec.Image, shortID(cur.ImageID), shortID(imageID))))
	}
	if cur.Running() || cur.State == StatePaused {
		return ops
	}
	if cur.State == StateExited && cur.ExitCode == 0 && svc.OneShot() {
		return ops // a finished job is complete, not drift
	}
	cause := cur.State
	if cur.State == StateExited {
		cause = fmt.Sprintf("exited with code %d", cur.ExitCode)
	}
	return append(ops, op(OpStart, cur, cause))
}

func removeOp(stack string, c Container, cause string) Op {
	res := fmt.Sprintf("%s/%s/%d", stack, c.Service, c.Number)
	if c.Retired || strings.HasSuffix(c.Name, RetiredSuffix) || strings.HasSuffix(c.Name, CandidateSuffix) || c.Number < 1 {
		res = stack + "/" + c.Service + "/" + c.Name
	}
	return Op{Kind: OpRemove, Resource: res, Cause: cause, Stack: stack, Service: c.Service, Number: c.Number, Container: &c}
}

func removeStack(name string, obs *observedStack, source string, pruneVolumes bool) []Op {
	var ops []Op
	if pruneVolumes {
		for _, v := range obs.volumes {
			if v.Source == source {
				ops = append(ops, Op{Kind: OpRemoveVolume, Resource: name + "/volume/" + v.Name, Stack: name,
					Volume: &VolumeSpec{Name: v.Name}, Cause: "stack removed from git, volumes pruned"})
			}
		}
	}
	for _, c := range obs.containers {
		ops = append(ops, removeOp(name, c, "stack removed from git"))
	}
	for _, n := range obs.networks {
		ops = append(ops, Op{Kind: OpRemoveNetwork, Resource: name + "/network/" + n.Name, Stack: name,
			Network: &NetworkSpec{Name: n.Name}, Cause: "stack removed from git"})
	}
	return ops
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func sortedInts[V any](m map[int]V) []int {
	return slices.Sorted(maps.Keys(m))
}

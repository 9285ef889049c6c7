package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moor-dev/moor/printable"
)

// MakePlan compares what a revision wants with what the engine shows and,
// under the constraints, returns the operations that converge the host,
// each expanded into the steps that carry it out. It is pure: no I/O, no
// clock, sorted iteration, d and o never modified, so equal inputs give
// equal plans.
//
// Only resources whose LabelSource is d.Source are considered: other sources'
// stacks and unlabelled containers are never touched (invariant 1). Broken
// stacks, and blocked and held services, keep what runs. Named volumes are
// never removed (invariant 2), unless the source prunes them and their
// whole stack is gone from git.
func MakePlan(d *Desired, o *Observed, c Constraints) *Plan {
	p := &Plan{Source: d.Source, Revision: d.Revision,
		Broken: map[string]string{}, Blocked: map[string]string{}, Held: map[string]string{}, Conflicts: map[string]string{}}
	for name, err := range d.Broken {
		p.Broken[name] = printable.Error(err) // it quotes the repository's files
	}
	owned := ownedBy(o, d, c)
	var removed []string
	for _, name := range slices.Sorted(maps.Keys(owned.stacks)) {
		_, wanted := d.Stacks[name]
		_, broken := d.Broken[name]
		if !wanted && !broken {
			removed = append(removed, name)
		}
	}
	b := &builder{d: d, c: c, plan: p, images: o.Images, registry: o.Registry, buildHashes: o.BuildHashes, files: o.Files, pulls: map[string]*Op{}, owned: owned,
		order: orderStacks(d, c, removed)}
	for _, name := range slices.Sorted(maps.Keys(d.Stacks)) {
		if why, ok := owned.conflicts[name]; ok {
			p.Conflicts[name] = why
			continue
		}
		b.stack(d.Stacks[name], owned.stack(name))
		for _, w := range d.Stacks[name].Warnings {
			p.Warnings = append(p.Warnings, "stack "+name+": "+w)
		}
	}
	for _, name := range removed {
		b.removeStack(name, owned.stacks[name])
	}
	b.holdDependents()
	for _, img := range slices.Sorted(maps.Keys(b.pulls)) {
		b.ops = append(b.ops, *b.pulls[img])
	}
	b.rankOps()
	slices.SortStableFunc(b.ops, compareOps)
	p.Ops, p.Waiting = b.wait(b.ops)
	linkNeeds(p.Ops)
	b.linkWaits()
	b.linkStacks()
	if c.ReportDrift && len(p.Ops) > 0 {
		if c.Explicit {
			p.Notes = append(p.Notes, "the host drifted from the revision it was converged to; this apply repairs it (a controller run only reports it: drift: report)")
		} else {
			p.Drift, p.Ops = p.Ops, nil
		}
	}
	return p
}

// builder accumulates one plan.
type builder struct {
	d      *Desired
	c      Constraints
	plan   *Plan
	images map[string]string
	// registry are the digests the registry names checked tags by
	// (Observed.Registry).
	registry map[string]string
	// buildHashes are the LabelBuildHash of local images, by ID.
	buildHashes map[string]string
	files       map[string]StackFiles
	owned       ownedState
	// firstIDs are the IDs of the first replica of each service of the
	// stack being planned, for the services that share their namespace.
	firstIDs map[string]string
	pulls    map[string]*Op // pulls and builds, by image: the first service that wants it
	ops      []Op
	order    stackOrder // between stacks (x-moor.depends_on)

	// jobs are the jobs of the stack being planned (Stack.Jobs).
	jobs map[string]bool
}

// Ops of one service run in this order: removes of what stands in the way
// first, then restores, creates, replacements and starts, then (for a
// service replaced start-first) the removal of replicas scaled away, which
// keep serving until the rest is done.
const (
	seqFirst = iota
	seqMain
	seqLast
)

// Executor phases: networks, volumes and pulls; stack files; container ops
// (by service); network removals; volume removals.
const (
	phaseResources = iota
	phaseFiles
	phaseContainers
	phaseRemoveNetworks
	phaseRemoveVolumes
	phases
)

// phase is where an op kind runs in the executor.
func phase(k OpKind) int {
	switch {
	case k == OpCreateNetwork || k == OpCreateVolume || k == OpPull || k == OpBuild:
		return phaseResources
	case k == OpSyncFiles:
		return phaseFiles
	case k.ContainerOp():
		return phaseContainers
	case k == OpRemoveNetwork:
		return phaseRemoveNetworks
	}
	return phaseRemoveVolumes
}

func compareOps(a, b Op) int {
	if (a.Kind == OpPull || a.Kind == OpBuild) && a.Kind == b.Kind {
		return cmp.Compare(a.Resource, b.Resource)
	}
	return cmp.Or(
		cmp.Compare(phase(a.Kind), phase(b.Kind)),
		cmp.Compare(phaseKind(a), phaseKind(b)),
		cmp.Compare(a.rank, b.rank),
		cmp.Compare(a.Stack, b.Stack),
		cmp.Compare(a.Service, b.Service),
		cmp.Compare(seqOf(a), seqOf(b)),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Number, b.Number),
		cmp.Compare(a.Resource, b.Resource),
	)
}

// phaseKind orders the ops of phase 0 by kind (networks, volumes, pulls);
// container ops are ordered by service first.
func phaseKind(o Op) OpKind {
	if o.Kind.ContainerOp() {
		return 0
	}
	return o.Kind
}

func seqOf(o Op) int {
	if o.Kind != OpRemove {
		return seqMain
	}
	return o.seq
}

// observedStack is what the engine holds of one stack.
type observedStack struct {
	containers []Container
	networks   []Network
	volumes    []Volume
}

type ownedState struct {
	stacks map[string]*observedStack
	// conflicts are the stacks holding containers this instance and source
	// do not own, by name, with whose they are.
	conflicts map[string]string
	// adopt are the containers docker compose made that this plan takes
	// over, by stack.
	adopt map[string][]Container
	// composeNets and composeVols are the networks and volumes docker
	// compose made, by name: present, though not moor's to remove.
	composeNets, composeVols map[string]bool
}

func (s ownedState) stack(name string) *observedStack {
	if st, ok := s.stacks[name]; ok {
		return st
	}
	return &observedStack{}
}

// owns reports whether a resource with these labels is this instance's, for
// this source: it carries the instance's owner label, or none at all (it
// was made before owners were recorded) when the instance adopts those and
// its image does not carry moor's labels. A planner without an owner
// (d.Owner "") owns the unowned resources of its source.
func owns(d *Desired, c Constraints, source, owner string, imageLabeled bool) bool {
	switch {
	case source != d.Source:
		return false
	case owner != "":
		return owner == d.Owner
	}
	return !imageLabeled && (c.AdoptUnowned || d.Owner == "")
}

// ownedBy groups the observed resources this instance owns for d's source
// by stack. Containers of a stack d wants that it does not own make the
// stack a conflict: it is left alone and reported.
func ownedBy(o *Observed, d *Desired, c Constraints) ownedState {
	s := ownedState{stacks: map[string]*observedStack{}, conflicts: map[string]string{}, adopt: map[string][]Container{},
		composeNets: map[string]bool{}, composeVols: map[string]bool{}}
	get := func(name string) *observedStack {
		if s.stacks[name] == nil {
			s.stacks[name] = &observedStack{}
		}
		return s.stacks[name]
	}
	for _, ct := range o.Containers {
		if ct.Stack == "" {
			continue
		}
		if owns(d, c, ct.Source, ct.Owner, ct.ImageLabeled) {
			st := get(ct.Stack)
			st.containers = append(st.containers, ct)
			continue
		}
		if _, wanted := d.Stacks[ct.Stack]; wanted && s.conflicts[ct.Stack] == "" {
			s.conflicts[ct.Stack] = foreign(ct, d)
		}
	}
	for _, ct := range o.Compose {
		st, wanted := d.Stacks[ct.Project]
		if !wanted {
			continue
		}
		if why := adoptable(ct, st, c); why != "" {
			if s.conflicts[ct.Project] == "" {
				s.conflicts[ct.Project] = why
			}
			continue
		}
		ct.Stack, ct.Service, ct.Source, ct.Owner, ct.Adopted = ct.Project, ct.ComposeService, d.Source, d.Owner, true
		get(ct.Project).containers = append(get(ct.Project).containers, ct)
		if !c.Adopted[ct.ID] {
			s.adopt[ct.Project] = append(s.adopt[ct.Project], ct)
		}
	}
	for _, n := range o.ComposeNetworks {
		s.composeNets[n.Name] = true
	}
	for _, v := range o.ComposeVolumes {
		s.composeVols[v.Name] = true
	}
	for _, n := range o.Networks {
		if n.Stack != "" && owns(d, c, n.Source, n.Owner, false) {
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

// adoptable says why a container docker compose made for the stack st may
// not be taken over, or "": the source adopts, or took it over before, and
// the project runs from the stack's directory, whose relative paths (its
// ./data) are the stack's.
func adoptable(ct Container, st *Stack, c Constraints) string {
	switch {
	case c.Adopted[ct.ID]:
		return ""
	case !c.Adopt:
		return fmt.Sprintf("compose project %s runs %s, which moor did not make: set adopt: true on the source to take it over, or remove it", ct.Project, ct.Name)
	case ct.ImageLabeled:
		return fmt.Sprintf("container %s carries moor's labels from its image, not from moor; it is never touched", ct.Name)
	case st.HostDir != "" && ct.WorkingDir != st.HostDir:
		return fmt.Sprintf("compose project %s runs from %s, but the stack's directory is %s: set the source's stacks_dir so that the two are one (its relative paths, its data, are there), or move the project", ct.Project, ct.WorkingDir, st.HostDir)
	}
	return ""
}

// foreign says whose a container moor must not touch is.
func foreign(ct Container, d *Desired) string {
	switch {
	case ct.Source != d.Source:
		return fmt.Sprintf("container %s belongs to source %q; a stack name can be used by one source only", ct.Name, ct.Source)
	case ct.Owner != "":
		return fmt.Sprintf("container %s belongs to another moor instance (owner %s); it is never touched: stop that instance, or give this one its identity", ct.Name, ct.Owner)
	case ct.ImageLabeled:
		return fmt.Sprintf("container %s carries moor's labels from its image, not from moor; it is never touched", ct.Name)
	}
	return fmt.Sprintf("container %s was made by a moor that did not record owners, and this instance is new: it is never touched", ct.Name)
}

func (b *builder) stack(st *Stack, obs *observedStack) {
	haveNet := map[string]bool{}
	for _, n := range obs.networks {
		haveNet[n.Name] = true
	}
	wantNet := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(st.Networks)) {
		n := st.Networks[key]
		wantNet[n.Name] = true
		if !n.External && !haveNet[n.Name] && !b.owned.composeNets[n.Name] {
			b.ops = append(b.ops, b.createNetworkOp(st.Name, key, n))
		}
	}
	for _, n := range obs.networks {
		if !wantNet[n.Name] {
			b.ops = append(b.ops, removeNetworkOp(st.Name, n.Name, "network removed from git"))
		}
	}
	haveVol := map[string]bool{}
	for _, v := range obs.volumes {
		haveVol[v.Name] = true
	}
	for _, key := range slices.Sorted(maps.Keys(st.Volumes)) {
		v := st.Volumes[key]
		if !v.External && !haveVol[v.Name] && !b.owned.composeVols[v.Name] && volumeUsed(st, v.Name) {
			op := b.createVolumeOp(st.Name, key, v)
			if b.c.RanBefore[st.Name] {
				op.Warning = fmt.Sprintf("stack %s ran on this host before, yet its volume %s is missing: created empty", st.Name, v.Name)
			}
			b.ops = append(b.ops, op)
		}
	}

	if st.Files != nil {
		have, ok := b.files[st.Name]
		if !ok || have.Digest != st.Files.Digest || len(have.Missing) > 0 {
			op := syncFilesOp(st.Name, *st.Files, have, ok)
			if b.c.RanBefore[st.Name] && (!ok || len(have.Missing) > 0) {
				op.Warning = fmt.Sprintf("stack %s ran on this host before, yet its directory lacks %s: made anew", st.Name, missingWhat(have, ok))
			}
			b.ops = append(b.ops, op)
		}
	}

	for _, ct := range b.owned.adopt[st.Name] {
		if svc := st.Services[ct.Service]; svc != nil {
			b.ops = append(b.ops, adoptOp(st.Name, svc, ct))
		}
	}

	byService := map[string][]Container{}
	for _, c := range obs.containers {
		byService[c.Service] = append(byService[c.Service], c)
	}
	b.firstIDs = map[string]string{}
	for name, cs := range byService {
		for _, c := range cs {
			if svc := st.Services[name]; svc != nil && c.Name == svc.ReplicaName(st.Name, 1) {
				b.firstIDs[name] = c.ID
			}
		}
	}
	b.jobs = st.Jobs()
	for _, name := range namespaceOrder(st) {
		svc := st.Services[name]
		key := ServiceKey(st.Name, name)
		if why, held := b.c.Held[key]; held {
			if !b.c.Explicit {
				b.plan.Held[key] = why
				continue
			}
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("%s is retried now; a controller run holds it: %s", key, why))
		}
		imageID, present := built(b.images, b.buildHashes, svc)
		if why := b.blocked(svc, present); why != "" {
			b.plan.Blocked[key] = why
			continue
		}
		if !present && svc.Build != nil {
			if _, ok := b.pulls[svc.Spec.Image]; !ok {
				op := buildOp(svc, buildCause(svc, byService[name], key))
				op.Stack, op.Service = st.Name, name
				b.pulls[svc.Spec.Image] = &op
			}
		} else if !present && svc.PullPolicy != PullNever {
			if pull, ok := b.pulls[svc.Spec.Image]; !ok {
				op := pullOp(svc.Spec.Image, svc.Spec.Platform, "not present, wanted by "+key)
				op.Stack, op.Service = st.Name, name
				b.pulls[svc.Spec.Image] = &op
			} else if other := pull.Steps[0].Platform; other != svc.Spec.Platform {
				// A tag names one image, of one platform.
				b.plan.Blocked[key] = fmt.Sprintf("image %s is pulled for %s for %s, and %s wants it for %s",
					svc.Spec.Image, platformName(other), ServiceKey(pull.Stack, pull.Service), key, platformName(svc.Spec.Platform))
				continue
			}
		} else if to, moved := b.tagMoved(svc, imageID); moved {
			b.pullMoved(st.Name, svc, to)
		}
		before := len(b.ops)
		b.service(st.Name, svc, byService[name], imageID)
		b.holdForJob(st, svc, before)
	}
	b.dependentRestarts(st, byService)
	for _, name := range slices.Sorted(maps.Keys(byService)) {
		if _, ok := st.Services[name]; !ok {
			for _, c := range byService[name] {
				b.ops = append(b.ops, removeOp(st.Name, c, "service removed from git", seqFirst))
			}
		}
	}
}

// dependentRestarts restarts, as compose does, the running replicas of a
// service that depends on another with restart: true when that other's
// containers are replaced, unless the plan already changes them.
func (b *builder) dependentRestarts(st *Stack, byService map[string][]Container) {
	replaced := map[string]bool{}
	touched := map[string]bool{}
	for _, op := range b.ops {
		if op.Stack != st.Name || !op.Kind.ContainerOp() {
			continue
		}
		if op.Kind == OpReplace {
			replaced[op.Service] = true
		}
		touched[op.Resource] = true
	}
	for _, name := range st.ServiceNames() {
		svc := st.Services[name]
		key := ServiceKey(st.Name, name)
		if _, held := b.plan.Held[key]; held || b.plan.Blocked[key] != "" {
			continue
		}
		var deps []string
		for _, dep := range slices.Sorted(maps.Keys(svc.DependsOn)) {
			if svc.DependsOn[dep].Restart && replaced[dep] {
				deps = append(deps, dep)
			}
		}
		if len(deps) == 0 {
			continue
		}
		for _, c := range byService[name] {
			if c.Number < 1 || c.Number > svc.Replicas || c.Name != svc.ReplicaName(st.Name, c.Number) ||
				!c.Running() || touched[fmt.Sprintf("%s/%s/%d", st.Name, name, c.Number)] {
				continue
			}
			cause := fmt.Sprintf("depends on %s with restart: true, which is replaced", strings.Join(deps, ", "))
			b.ops = append(b.ops, restartOp(st.Name, svc, c.Number, c, cause))
		}
	}
}

// namespaceOrder is the stack's services, those that share another's
// namespace after that other: planning them, the plan for their provider
// is known.
func namespaceOrder(st *Stack) []string {
	var out []string
	done := map[string]bool{}
	names := st.ServiceNames()
	for len(out) < len(names) {
		progress := false
		for _, name := range names {
			if done[name] {
				continue
			}
			ready := true
			for _, ref := range st.Services[name].Compose.Refs {
				if st.Services[ref] != nil && !done[ref] {
					ready = false
				}
			}
			if ready {
				out, done[name], progress = append(out, name), true, true
			}
		}
		if !progress { // a cycle compose-go lets through: plan the rest by name
			for _, name := range names {
				if !done[name] {
					out, done[name] = append(out, name), true
				}
			}
		}
	}
	return out
}

var nsVerb = map[OpKind]string{OpCreate: "created", OpReplace: "replaced", OpRestore: "restored", OpStart: "started", OpRestart: "restarted"}

// nsReplaced says why svc must be replaced because a service whose
// namespace it shares is created, replaced, restored or started in this
// plan (its container, and so the namespace, is a new one), or "".
func (b *builder) nsReplaced(stack string, svc *Service) string {
	for _, ref := range svc.Compose.Refs {
		if b.firstIDs[ref] == "" {
			return fmt.Sprintf("%s, whose container is created", svc.shares(ref))
		}
		for _, op := range b.ops {
			if op.Stack == stack && op.Service == ref && op.Number == 1 &&
				nsVerb[op.Kind] != "" {
				return fmt.Sprintf("%s, whose container is %s", svc.shares(ref), nsVerb[op.Kind])
			}
		}
	}
	return ""
}

// shares says what svc takes from the container of the service ref:
// "shares the network namespace of vpn", "uses the volumes of data".
func (s *Service) shares(ref string) string {
	var what []string
	for _, ns := range []struct{ mode, name string }{
		{s.Spec.NetworkMode, "network"}, {s.Spec.Ipc, "IPC"}, {s.Spec.Pid, "PID"},
	} {
		if ns.mode == "service:"+ref {
			what = append(what, "shares the "+ns.name+" namespace of "+ref)
		}
	}
	if slices.Contains(s.Spec.VolumesFrom, "service:"+ref) {
		what = append(what, "uses the volumes of "+ref)
	}
	if len(what) == 0 {
		return "refers to " + ref
	}
	return strings.Join(what, " and ")
}

// missingWhat names what a stack directory lacks, for a warning.
func missingWhat(have StackFiles, had bool) string {
	if !had {
		return "every file moor writes there"
	}
	return strings.Join(have.Missing, ", ")
}

// platformName names a platform in a message.
func platformName(p string) string {
	if p == "" {
		return "the engine's own platform"
	}
	return p
}

// blocked says why svc cannot converge this time, or "".
func (b *builder) blocked(svc *Service, imagePresent bool) string {
	if why, failed := b.c.FailedPulls[svc.Spec.Image]; failed {
		return why
	}
	if !imagePresent && svc.PullPolicy == PullNever && svc.Build == nil {
		return fmt.Sprintf("image %s is not present and pull_policy is never", svc.Spec.Image)
	}
	return ""
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

// service converges the replicas of one service. imageID is the local ID
// of the service's image, "" when it is not present.
func (b *builder) service(stack string, svc *Service, have []Container, imageID string) {
	// A container that holds a published port or a fixed address must be
	// gone before a new replica can start; one that does not keeps serving
	// until the rest is done.
	lateSeq := seqLast
	if !svc.startFirst() {
		lateSeq = seqFirst
	}
	canonical := map[int][]Container{}
	retired := map[int]Container{}
	renamed := map[int][]Container{}
	for _, c := range have {
		switch {
		case strings.HasSuffix(c.Name, CandidateSuffix):
			b.ops = append(b.ops, removeOp(stack, c, "leftover of an interrupted replacement", seqFirst))
		case c.Retired || strings.HasSuffix(c.Name, RetiredSuffix):
			if _, dup := retired[c.Number]; dup || c.Number < 1 {
				b.ops = append(b.ops, removeOp(stack, c, "duplicate retired container", seqFirst))
				continue
			}
			retired[c.Number] = c
		case c.Number >= 1 && c.Number <= svc.Replicas && c.Name != svc.ReplicaName(stack, c.Number):
			renamed[c.Number] = append(renamed[c.Number], c)
		case c.Number < 1 || c.Name != svc.ReplicaName(stack, c.Number):
			b.ops = append(b.ops, removeOp(stack, c, fmt.Sprintf("unexpected name %s", c.Name), lateSeq))
		default:
			canonical[c.Number] = append(canonical[c.Number], c)
		}
	}
	// A replica whose name changed (container_name set, changed or
	// dropped) is replaced by one of the new name, like any change; one
	// that has a container of the right name already is an extra.
	for _, n := range slices.Sorted(maps.Keys(renamed)) {
		cs := renamed[n]
		if len(canonical[n]) == 0 {
			canonical[n], cs = cs[:1], cs[1:]
		}
		for _, c := range cs {
			b.ops = append(b.ops, removeOp(stack, c, fmt.Sprintf("unexpected name %s", c.Name), lateSeq))
		}
	}
	var replace []replacement
	for n := 1; n <= svc.Replicas; n++ {
		if r := b.replica(stack, svc, n, canonical[n], retired, imageID); r != nil {
			replace = append(replace, *r)
		}
	}
	if b.jobs[svc.Name] {
		for _, r := range replace {
			b.ops = append(b.ops, b.runJobOp(stack, svc, r.n, &r.old, r.cause))
		}
	} else {
		b.rollout(stack, svc, replace)
	}
	for _, n := range slices.Sorted(maps.Keys(canonical)) {
		if n > svc.Replicas {
			for _, c := range canonical[n] {
				b.ops = append(b.ops, removeOp(stack, c, fmt.Sprintf("scaled to %d", svc.Replicas), lateSeq))
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(retired)) {
		if n > svc.Replicas {
			b.ops = append(b.ops, removeOp(stack, retired[n], fmt.Sprintf("scaled to %d", svc.Replicas), seqFirst))
		}
	}
}

// replacement is a replica whose container must be replaced.
type replacement struct {
	n     int
	old   Container
	cause string
}

// replica plans replica n of svc, given its canonical containers cs and the
// retired containers of the service. A replica to replace is returned, for
// the service's rollout.
func (b *builder) replica(stack string, svc *Service, n int, cs []Container, retired map[int]Container, imageID string) *replacement {
	var cur *Container
	// The engine refuses two containers of one name, but ids differ in
	// recreated containers found mid-removal: keep the first, remove others.
	for i := range cs {
		if i == 0 {
			cur = &cs[0]
			continue
		}
		b.ops = append(b.ops, removeOp(stack, cs[i], "duplicate replica", seqFirst))
	}
	if r, ok := retired[n]; ok {
		switch {
		case b.jobs[svc.Name]: // an old run of a job: never run again
			b.ops = append(b.ops, removeOp(stack, r, "leftover of an interrupted replacement", seqFirst))
		case cur != nil && cur.Running():
			b.ops = append(b.ops, removeOp(stack, r, "replacement finished", seqFirst))
		default:
			cause := "interrupted replacement: new container missing"
			if cur != nil {
				cause = "interrupted replacement: new container " + cur.State
				// It holds the name the old one takes back.
				b.ops = append(b.ops, removeOp(stack, *cur, cause+", its old one is restored", seqFirst))
			}
			b.ops = append(b.ops, b.restoreOp(stack, svc, n, r, cause))
			restored := r
			restored.Name = svc.ReplicaName(stack, n)
			restored.Retired = false
			restored.State = StateRunning
			cur = &restored
		}
	}
	if cur == nil && b.jobs[svc.Name] {
		b.ops = append(b.ops, b.runJobOp(stack, svc, n, nil, "missing"))
		return nil
	}
	if cur == nil {
		b.ops = append(b.ops, b.createOp(stack, svc, n))
		return nil
	}
	if want := svc.ReplicaName(stack, n); cur.Name != want {
		return &replacement{n: n, old: *cur, cause: fmt.Sprintf("container name changed: %s -> %s", cur.Name, want)}
	}
	if cur.Adopted && cur.ComposeHash != svc.Compose.HashWith(b.firstIDs) {
		return &replacement{n: n, old: *cur, cause: "config changed since docker compose made it"}
	}
	if !cur.Adopted && cur.ConfigHash != svc.Hash {
		cause := "config changed"
		if fields := ChangedFields(cur.Labels[LabelConfigFields], svc.Spec.FieldDigests()); len(fields) > 0 {
			for i, f := range fields {
				if slices.Contains(svc.SecretFields, f) {
					fields[i] += " (secret changed)"
				}
			}
			cause += ": " + strings.Join(fields, ", ")
		}
		return &replacement{n: n, old: *cur, cause: cause}
	}
	if cur.StaleNamespace && cur.Running() {
		return &replacement{n: n, old: *cur, cause: "the container whose network namespace it shares restarted after it: its network is gone"}
	}
	if svc.Compose.Template != "" {
		if cause := b.nsReplaced(stack, svc); cause != "" {
			return &replacement{n: n, old: *cur, cause: cause}
		}
		if want := svc.Compose.HashWith(b.firstIDs); want != "" && cur.ComposeHash != want {
			return &replacement{n: n, old: *cur, cause: svc.changedRefs()}
		}
	}
	if cause := b.imageUpdated(svc, cur); cause != "" {
		return &replacement{n: n, old: *cur, cause: cause}
	}
	if imageID != "" && cur.ImageID != "" && cur.ImageID != imageID {
		return &replacement{n: n, old: *cur, cause: fmt.Sprintf("image %s updated: %s -> %s", svc.Spec.Image, ShortID(cur.ImageID), ShortID(imageID))}
	}
	if cur.State == StateRunning && b.jobs[svc.Name] {
		b.ops = append(b.ops, waitJobOp(stack, svc, n, *cur))
		return nil
	}
	if cur.Running() || cur.State == StatePaused || cur.State == StateRemoving {
		// A container being removed (by hand, behind moor's back) cannot
		// be started: its destroy event brings the run that creates it.
		return nil
	}
	if cur.State == StateExited && cur.ExitCode == 0 && svc.OneShot() {
		return nil // a finished job is complete, not drift
	}
	cause := cur.State
	if cur.State == StateExited {
		cause = fmt.Sprintf("exited with code %d", cur.ExitCode)
	}
	if b.jobs[svc.Name] { // a failed or interrupted run: a new one
		b.ops = append(b.ops, b.runJobOp(stack, svc, n, cur, cause))
		return nil
	}
	b.ops = append(b.ops, startOp(stack, svc, n, *cur, cause))
	return nil
}

// rollout turns the replacements of one service into replace ops, in
// batches, following its update config.
func (b *builder) rollout(stack string, svc *Service, rs []replacement) {
	if len(rs) == 0 {
		return
	}
	u := svc.Update
	ro := Rollout{
		Order:         OrderStopFirst,
		Batches:       (len(rs) + u.batch() - 1) / u.batch(),
		Delay:         u.Delay,
		FailureAction: u.failureAction(),
		MaxFailures:   int(u.MaxFailureRatio*float64(len(rs)) + 1e-9),
		Replicas:      len(rs),
	}
	if svc.startFirst() {
		ro.Order = OrderStartFirst
	}
	// Under rollback, every replaced replica keeps its old container until
	// the whole service succeeded.
	keepOld := ro.FailureAction == FailureRollback && len(rs) > 1
	for i, r := range rs {
		ro.Batch = i/u.batch() + 1
		b.ops = append(b.ops, b.replaceOp(stack, svc, r, ro, keepOld))
	}
}

func (b *builder) removeStack(name string, obs *observedStack) {
	if b.d.PruneVolumes {
		for _, v := range obs.volumes {
			if owns(b.d, b.c, v.Source, v.Owner, false) {
				b.ops = append(b.ops, removeVolumeOp(name, v.Name, "stack removed from git, volumes pruned"))
			}
		}
	}
	for _, c := range obs.containers {
		b.ops = append(b.ops, removeOp(name, c, "stack removed from git", seqFirst))
	}
	for _, n := range obs.networks {
		b.ops = append(b.ops, removeNetworkOp(name, n.Name, "stack removed from git"))
	}
}

// linkNeeds makes every op wait for the ops of the plan it depends on:
// a container's creation for its image's pull and its stack's networks and
// volumes; a network's or volume's removal for the removal of its stack's
// containers.
func linkNeeds(ops []Op) {
	pulls := map[string]string{}       // image -> resource of its pull or build
	resources := map[string][]string{} // stack -> create-network/volume/sync-files resources
	removes := map[string][]string{}   // stack -> container remove resources
	news := map[string][]string{}      // stack -> create/replace resources
	for _, op := range ops {
		switch op.Kind {
		case OpPull, OpBuild:
			pulls[op.Image] = op.Resource
		case OpCreateNetwork, OpCreateVolume, OpSyncFiles:
			resources[op.Stack] = append(resources[op.Stack], op.Resource)
		case OpRemove:
			removes[op.Stack] = appendNew(removes[op.Stack], op.Resource)
		case OpCreate, OpReplace, OpRunJob:
			news[op.Stack] = append(news[op.Stack], op.Resource)
		}
	}
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case OpCreate, OpReplace, OpRunJob:
			if r, ok := pulls[op.Image]; ok {
				op.Needs = append(op.Needs, r)
			}
			op.Needs = append(op.Needs, resources[op.Stack]...)
		case OpRemoveNetwork, OpRemoveVolume:
			op.Needs = append(op.Needs, removes[op.Stack]...)
		case OpSyncFiles:
			// The stack's old containers run the files being replaced: if
			// none of its new ones comes up, the old files come back.
			if len(op.Steps[0].Undo) > 0 {
				op.UndoIfAllFail = news[op.Stack]
			}
		}
	}
}

// linkWaits gives the container ops of every service the depends_on
// conditions on services that change in this plan; an unchanged dependency
// runs as it ran.
func (b *builder) linkWaits() {
	changing := map[string]bool{}
	for _, op := range b.plan.Ops {
		if op.Kind.ContainerOp() {
			changing[ServiceKey(op.Stack, op.Service)] = true
		}
	}
	for i := range b.plan.Ops {
		op := &b.plan.Ops[i]
		if !op.Kind.ContainerOp() || op.Kind == OpRemove {
			continue
		}
		svc := b.d.Stacks[op.Stack].Services[op.Service]
		for _, name := range slices.Sorted(maps.Keys(svc.DependsOn)) {
			dep, depSvc := svc.DependsOn[name], b.d.Stacks[op.Stack].Services[name]
			if !changing[ServiceKey(op.Stack, name)] || depSvc == nil {
				continue
			}
			w := Wait{Service: name, Condition: dep.Condition, Required: dep.Required, Job: b.d.Stacks[op.Stack].Jobs()[name]}
			for n := 1; n <= depSvc.Replicas; n++ {
				w.Containers = append(w.Containers, depSvc.ReplicaName(op.Stack, n))
			}
			op.Waits = append(op.Waits, w)
		}
	}
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// ShortID is the first 12 hex digits of an engine ID, as docker prints it.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// changedRefs says why a container whose compose hash covers the container
// IDs of the services it refers to no longer matches them.
func (s *Service) changedRefs() string {
	what := make([]string, len(s.Compose.Refs))
	for i, ref := range s.Compose.Refs {
		what[i] = s.shares(ref)
	}
	return strings.Join(what, "; ") + ", whose container changed"
}

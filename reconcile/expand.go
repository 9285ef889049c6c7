package reconcile

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// This file expands each op into the steps that carry it out. Every choice
// of how (order, waits, what is kept for a rollback, how each step is
// undone) is made here, by the planner, so that `moor plan --steps` shows
// it and the executor only dispatches.

func pullOp(image, platform, cause string) Op {
	return Op{Kind: OpPull, Resource: image, Image: image, Cause: cause,
		Steps: []Step{{Kind: StepPull, Image: image, Platform: platform}}}
}

func (b *builder) createNetworkOp(stack, key string, n *NetworkSpec) Op {
	labels := b.resourceLabels(stack, LabelComposeNetwork, key)
	return Op{Kind: OpCreateNetwork, Resource: stack + "/network/" + key, Stack: stack, Cause: "missing",
		Steps: []Step{{Kind: StepCreateNetwork, Network: n, Labels: labels}}}
}

func (b *builder) createVolumeOp(stack, key string, v *VolumeSpec) Op {
	labels := b.resourceLabels(stack, LabelComposeVolume, key)
	return Op{Kind: OpCreateVolume, Resource: stack + "/volume/" + key, Stack: stack, Cause: "missing",
		Steps: []Step{{Kind: StepCreateVolume, Volume: v, Labels: labels}}}
}

func removeNetworkOp(stack, name, cause string) Op {
	return Op{Kind: OpRemoveNetwork, Resource: stack + "/network/" + name, Stack: stack, Cause: cause,
		Steps: []Step{{Kind: StepRemoveNetwork, Network: &NetworkSpec{Name: name}}}}
}

func removeVolumeOp(stack, name, cause string) Op {
	return Op{Kind: OpRemoveVolume, Resource: stack + "/volume/" + name, Stack: stack, Cause: cause,
		Steps: []Step{{Kind: StepRemoveVolume, Volume: &VolumeSpec{Name: name}}}}
}

// syncFilesOp writes a revision's tracked files into a stack's directory;
// its undo writes back those of the revision there before (have), when
// there was one.
func syncFilesOp(stack string, want, have StackFiles, had bool) Op {
	cause := "tracked files changed"
	switch {
	case !had:
		cause = "missing"
	case len(have.Missing) > 0:
		cause = "missing on the host: " + strings.Join(have.Missing, ", ")
	}
	step := Step{Kind: StepSyncFiles, Stack: stack, Files: &want}
	if had && have.Revision != "" {
		prev := have
		step.Undo = []Step{{Kind: StepSyncFiles, Stack: stack, Files: &prev}}
	}
	return Op{Kind: OpSyncFiles, Resource: stack + "/files", Stack: stack, Cause: cause, Steps: []Step{step}}
}

func (b *builder) resourceLabels(stack, composeKey, key string) map[string]string {
	labels := map[string]string{
		LabelStack:          stack,
		LabelSource:         b.d.Source,
		LabelComposeProject: stack,
		composeKey:          key,
	}
	if b.d.Owner != "" {
		labels[LabelOwner] = b.d.Owner
	}
	return labels
}

// ContainerLabels are the labels of replica n of svc: moor's ownership and
// state labels plus those compose writes, so that `docker compose ps`,
// `logs` and `exec` see it and `docker compose up` in the stack's directory
// finds it as it would have made it.
func ContainerLabels(d *Desired, st *Stack, svc *Service, n int) map[string]string {
	stack := st.Name
	labels := map[string]string{
		LabelStack:                  stack,
		LabelService:                svc.Name,
		LabelRevision:               d.Revision,
		LabelConfigHash:             svc.Hash,
		LabelConfigFields:           svc.Spec.FieldDigests(),
		LabelSource:                 d.Source,
		LabelComposeProject:         stack,
		LabelComposeService:         svc.Name,
		LabelComposeContainerNumber: fmt.Sprint(n),
		LabelComposeOneoff:          "False",
		LabelComposeVersion:         ComposeVersion,
		LabelComposeDependsOn:       svc.Compose.DependsOn,
	}
	if d.Owner != "" {
		labels[LabelOwner] = d.Owner
	}
	if svc.Compose.Hash != "" {
		labels[LabelComposeConfigHash] = svc.Compose.Hash
	}
	if h := EncodeHooks(svc.Spec.PreStop); h != "" {
		labels[LabelPreStop] = h
	}
	if st.HostDir != "" {
		labels[LabelComposeWorkingDir] = st.HostDir
		labels[LabelComposeConfigFiles] = filepath.Join(st.HostDir, st.File)
	}
	return labels
}

func containerOp(kind OpKind, stack string, svc *Service, n int, cause string) Op {
	return Op{Kind: kind, Resource: fmt.Sprintf("%s/%s/%d", stack, svc.Name, n), Cause: cause,
		Stack: stack, Service: svc.Name, Number: n, Image: svc.Spec.Image}
}

// ready is when a container of svc counts as up. A replacement must also
// keep running for the monitor period, since an old container waits to
// take over if it does not; a created, started or restored replica has
// nothing to fall back to, and waiting would only slow it.
func ready(svc *Service, replacement bool) *Ready {
	r := &Ready{Health: svc.Spec.hasHealthcheck(), Job: svc.OneShot()}
	if replacement && !r.Health {
		r.Monitor = svc.Update.Monitor
		if r.Monitor <= 0 {
			r.Monitor = DefaultMonitor
		}
	}
	return r
}

func (s ContainerSpec) hasHealthcheck() bool {
	h := s.Healthcheck
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// createOp creates, starts and waits for a missing replica.
func (b *builder) createOp(stack string, svc *Service, n int) Op {
	op := containerOp(OpCreate, stack, svc, n, "missing")
	name := svc.ReplicaName(stack, n)
	create := b.createStep(stack, svc, n, name)
	op.Steps = []Step{
		create,
		{Kind: StepStart, Name: name},
		{Kind: StepReady, Name: name, Ready: ready(svc, false)},
	}
	return withHooks(op, svc)
}

// adoptOp takes over a container docker compose made: nothing changes on
// the engine; the instance records it as its own.
func adoptOp(stack string, svc *Service, c Container) Op {
	cause := "compose project, config matches"
	if c.ComposeHash != svc.Compose.Hash {
		cause = "compose project, config differs: replaced"
	}
	op := containerOp(OpAdopt, stack, svc, c.Number, cause)
	op.Container = &c
	op.seq = seqFirst
	return op
}

// createStep creates replica n of svc as name: its spec with the services
// it refers to resolved into the containers that run them (network_mode,
// ipc and pid service:X into container:X's first replica, volumes_from
// likewise, links
// into the linked replicas under compose's aliases), and its labels. compose's hash of a
// service that shares another's namespace covers that one's container ID,
// known when the step runs.
func (b *builder) createStep(stack string, svc *Service, n int, name string) Step {
	st := b.d.Stacks[stack]
	spec := svc.Spec
	for _, mode := range []*string{&spec.NetworkMode, &spec.Ipc, &spec.Pid} {
		if ref, ok := strings.CutPrefix(*mode, "service:"); ok {
			if p := st.Services[ref]; p != nil {
				*mode = "container:" + p.ReplicaName(stack, 1)
			}
		}
	}
	spec.Links = b.links(stack, svc, n)
	spec.ExternalLinks = nil
	if len(spec.VolumesFrom) > 0 {
		spec.VolumesFrom = slices.Clone(spec.VolumesFrom)
		for i, from := range spec.VolumesFrom {
			if ref, ok := strings.CutPrefix(from, "service:"); ok && st.Services[ref] != nil {
				spec.VolumesFrom[i] = st.Services[ref].ReplicaName(stack, 1)
			} else {
				spec.VolumesFrom[i] = strings.TrimPrefix(from, "container:")
			}
		}
	}
	step := Step{Kind: StepCreate, Name: name, Spec: &spec, Labels: ContainerLabels(b.d, st, svc, n), Leftover: b.d.Owner != ""}
	if svc.Compose.Template != "" {
		step.ComposeTemplate = svc.Compose
		step.ComposeRefs = map[string]string{}
		for _, ref := range svc.Compose.Refs {
			if p := st.Services[ref]; p != nil {
				step.ComposeRefs[ref] = p.ReplicaName(stack, 1)
			}
		}
	}
	return step
}

// links resolves compose's links of replica n of svc as compose does: for
// every replica of the linked service, its name under the link's alias,
// SERVICE-N and STACK-SERVICE-N (N the linking replica's); and the external
// links as they are written.
func (b *builder) links(stack string, svc *Service, n int) []string {
	var out []string
	for _, link := range svc.Spec.Links {
		target, alias, ok := strings.Cut(link, ":")
		if !ok {
			alias = target
		}
		linked := b.d.Stacks[stack].Services[target]
		if linked == nil {
			continue
		}
		for m := 1; m <= linked.Replicas; m++ {
			cn := linked.ReplicaName(stack, m)
			out = append(out, cn+":"+alias, fmt.Sprintf("%s:%s-%d", cn, target, n), fmt.Sprintf("%s:%s-%s-%d", cn, stack, target, n))
		}
	}
	for _, link := range svc.Spec.ExternalLinks {
		target, alias, ok := strings.Cut(link, ":")
		if !ok {
			alias = target
		}
		out = append(out, target+":"+alias)
	}
	return out
}

// startOp starts a stopped replica and waits for it.
func startOp(stack string, svc *Service, n int, c Container, cause string) Op {
	op := containerOp(OpStart, stack, svc, n, cause)
	op.Container = &c
	op.Steps = []Step{
		{Kind: StepStart, Container: c.ID, Name: c.Name},
		{Kind: StepReady, Container: c.ID, Name: c.Name, Ready: ready(svc, false)},
	}
	return withHooks(op, svc)
}

// restartOp stops a running replica and starts it again, and waits for it.
func restartOp(stack string, svc *Service, n int, c Container, cause string) Op {
	op := containerOp(OpRestart, stack, svc, n, cause)
	op.Container = &c
	op.Steps = []Step{
		{Kind: StepStop, Container: c.ID, Name: c.Name, Grace: svc.Spec.StopGracePeriod,
			Undo: []Step{{Kind: StepStart, Container: c.ID, Name: c.Name}}},
		{Kind: StepStart, Container: c.ID, Name: c.Name},
		{Kind: StepReady, Container: c.ID, Name: c.Name, Ready: ready(svc, false)},
	}
	return withHooks(op, svc)
}

// restoreOp undoes a replacement a previous run left half done: the
// retired container takes its name back and runs again.
func (b *builder) restoreOp(stack string, svc *Service, n int, old Container, cause string) Op {
	op := containerOp(OpRestore, stack, svc, n, cause)
	op.Container = &old
	name := svc.ReplicaName(stack, n)
	op.Steps = []Step{
		{Kind: StepRename, Container: old.ID, Name: old.Name, To: name},
		{Kind: StepStart, Container: old.ID, Name: name},
		{Kind: StepReady, Container: old.ID, Name: name, Ready: ready(svc, false)},
	}
	return op
}

// removeOp stops and removes one observed container. seq places it among
// its service's ops.
func removeOp(stack string, c Container, cause string, seq int) Op {
	res := fmt.Sprintf("%s/%s/%d", stack, c.Service, c.Number)
	if c.Retired || c.Number < 1 || c.Name != ContainerName(stack, c.Service, c.Number) {
		res = stack + "/" + c.Service + "/" + c.Name
	}
	return withHooks(Op{Kind: OpRemove, Resource: res, Cause: cause, Stack: stack, Service: c.Service, Number: c.Number,
		Container: &c, seq: seq, Steps: []Step{
			{Kind: StepStop, Container: c.ID, Name: c.Name},
			{Kind: StepRemove, Container: c.ID, Name: c.Name},
		}}, nil)
}

// replaceOp swaps the container of one replica for a new one (invariant
// 5). The new container is created, as a candidate that gets no traffic,
// before the old one is stopped; the old one is kept, stopped and renamed
// STACK-SERVICE-N-retired, until the new one is up, and every step done
// is undone if it is not. Start-first starts and waits for the candidate
// while the old one still serves; stop-first (a published host port, a
// fixed address: two containers cannot hold one) stops the old one first.
// Either way the candidate is exposed under the service's name only when
// it is ready or about to start in the old one's place. With keepOld, the
// old container's removal waits for the whole rollout.
func (b *builder) replaceOp(stack string, svc *Service, r replacement, ro Rollout, keepOld bool) Op {
	op := containerOp(OpReplace, stack, svc, r.n, r.cause)
	old := r.old
	op.Container, op.Rollout = &old, &ro
	// The old container keeps its own name until it is retired: a
	// container_name change replaces it under the new one.
	name := svc.ReplicaName(stack, r.n)
	candidate, retired := name+CandidateSuffix, old.Name+RetiredSuffix
	spec := svc.Spec

	removeNew := func(name string) Step { return Step{Kind: StepRemove, Name: name} }
	create := b.createStep(stack, svc, r.n, candidate)
	create.Undo = []Step{removeNew(candidate)}
	expose := Step{Kind: StepExpose, Name: candidate, Spec: create.Spec, Service: svc.Name}
	stop := Step{Kind: StepStop, Container: old.ID, Name: old.Name, Grace: spec.StopGracePeriod,
		Undo: []Step{{Kind: StepStart, Container: old.ID, Name: old.Name}}}
	retire := Step{Kind: StepRename, Container: old.ID, Name: old.Name, To: retired,
		Undo: []Step{{Kind: StepRename, Container: old.ID, Name: retired, To: old.Name}}}
	promote := Step{Kind: StepRename, Name: candidate, To: name, Undo: []Step{removeNew(name)}}
	removeOld := Step{Kind: StepRemove, Container: old.ID, Name: retired, Deferred: keepOld}

	if ro.Order == OrderStartFirst {
		op.Steps = []Step{
			create,
			{Kind: StepStart, Name: candidate},
			{Kind: StepReady, Name: candidate, Ready: ready(svc, true)},
			// Only now is the new container reachable by the service's
			// name: a candidate that does not come up never gets a request.
			expose, stop, retire, promote, removeOld,
		}
		return withHooks(op, svc)
	}
	op.Steps = []Step{
		create, expose, stop, retire, promote,
		{Kind: StepStart, Name: name},
		{Kind: StepReady, Name: name, Ready: ready(svc, true)},
		removeOld,
	}
	return withHooks(op, svc)
}

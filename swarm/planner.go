package swarm

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
)

// MakePlan plans the swarm from observed to desired. It is pure: no I/O,
// sorted iteration, desired never modified. held are the services whose
// update to this revision failed recently and whose retry is not due, by
// "STACK/SERVICE", with why: they are left as they run. The plan's ops,
// in order: networks, configs and secrets are created, then services are
// created and updated, then services, configs, secrets and networks no
// longer wanted are removed. Nothing moor does not own is ever touched: a
// stack that finds one of its names taken by another's object is a
// conflict and left alone.
func MakePlan(d *Desired, o *Observed, held map[string]string) *reconcile.Plan {
	p := &reconcile.Plan{Source: d.Source, Revision: d.Revision, Broken: map[string]string{},
		Held: map[string]string{}, Conflicts: map[string]string{}}
	for name, err := range d.Broken {
		p.Broken[name] = printable.Error(err)
	}
	mine := func(w Ownership) bool { return w.Owner == d.Owner && w.Source == d.Source && w.Owner != "" }
	conflicts(d, o, mine, p)
	services := map[string]ObservedService{}
	for _, s := range o.Services {
		services[s.Name()] = s
	}
	names := func(objs []ObservedObject) map[string]ObservedObject {
		m := map[string]ObservedObject{}
		for _, ob := range objs {
			m[ob.Name] = ob
		}
		return m
	}
	networks, configs, secrets := names(o.Networks), names(o.Configs), names(o.Secrets)
	var creates, updates, removes []reconcile.Op
	// updated are the services this plan updates or removes, by name: the
	// configs and secrets only they use go once they have.
	updated := map[string]bool{}
	for _, sn := range slices.Sorted(maps.Keys(d.Stacks)) {
		if _, bad := p.Conflicts[sn]; bad {
			continue
		}
		st := d.Stacks[sn]
		for _, name := range slices.Sorted(maps.Keys(st.Networks)) {
			if n := st.Networks[name]; !n.External {
				if _, ok := networks[name]; !ok {
					creates = append(creates, op(reconcile.OpCreateSwarmNetwork, sn, "", name, "missing"))
				}
			}
		}
		for _, kind := range []struct {
			k    reconcile.OpKind
			objs map[string]*Object
			have map[string]ObservedObject
		}{{reconcile.OpCreateConfig, st.Configs, configs}, {reconcile.OpCreateSecret, st.Secrets, secrets}} {
			for _, name := range slices.Sorted(maps.Keys(kind.objs)) {
				if _, ok := kind.have[name]; !ok && !kind.objs[name].External {
					creates = append(creates, op(kind.k, sn, "", name, "missing"))
				}
			}
		}
		for _, svcName := range slices.Sorted(maps.Keys(st.Services)) {
			want := st.Services[svcName]
			name := want.Spec.Name
			have, ok := services[name]
			if !ok {
				c := op(reconcile.OpCreateService, sn, svcName, name, "missing")
				c.Image, c.Needs = want.Spec.TaskTemplate.ContainerSpec.Image, needs(st, want)
				creates = append(creates, c)
				continue
			}
			fields := changed(want.Fields, fieldDigests(&have.Spec))
			if len(fields) == 0 {
				continue
			}
			key := reconcile.ServiceKey(sn, svcName)
			if why, ok := held[key]; ok {
				p.Held[key] = why
				continue
			}
			cause := "config changed: " + strings.Join(fields, ", ")
			if have.Spec.Labels[labelHash] == want.Hash {
				cause = "changed by hand: " + strings.Join(fields, ", ")
			}
			u := op(reconcile.OpUpdateService, sn, svcName, name, cause)
			u.Image, u.Needs, u.Strategy = want.Spec.TaskTemplate.ContainerSpec.Image, needs(st, want), strategy(want)
			updates = append(updates, u)
			updated[name] = true
		}
	}
	// Removals: what moor owns, of this source, that no desired stack
	// wants. A broken stack keeps all it has.
	keep := func(w Ownership) bool {
		_, broken := d.Broken[w.Stack]
		return broken || !mine(w)
	}
	gone := func(stack, what string) string {
		if _, ok := d.Stacks[stack]; ok {
			return what + " removed from git"
		}
		return "stack removed from git"
	}
	for _, s := range sortedServices(o.Services) {
		if keep(s.Owner) {
			continue
		}
		svc := s.Spec.Labels[labelService]
		if st, ok := d.Stacks[s.Owner.Stack]; ok && st.wants("service", s.Name()) {
			continue
		}
		if _, bad := p.Conflicts[s.Owner.Stack]; bad {
			continue
		}
		r := op(reconcile.OpRemoveService, s.Owner.Stack, svc, s.Name(), gone(s.Owner.Stack, "service"))
		removes = append(removes, r)
		updated[s.Name()] = true
	}
	// A config or secret is removed once no service that stays uses it;
	// one the plan's updates stop using waits for them.
	users := map[string][]string{}
	for _, s := range o.Services {
		cs := s.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		for _, c := range cs.Configs {
			users["config/"+c.ConfigName] = append(users["config/"+c.ConfigName], s.Name())
		}
		for _, c := range cs.Secrets {
			users["secret/"+c.SecretName] = append(users["secret/"+c.SecretName], s.Name())
		}
	}
	for _, kind := range []struct {
		k     reconcile.OpKind
		label string
		objs  []ObservedObject
		want  func(*Stack) map[string]*Object
	}{
		{reconcile.OpRemoveConfig, "config", o.Configs, func(st *Stack) map[string]*Object { return st.Configs }},
		{reconcile.OpRemoveSecret, "secret", o.Secrets, func(st *Stack) map[string]*Object { return st.Secrets }},
	} {
		for _, ob := range sortedObjects(kind.objs) {
			if keep(ob.Owner) {
				continue
			}
			if _, bad := p.Conflicts[ob.Owner.Stack]; bad {
				continue
			}
			st, ok := d.Stacks[ob.Owner.Stack]
			if ok && kind.want(st)[ob.Name] != nil {
				continue
			}
			var after []string
			stays := false
			for _, u := range users[kind.label+"/"+ob.Name] {
				if !updated[u] {
					stays = true
				}
				after = append(after, u)
			}
			if stays {
				continue // a held or unchanged service still runs with it
			}
			cause := gone(ob.Owner.Stack, kind.label)
			if ok {
				cause = "no longer used"
			}
			r := op(kind.k, ob.Owner.Stack, "", ob.Name, cause)
			r.Needs = after
			removes = append(removes, r)
		}
	}
	for _, ob := range sortedObjects(o.Networks) {
		if keep(ob.Owner) {
			continue
		}
		if _, bad := p.Conflicts[ob.Owner.Stack]; bad {
			continue
		}
		if st, ok := d.Stacks[ob.Owner.Stack]; ok && st.Networks[ob.Name] != nil {
			continue
		}
		removes = append(removes, op(reconcile.OpRemoveSwarmNetwork, ob.Owner.Stack, "", ob.Name, gone(ob.Owner.Stack, "network")))
	}
	if d.PruneVolumes {
		removes = append(removes, pruneVolumes(d, o, mine, removedBy(removes))...)
	}
	p.Ops = append(append(creates, updates...), removes...)
	for _, sn := range slices.Sorted(maps.Keys(d.Stacks)) {
		for _, w := range d.Stacks[sn].Warnings {
			p.Warnings = append(p.Warnings, "stack "+sn+": "+w)
		}
	}
	return p
}

// conflicts marks the desired stacks one of whose names, or whose
// namespace, another owner's object holds.
func conflicts(d *Desired, o *Observed, mine func(Ownership) bool, p *reconcile.Plan) {
	check := func(kind, name string, w Ownership) {
		if mine(w) {
			return
		}
		stack := ""
		for _, sn := range slices.Sorted(maps.Keys(d.Stacks)) {
			st := d.Stacks[sn]
			if w.Stack == sn || st.wants(kind, name) {
				stack = sn
				break
			}
		}
		if stack == "" || p.Conflicts[stack] != "" {
			return
		}
		whose := "not moor's (deployed by docker stack deploy or by hand)"
		switch {
		case w.Owner != "" && w.Owner != d.Owner:
			whose = "another moor instance's (" + w.Owner + ")"
		case w.Source != "" && w.Source != d.Source:
			whose = "source " + w.Source + "'s"
		}
		p.Conflicts[stack] = fmt.Sprintf("%s %s is %s", kind, name, whose)
	}
	for _, s := range sortedServices(o.Services) {
		check("service", s.Name(), s.Owner)
	}
	for _, kind := range []struct {
		name string
		objs []ObservedObject
	}{{"network", o.Networks}, {"config", o.Configs}, {"secret", o.Secrets}} {
		for _, ob := range sortedObjects(kind.objs) {
			if ob.Owner.Stack == "" && !wantedByAny(d, kind.name, ob.Name) {
				continue
			}
			check(kind.name, ob.Name, ob.Owner)
		}
	}
}

func wantedByAny(d *Desired, kind, name string) bool {
	for _, st := range d.Stacks {
		if st.wants(kind, name) {
			return true
		}
	}
	return false
}

// wants reports whether the stack creates an object of that kind and name
// (external ones are not its own).
func (st *Stack) wants(kind, name string) bool {
	switch kind {
	case "service":
		for _, s := range st.Services {
			if s.Spec.Name == name {
				return true
			}
		}
	case "network":
		n := st.Networks[name]
		return n != nil && !n.External
	case "config":
		c := st.Configs[name]
		return c != nil && !c.External
	case "secret":
		c := st.Secrets[name]
		return c != nil && !c.External
	}
	return false
}

func op(k reconcile.OpKind, stack, service, resource, cause string) reconcile.Op {
	return reconcile.Op{Kind: k, Stack: stack, Service: service, Resource: resource, Cause: cause}
}

// needs are the resources of the stack's networks, configs and secrets the
// service uses that are the stack's own: their creation comes first.
func needs(st *Stack, s *Service) []string {
	var out []string
	for _, a := range s.Spec.TaskTemplate.Networks {
		if n := st.Networks[a.Target]; n != nil && !n.External {
			out = append(out, a.Target)
		}
	}
	for _, c := range s.Configs {
		if o := st.Configs[c]; o != nil && !o.External {
			out = append(out, c)
		}
	}
	for _, c := range s.Secrets {
		if o := st.Secrets[c]; o != nil && !o.External {
			out = append(out, c)
		}
	}
	return out
}

// strategy is how Swarm rolls the update out: "start-first, rollback on
// failure", with the parallelism when it is not one at a time.
func strategy(s *Service) string {
	uc := s.Spec.UpdateConfig
	if uc == nil {
		return ""
	}
	parts := []string{string(uc.Order)}
	if uc.Parallelism != 1 {
		n := "all at once"
		if uc.Parallelism > 1 {
			n = fmt.Sprintf("%d at a time", uc.Parallelism)
		}
		parts = append(parts, n)
	}
	return strings.Join(append(parts, string(uc.FailureAction)+" on failure"), ", ")
}

func sortedServices(s []ObservedService) []ObservedService {
	out := slices.Clone(s)
	slices.SortFunc(out, func(a, b ObservedService) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

func sortedObjects(s []ObservedObject) []ObservedObject {
	out := slices.Clone(s)
	slices.SortFunc(out, func(a, b ObservedObject) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// removedBy are the services the removals remove, by stack.
func removedBy(removes []reconcile.Op) map[string][]string {
	out := map[string][]string{}
	for _, r := range removes {
		if r.Kind == reconcile.OpRemoveService {
			out[r.Stack] = append(out[r.Stack], r.Resource)
		}
	}
	return out
}

// pruneVolumes removes, under prune.volumes, this node's named volumes of
// moor's stacks removed from git, after their services.
func pruneVolumes(d *Desired, o *Observed, mine func(Ownership) bool, services map[string][]string) []reconcile.Op {
	var out []reconcile.Op
	for _, v := range sortedObjects(o.Volumes) {
		if !mine(v.Owner) {
			continue
		}
		if _, ok := d.Stacks[v.Owner.Stack]; ok {
			continue
		}
		if _, ok := d.Broken[v.Owner.Stack]; ok {
			continue
		}
		r := op(reconcile.OpRemoveSwarmVolume, v.Owner.Stack, "", v.Name, "stack removed from git, prune.volumes")
		r.Needs = services[v.Owner.Stack]
		out = append(out, r)
	}
	return out
}

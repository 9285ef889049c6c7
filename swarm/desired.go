package swarm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/moby/moby/api/types/swarm"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/reconcile"
)

// Desired is what a revision says the swarm should run: the source's
// stacks as Swarm objects.
type Desired struct {
	Source, Owner, Revision string
	Stacks                  map[string]*Stack
	// Broken are the stacks that did not load or map; their objects are
	// left as they run.
	Broken map[string]error
	// PruneVolumes removes the named volumes of a stack removed from git
	// (prune.volumes); by default they stay.
	PruneVolumes bool
}

// Stack is one stack's Swarm objects, each by its Swarm name.
type Stack struct {
	Name     string
	Services map[string]*Service // by compose service name
	Networks map[string]*Network
	Configs  map[string]*Object
	Secrets  map[string]*Object
	Warnings []string
}

// Service is one compose service as a Swarm service.
type Service struct {
	// Name is the compose service's name; Spec.Name is STACK_NAME.
	Name string
	Spec swarm.ServiceSpec
	// Fields are a digest per compared field (digest.go); Hash digests
	// them all, and is the service's moor.config-hash label.
	Fields map[string]string
	Hash   string
	// Refs are the configs and secrets the service uses, by their Swarm
	// names (external ones included), which apply resolves to IDs.
	Configs, Secrets []string
}

// Network is a network of a stack: an overlay network unless the compose
// file says otherwise.
type Network struct {
	Name       string
	Key        string // the compose key
	Driver     string
	DriverOpts map[string]string
	Attachable bool
	Internal   bool
	Labels     map[string]string
	External   bool
}

// Object is a config or a secret: its content, named by its digest.
type Object struct {
	Name     string
	Key      string // the compose key
	Data     []byte `json:"-"`
	Digest   string
	Labels   map[string]string
	External bool
}

// Map turns the stacks compose.LoadSwarm loaded into Swarm objects. A
// stack with a field that cannot be mapped is broken, with every such
// field named; the others are mapped.
func Map(stacks map[string]*compose.SwarmStack, broken map[string]error, source, owner, revision string) *Desired {
	d := &Desired{Source: source, Owner: owner, Revision: revision, Stacks: map[string]*Stack{}, Broken: map[string]error{}}
	maps.Copy(d.Broken, broken)
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		st, err := mapStack(stacks[name], d)
		if err != nil {
			d.Broken[name] = prefixed(fmt.Sprintf("stack %s (%s): ", name, stacks[name].File), err)
			continue
		}
		d.Stacks[name] = st
	}
	return d
}

// StackNames are the names of the stacks, loaded and broken, sorted.
func (d *Desired) StackNames() []string {
	names := slices.Collect(maps.Keys(d.Stacks))
	for n := range d.Broken {
		if _, ok := d.Stacks[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Service returns the service of "STACK/SERVICE", or nil.
func (d *Desired) Service(stack, name string) *Service {
	if st, ok := d.Stacks[stack]; ok {
		return st.Services[name]
	}
	return nil
}

// ownLabels are moor's labels and docker stack deploy's on every object of
// the stack.
func (d *Desired) ownLabels(stack string) map[string]string {
	return map[string]string{
		LabelNamespace: stack,
		labelStack:     stack,
		labelSource:    d.Source,
		labelOwner:     d.Owner,
	}
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// objectName is the Swarm name of a config or secret: STACK_KEY (or the
// compose name:) and the first twelve hex digits of its content digest.
func objectName(base, digest string) string {
	return base + "-" + digest[len("sha256:"):len("sha256:")+12]
}

// View is d as the controller's records know a revision: its stacks and
// services, each with its config hash and replicas, and its broken
// stacks. Failures are held, and status is kept, by these.
func (d *Desired) View() *reconcile.Desired {
	v := &reconcile.Desired{Source: d.Source, Owner: d.Owner, Revision: d.Revision,
		Stacks: map[string]*reconcile.Stack{}, Broken: d.Broken, PruneVolumes: d.PruneVolumes}
	for name, st := range d.Stacks {
		rs := &reconcile.Stack{Name: name, Services: map[string]*reconcile.Service{}, Warnings: st.Warnings}
		for sn, s := range st.Services {
			replicas := 0
			if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
				replicas = int(*r.Replicas)
			}
			rs.Services[sn] = &reconcile.Service{Name: sn, Replicas: replicas, Hash: s.Hash,
				Spec: reconcile.ContainerSpec{Image: s.Spec.TaskTemplate.ContainerSpec.Image}}
		}
		v.Stacks[name] = rs
	}
	return v
}

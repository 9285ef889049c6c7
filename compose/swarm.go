package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// SwarmStack is one stack loaded for a source whose runtime is swarm:
// compose-go's project after moor's guards (interpolation from the stack's
// .env and the configured variables only, no file outside the repository,
// the loader's budgets), and the content of every config and secret its
// services use. Package swarm maps it onto Swarm's service specs; the
// single-host mapping (reconcile.Service) does not apply.
type SwarmStack struct {
	Name string
	// Dir is the stack's directory inside the snapshot, File its compose
	// file, for messages.
	Dir, File string
	Project   *types.Project
	// Files are the contents of the project's configs and secrets given by
	// file (decrypted when SOPS encrypted them), content or environment,
	// by "configs/KEY" or "secrets/KEY". External ones are not here.
	Files    map[string][]byte
	Warnings []string
}

// swarmFileBytes caps one config or secret: Swarm's own limit is 500 KiB.
const swarmFileBytes = 500 << 10

// LoadSwarm discovers and loads every stack under root for Swarm, as Load
// does for one host: a stack that fails to load goes into broken with its
// error. The error is only for a failed discovery or a cancelled ctx.
func LoadSwarm(ctx context.Context, root string, opts Options) (stacks map[string]*SwarmStack, broken map[string]error, err error) {
	repo := opts.Repo
	if repo == "" {
		repo = root
	}
	// A swarm is a host of a fleet as a single machine is: the identity of
	// the moor that deploys to it selects its stacks.
	dirs, _, err := discoverFor(repo, root, opts.Host)
	if err != nil {
		return nil, nil, err
	}
	stacks, broken = map[string]*SwarmStack{}, map[string]error{}
	for _, sd := range dirs {
		st, err := loadSwarmStack(ctx, sd, opts)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("load stacks in %s: %w", root, ctxErr)
		}
		if err != nil {
			broken[sd.Name] = err
			continue
		}
		stacks[sd.Name] = st
	}
	return stacks, broken, nil
}

func loadSwarmStack(ctx context.Context, sd StackDir, opts Options) (*SwarmStack, error) {
	prefix := fmt.Sprintf("stack %s (%s): ", sd.Name, sd.rel(sd.File))
	if sd.Err != nil {
		return nil, fmt.Errorf("%s%w", prefix, sd.Err)
	}
	if sd.Root == "" {
		sd.Root = sd.Dir
	}
	if sd.Repo == "" {
		sd.Repo = sd.Root
	}
	r, err := openRepo(sd.Repo)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sops, err := newSopsFiles(r, sd.Repo, opts.Secrets)
	if err != nil {
		return nil, err
	}
	g := &guard{sd: sd, repo: r, budget: newBudget(ctx, opts.Limits), projects: map[string]*project{}, sops: sops}
	p, err := g.loadProject(opts)
	if err == nil {
		err = checkProject(p)
	}
	if err != nil {
		err = bounded(newStackError(sd, prefix, err).bound(maxErrorBytes))
		if msg := sops.redact(err.Error()); msg != err.Error() {
			err = &redactedError{msg: msg, err: err}
		}
		return nil, err
	}
	var errs []error
	// Every replica is a task the swarm schedules and moor verifies: the
	// source's max_replicas holds as on one host.
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if s := p.Services[name]; s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas > g.budget.lim.Replicas {
			errs = append(errs, overLimit("service %s: deploy.replicas %d is more than the limit of %d (max_replicas)", name, *s.Deploy.Replicas, g.budget.lim.Replicas))
		}
	}
	st := &SwarmStack{Name: sd.Name, Dir: sd.rel(sd.Dir), File: sd.rel(sd.File), Project: p, Files: map[string][]byte{}, Warnings: g.warnings()}
	st.Warnings = append(st.Warnings, swarmIgnored(p)...)
	read := func(kind, key string, obj types.FileObjectConfig) {
		at := kind + "/" + key
		switch {
		case bool(obj.External):
			return
		case obj.File != "":
			data, err := swarmFile(r, sops, obj.File)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: file %s: %w", kind[:len(kind)-1], key, sd.rel(obj.File), err))
				return
			}
			st.Files[at] = data
		case obj.Environment != "":
			v, ok := p.Environment[obj.Environment]
			if !ok {
				errs = append(errs, fmt.Errorf("%s %s: variable %s is set neither in the stack's .env nor in the configured variables", kind[:len(kind)-1], key, obj.Environment))
				return
			}
			st.Files[at] = []byte(v)
		default:
			st.Files[at] = []byte(obj.Content)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Configs)) {
		read("configs", key, types.FileObjectConfig(p.Configs[key]))
	}
	for _, key := range slices.Sorted(maps.Keys(p.Secrets)) {
		read("secrets", key, types.FileObjectConfig(p.Secrets[key]))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s%w", prefix, sops.redactErr(err))
	}
	for i, w := range st.Warnings {
		st.Warnings[i] = sops.redact(w)
	}
	return st, nil
}

// swarmFile reads a config's or secret's file of the repository, decrypted
// when SOPS encrypted it (checked only, and kept as it is, without keys:
// Secrets.Unkeyed). Decrypted content stays in memory: Swarm keeps it.
func swarmFile(r *repo, sops *sopsFiles, p string) ([]byte, error) {
	_, _, enc, err := sops.file(r, p)
	if err != nil {
		return nil, err
	}
	if enc && !sops.opts.Unkeyed {
		for _, f := range sops.files {
			if f.From == sops.rel(p) {
				return f.Data, nil
			}
		}
		return nil, fmt.Errorf("sops: no key to decrypt it")
	}
	data, err := r.read(p, swarmFileBytes)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("larger than Swarm's limit of 500 KiB")
	}
	if err != nil {
		return nil, describe(err)
	}
	return data, nil
}

// redactErr hides the decrypted values in err's message.
func (s *sopsFiles) redactErr(err error) error {
	if msg := s.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

// UnknownFields returns the YAML names of the set fields of the struct v
// (a compose-go type) that are not in allowed, in their order; embedded
// inline structs are walked and x- extensions are always allowed. It is
// how package swarm keeps its own allow-list (compose/fields.go is the
// single-host one).
func UnknownFields(v any, allowed ...string) []string {
	return unknownFields(reflect.ValueOf(v), set(allowed...))
}

// swarmIgnored are the warnings for what x-moor asks that moor's swarm
// runtime does not do: said, never dropped in silence.
func swarmIgnored(p *types.Project) []string {
	m, _ := p.Extensions[extMoor].(map[string]any)
	var out []string
	if m["depends_on"] != nil {
		out = append(out, extMoor+".depends_on has no effect under moor's swarm runtime: the source's stacks are deployed in any order")
	}
	if m["canary"] != nil {
		out = append(out, extMoor+".canary has no effect under moor's swarm runtime: a change is deployed without waiting for canary hosts")
	}
	return out
}

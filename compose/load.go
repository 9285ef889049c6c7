package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// Options are the operator's settings for loading stacks.
type Options struct {
	// Variables are extra interpolation variables configured by the
	// operator. The stack's own .env file is the base; Variables override it.
	// moor's own process environment is never used.
	Variables map[string]string
	// Profiles are the active compose profiles; with none, only services
	// without profiles run.
	Profiles []string
	// Repo is the root of the repository (the snapshot) that Load's root
	// lies in: nothing outside it is read. Empty: root itself.
	Repo string
	// Limits cap what loading one stack may cost; a zero field takes its
	// default.
	Limits Limits
	// StacksRoot is where the stacks' directories live on the host: the
	// directory given to Load is mirrored there, so the stack in its app/
	// runs in STACKS_ROOT/app. Relative binds point there, and the stack's
	// tracked files are listed (Stack.Files) for the controller to write
	// there. Empty: the stacks run where they are (a working copy checked
	// by moor validate), and no files are listed.
	StacksRoot string
	// Secrets are how SOPS-encrypted files are read. Without keys, an
	// encrypted file refuses its stack (unless Secrets.Unkeyed).
	Secrets Secrets
	// Host, when set, selects the stacks meant for this host in a fleet
	// (fleet.go), whose identity and variables files add to Variables.
	Host *Host `json:",omitempty"`
}

// Load discovers and loads every stack under root. A stack that fails to
// load goes into Desired.Broken with its error, the others into
// Desired.Stacks. The error is only for a failed discovery or a cancelled
// ctx (a deadline included). Source and Revision are left for the caller.
func Load(ctx context.Context, root string, opts Options) (*reconcile.Desired, error) {
	repo := opts.Repo
	if repo == "" {
		repo = root
	}
	dirs, notHere, err := discoverFor(repo, root, opts.Host)
	if err != nil {
		return nil, err
	}
	d := &reconcile.Desired{
		Stacks: map[string]*reconcile.Stack{},
		Broken: map[string]error{},
	}
	for _, sd := range dirs {
		st, err := LoadStack(ctx, sd, opts)
		if ctxErr := ctx.Err(); ctxErr != nil {
			// A cancelled load says nothing about the stack.
			return nil, fmt.Errorf("load stacks in %s: %w", root, ctxErr)
		}
		if err != nil {
			d.Broken[sd.Name] = err
			continue
		}
		d.Stacks[sd.Name] = st
	}
	// Two stacks that claim one host port or container name: neither
	// is touched until one of them changes.
	for name, err := range CheckClaims(d.Stacks) {
		d.Broken[name] = err
		delete(d.Stacks, name)
	}
	for name, err := range needsNotHere(d.Stacks, notHere, opts.Host) {
		d.Broken[name] = err
		delete(d.Stacks, name)
	}
	// A stack that needs one that is not there, or a cycle of them: not
	// started without what it needs (x-moor.depends_on).
	for name, err := range CheckOrder(d.Stacks, d.Broken) {
		d.Broken[name] = err
		delete(d.Stacks, name)
	}
	return d, nil
}

// LoadStack loads and validates one stack. The error names the stack and its
// file, and for a service problem the service and the field at fault. It
// reads nothing outside sd.Repo (see the package documentation).
func LoadStack(ctx context.Context, sd StackDir, opts Options) (*reconcile.Stack, error) {
	if sd.Err != nil {
		return nil, fmt.Errorf("stack %s (%s): %w", sd.Name, sd.rel(sd.File), sd.Err)
	}
	st, sops, err := loadStack(ctx, sd, opts)
	if err != nil {
		err = bounded(newStackError(sd, fmt.Sprintf("stack %s (%s): ", sd.Name, sd.rel(sd.File)), err).bound(maxErrorBytes))
		if msg := sops.redact(err.Error()); msg != err.Error() {
			err = &redactedError{msg: msg, err: err}
		}
		return nil, err
	}
	return st, nil
}

func loadStack(ctx context.Context, sd StackDir, opts Options) (*reconcile.Stack, *sopsFiles, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if sd.Root == "" {
		sd.Root = sd.Dir
	}
	if sd.Repo == "" {
		sd.Repo = sd.Root
	}
	r, err := openRepo(sd.Repo)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	r.hidden = sd.others
	sops, err := newSopsFiles(r, sd.Repo, opts.Secrets)
	if err != nil {
		return nil, nil, err
	}
	g := &guard{sd: sd, repo: r, budget: newBudget(ctx, opts.Limits), projects: map[string]*project{}, sops: sops}
	p, err := g.loadProject(opts)
	if err != nil {
		return nil, g.sops, err
	}
	if err := checkProject(p); err != nil {
		return nil, g.sops, err
	}
	host := newHostDirs(sd, opts.StacksRoot)
	host.repoReal = r.real
	st := &reconcile.Stack{
		Name:     sd.Name,
		Dir:      sd.rel(sd.Dir),
		HostDir:  host.dir(sd.Dir),
		File:     filepath.Base(sd.File),
		Services: map[string]*reconcile.Service{},
		Networks: map[string]*reconcile.NetworkSpec{},
		Volumes:  map[string]*reconcile.VolumeSpec{},
		Warnings: g.warnings(),
	}
	var errs []error
	if st.DependsOn, err = stackNeeds(p); err != nil {
		errs = append(errs, err)
	} else if err := checkSelector(p.Extensions[extMoor]); err != nil {
		errs = append(errs, err)
	}
	if st.Canary, err = stackCanary(p); err != nil {
		errs = append(errs, err)
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n, err := networkSpec(key, p.Networks[key])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Networks[key] = n
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		v, err := volumeSpec(key, p.Volumes[key])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Volumes[key] = v
	}
	m := mapper{sd: sd, project: p, repo: r, budget: g.budget, host: host, files: &stackFiles{}, warnings: &st.Warnings, written: g.written, sops: sops}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		svc := p.Services[name]
		s, err := m.service(&svc)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		st.Services[name] = s
	}
	st.Claims = m.claims(p, sd.Name, st.Services)
	st.Secrets, st.Redact = sops.files, sops.values
	for _, s := range st.Services {
		s.SecretFields = sops.secretFields(s)
	}
	for i, w := range st.Warnings {
		st.Warnings[i] = sops.redact(w)
	}
	errs = append(errs, checkStackClaims(st))
	errs = append(errs, checkPlatforms(st.Services))
	if err := errors.Join(errs...); err != nil {
		return nil, g.sops, err
	}
	if opts.StacksRoot != "" {
		if st.Files, err = m.listFiles(); err != nil {
			return nil, g.sops, err
		}
	}
	return st, g.sops, nil
}

// loadProject runs compose-go on the stack: interpolation from the stack's
// .env and opts.Variables only, schema validation, extends, include,
// profiles, env_file, and pruning of networks and volumes no service uses
// (compose creates only those). Every file compose-go reads goes through
// g first; env_file and label_file are read by g itself.
func (g *guard) loadProject(opts Options) (*types.Project, error) {
	sd := g.sd
	data, err := g.budget.readCompose(g.repo, sd.File)
	var info yamlInfo
	if err == nil {
		info, err = scanYAML(data, g.budget.lim.Depth)
	}
	if err == nil {
		err = info.charge(g.budget)
	}
	if err != nil {
		return nil, fmt.Errorf("compose file %q: %w", sd.rel(sd.File), err)
	}
	g.written = scanWritten(data)
	data, g.obsoleteVersion = dropVersion(data)
	vars, err := g.fleetVariables(opts)
	if err != nil {
		return nil, err
	}
	env, err := g.interpolationEnv(vars)
	if err != nil {
		return nil, err
	}
	env[consts.ComposeProjectName] = sd.Name // as compose-go sets it
	main := newProject(sd.Dir, env)
	g.projects[sd.File] = main
	if info.include {
		if err := g.preflight(sd.File, data, main); err != nil {
			return nil, err
		}
	}
	profiles := opts.Profiles
	if profiles == nil {
		profiles = []string{}
	}
	details := types.ConfigDetails{
		WorkingDir:  sd.Dir,
		ConfigFiles: []types.ConfigFile{{Filename: sd.File, Content: data}},
		Environment: env,
	}
	options := []func(*loader.Options){
		func(o *loader.Options) {
			o.SetProjectName(sd.Name, true)
			o.ResolvePaths = true
			o.SkipValidation = false
			o.SkipConsistencyCheck = false
			o.SkipResolveEnvironment = true // g.resolveFiles does it
			o.MaxNodeVisits = nodeVisits(g.budget.lim)
			o.ResourceLoaders = []loader.ResourceLoader{g}
			o.Interpolate.Substitute = g.budget.substitute
			o.Interpolate.TypeCastMapping = g.budget.casts(o.Interpolate.TypeCastMapping)
		},
		loader.WithProfiles(profiles),
	}
	// The model first, so that label_file can be taken out before
	// compose-go would read it: g.resolveFiles reads it.
	model, err := unpanic(func() (map[string]any, error) {
		return loader.LoadModelWithContext(g.budget.ctx, details, options...)
	})
	if g.budget.stop != nil {
		return nil, g.budget.stop
	}
	if err != nil {
		if nf := nonFinite(err, data); nf != nil {
			return nil, nf
		}
		return nil, locateSyntax(g.written, err)
	}
	labelFiles := takeLabelFiles(model)
	p, err := unpanic(func() (*types.Project, error) {
		return loader.ModelToProject(model, loader.ToOptions(&details, options), details)
	})
	if g.budget.stop != nil {
		return nil, g.budget.stop
	}
	if err != nil {
		return nil, undeclared(g.written, fieldMessage(err))
	}
	p = p.WithoutUnnecessaryResources()
	for name, files := range labelFiles {
		if s, ok := p.Services[name]; ok {
			s.LabelFiles = files
			p.Services[name] = s
		}
	}
	if err := g.resolveFiles(p); err != nil {
		return nil, err
	}
	return p, nil
}

// unpanic runs a call into compose-go, turning a panic into an error: some
// malformed input makes compose-go panic (extends: {file: 0} is an int
// where it asserts a string), and a stack must not stop moor.
func unpanic[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compose-go failed on this input: %v", r)
		}
	}()
	return f()
}

// takeLabelFiles removes the label_file entries of every service from a
// loaded model (its paths resolved) and returns them, by service.
func takeLabelFiles(model map[string]any) map[string][]string {
	out := map[string][]string{}
	services, _ := model["services"].(map[string]any)
	for name, raw := range services {
		svc, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		switch v := svc["label_file"].(type) {
		case string:
			out[name] = []string{v}
		case []any:
			for _, f := range v {
				if s, ok := f.(string); ok {
					out[name] = append(out[name], s)
				}
			}
		}
		delete(svc, "label_file")
	}
	return out
}

// checkProject rejects top-level elements moor does not run.
func checkProject(p *types.Project) error {
	var errs []error
	if len(p.Models) > 0 {
		errs = append(errs, fmt.Errorf("top-level %q is %w", "models", ErrUnsupported))
	}
	return errors.Join(errs...)
}

func networkSpec(key string, n types.NetworkConfig) (*reconcile.NetworkSpec, error) {
	spec := &reconcile.NetworkSpec{Key: key, Name: n.Name, External: bool(n.External)}
	if spec.External {
		return spec, nil
	}
	var errs []error
	reject := func(field string) {
		errs = append(errs, fmt.Errorf("network %s: field %q is %w", key, field, ErrUnsupported))
	}
	if n.EnableIPv4 != nil && !*n.EnableIPv4 {
		reject("enable_ipv4")
	}
	spec.Driver = n.Driver
	spec.DriverOpts = cloneMap(n.DriverOpts)
	spec.Internal = n.Internal
	spec.Attachable = n.Attachable
	spec.EnableIPv6 = n.EnableIPv6 != nil && *n.EnableIPv6
	spec.Labels = cloneMap(n.Labels)
	if err := checkUserLabels(spec.Labels); err != nil {
		errs = append(errs, fmt.Errorf("network %s: %w", key, err))
	}
	if n.Ipam.Driver != "" || len(n.Ipam.Config) > 0 {
		spec.IPAM = &reconcile.IPAM{Driver: n.Ipam.Driver}
		for _, pool := range n.Ipam.Config {
			if pool == nil {
				continue
			}
			if len(pool.AuxiliaryAddresses) > 0 {
				reject("ipam.config.aux_addresses")
			}
			spec.IPAM.Config = append(spec.IPAM.Config, reconcile.IPAMPool{
				Subnet: pool.Subnet, Gateway: pool.Gateway, IPRange: pool.IPRange,
			})
		}
	}
	return spec, errors.Join(errs...)
}

func volumeSpec(key string, v types.VolumeConfig) (*reconcile.VolumeSpec, error) {
	spec := &reconcile.VolumeSpec{Key: key, Name: v.Name, External: bool(v.External)}
	if spec.External {
		return spec, nil
	}
	spec.Driver = v.Driver
	spec.DriverOpts = cloneMap(v.DriverOpts)
	spec.Labels = cloneMap(v.Labels)
	if err := checkUserLabels(spec.Labels); err != nil {
		return nil, fmt.Errorf("volume %s: %w", key, err)
	}
	return spec, nil
}

func cloneMap[M ~map[string]string](m M) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// interpolationEnv is the stack's .env file (if any) overridden by vars.
// Lookups inside .env (${X}) see the operator's variables only, then the
// lines of .env above.
func (g *guard) interpolationEnv(vars map[string]string) (types.Mapping, error) {
	env := types.Mapping{}
	f := filepath.Join(g.sd.Dir, ".env")
	fi, err := g.repo.stat(f)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf(".env %q: %w", g.sd.rel(f), describe(err))
	case !fi.IsDir(): // compose passes over a directory
		data, err := g.budget.readEnv(g.repo, f)
		if err == nil {
			data, _, err = g.sops.env(f, data)
		}
		if err == nil {
			err = g.budget.parseEnv(data, f, "", env, types.Mapping(vars).Resolve)
		}
		if err != nil {
			return nil, fmt.Errorf(".env %q: %w", g.sd.rel(f), err)
		}
	}
	maps.Copy(env, vars)
	return env, nil
}

// resolveFiles merges the env_file and label_file files of every service
// into its environment and labels, as compose-go's
// WithServicesEnvironmentResolved and WithServicesLabelsResolved do, but
// reads each file through the repository: a regular file inside it, within
// the budget. compose-go is told to skip both (it would read any path).
// The env_file and label_file entries are kept, as compose keeps them: they
// are part of the configuration compose hashes.
func (g *guard) resolveFiles(p *types.Project) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if err := g.budget.ctx.Err(); err != nil {
			return err
		}
		s := p.Services[name]
		err := g.environment(&s, p.Environment)
		if err == nil {
			err = g.labels(&s)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", name, err))
			continue
		}
		p.Services[name] = s
	}
	return errors.Join(errs...)
}

// environment is compose-go's resolveEnvironment, reading through guard.
func (g *guard) environment(spec *types.ServiceConfig, projectEnv types.Mapping) error {
	spec.Environment = spec.Environment.Resolve(projectEnv.Resolve)
	environment := spec.Environment.ToMapping()
	lookup := func(k string) (string, bool) {
		// the project's environment first, then the service's own
		if v, ok := projectEnv.Resolve(k); ok {
			return v, true
		}
		if s, ok := spec.Environment[k]; ok && s != nil {
			return *s, true
		}
		return "", false
	}
	for _, f := range spec.EnvFiles {
		data, err := g.budget.readEnv(g.repo, f.Path)
		if errors.Is(err, fs.ErrNotExist) && !bool(f.Required) {
			continue
		}
		if err == nil {
			data, _, err = g.sops.env(f.Path, data)
		}
		if err == nil {
			err = g.budget.parseEnv(data, f.Path, f.Format, environment, lookup)
		}
		if err != nil {
			return fmt.Errorf("env_file %q: %w", g.sd.rel(f.Path), err)
		}
	}
	spec.Environment = environment.ToMappingWithEquals().OverrideBy(spec.Environment)
	return nil
}

// labels is compose-go's resolveLabels, reading through guard.
func (g *guard) labels(spec *types.ServiceConfig) error {
	labels := types.MappingWithEquals{}
	// a label file's ${X} sees the labels of the files before it
	resolve := func(s string) (string, bool) {
		if v, ok := labels[s]; ok && v != nil {
			return *v, true
		}
		return "", false
	}
	for _, f := range spec.LabelFiles {
		data, err := g.budget.readEnv(g.repo, f)
		vars := types.Mapping{}
		if err == nil {
			data, _, err = g.sops.env(f, data)
		}
		if err == nil {
			err = g.budget.parseEnv(data, f, "", vars, resolve)
		}
		if err != nil {
			return fmt.Errorf("label_file %q: %w", g.sd.rel(f), err)
		}
		labels.OverrideBy(vars.ToMappingWithEquals())
	}
	labels = labels.OverrideBy(spec.Labels.ToMappingWithEquals())
	if len(labels) > 0 {
		spec.Labels = types.NewLabelsFromMappingWithEquals(labels)
	}
	return nil
}

package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// guard is the resource loader moor puts before compose-go's own, which it
// never lets run: compose-go asks it for every file an include or an
// extends names, and reads what it returns. guard resolves the name as
// compose-go's loader would (against the directory of the project that
// names it), reads and checks the file (a regular file of the repository,
// within the budget, not nested too deep), and only then hands the path
// back.
//
// compose-go also reads, by itself, the files beside an include: its
// env_file, or the .env of the included project's directory. guard checks
// those for every file that has includes before compose-go sees the file
// (preflight), using compose-go's own parsing and interpolation to find
// them.
//
// Because guard is not compose-go's local loader, compose-go counts it as
// a loader of remote files, passes it on into nested loads, and leaves
// extends.file paths as written; guard reads them in the project
// directory, so a file in another directory that itself extends from a
// file is refused (compose-go would look for that one next to it).
type guard struct {
	sd     StackDir
	repo   *repo
	budget *budget
	// projects are the compose files guard has checked, as compose-go
	// names them, with the project each belongs to.
	projects map[string]*project
	// written is the stack's compose file as written, for messages.
	written written
	// obsoleteVersion: the compose file has a top-level version.
	obsoleteVersion bool
	// sops decrypts the files sops encrypted.
	sops *sopsFiles
}

// project is a compose project: the stack's own, or an included one.
type project struct {
	// dir is the project directory: relative include and extends paths,
	// and an include's relative env_file, resolve in it.
	dir string
	// env is the interpolation environment.
	env types.Mapping
	// includes are the projects the project's files include, by the path
	// strings compose-go asks for them with.
	includes map[string]*project
	// extended are the extends files already checked for the project,
	// with their sizes.
	extended map[string]int64
}

func newProject(dir string, env types.Mapping) *project {
	return &project{dir: filepath.Clean(dir), env: env, includes: map[string]*project{}, extended: map[string]int64{}}
}

func (p *project) same(o *project) bool {
	return p.dir == o.dir && maps.Equal(p.env, o.env)
}

var _ loader.ResourceLoader = (*guard)(nil)

// Accept takes every path: no other loader may read one unchecked.
func (g *guard) Accept(string) bool { return true }

// Dir is where compose-go resolves the relative paths of an extended file:
// its directory, relative to the project directory when the path was.
func (g *guard) Dir(p string) string { return filepath.Dir(p) }

// Load checks the file that an include or an extends in the compose file
// being loaded names, and returns the path compose-go reads it from.
func (g *guard) Load(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	from, _ := ctx.Value(consts.ComposeFileKey{}).(string)
	parent := g.projects[from]
	if parent == nil {
		return "", fmt.Errorf("%q is named in %q, which moor has not checked", p, from)
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(parent.dir, abs)
	}
	abs = filepath.Clean(abs)
	var err error
	if child, ok := parent.includes[p]; ok {
		err = g.include(p, abs, child)
	} else {
		err = g.extends(p, abs, parent)
	}
	if err != nil {
		return "", g.in(from, err)
	}
	return abs, nil
}

// in names file as where err happened, unless it is the stack's compose
// file, which every error of the stack names already.
func (g *guard) in(file string, err error) error {
	if file == g.sd.File {
		return err
	}
	return fmt.Errorf("%s: %w", g.sd.rel(file), err)
}

// include checks the included file abs, named p, and registers its project.
func (g *guard) include(p, abs string, child *project) error {
	data, err := g.budget.readCompose(g.repo, abs)
	if err != nil {
		return fmt.Errorf("include %q: %w", p, err)
	}
	info, err := scanYAML(data, g.budget.lim.Depth)
	if err == nil {
		err = info.charge(g.budget)
	}
	if err != nil {
		return fmt.Errorf("include %q: %w", p, err)
	}
	if prev := g.projects[abs]; prev != nil && !prev.same(child) {
		return fmt.Errorf("include %q: included again with another project directory or environment; moor follows one", p)
	}
	if g.projects[abs] == nil {
		g.projects[abs] = child
	}
	if info.include {
		if err := g.preflight(abs, data, g.projects[abs]); err != nil {
			return g.in(abs, err)
		}
	}
	return nil
}

// extends checks the extended file abs, named p in a file of parent.
//
// compose-go asks for the file again for each service that extends from
// it, and parses and copies from it each time: each time counts its size,
// extendsWeight times, for parsing a file again costs more than the bytes
// it yields.
func (g *guard) extends(p, abs string, parent *project) error {
	if n, ok := parent.extended[abs]; ok {
		if err := g.budget.grow(n*extendsWeight, copiesMore); err != nil {
			return fmt.Errorf("extends.file %q: %w", p, err)
		}
		return nil
	}
	data, err := g.budget.readCompose(g.repo, abs)
	if err == nil {
		err = g.budget.grow(int64(len(data))*extendsWeight, copiesMore)
	}
	if err != nil {
		return fmt.Errorf("extends.file %q: %w", p, err)
	}
	info, err := scanYAML(data, g.budget.lim.Depth)
	if err != nil {
		return fmt.Errorf("extends.file %q: %w", p, err)
	}
	if info.extendsFile && filepath.Dir(abs) != parent.dir {
		return fmt.Errorf("extends.file %q: a service there extends from a file itself, which moor follows only for files in the project directory %s: %w",
			p, g.sd.rel(parent.dir), ErrUnsupported)
	}
	parent.extended[abs] = int64(len(data))
	return nil
}

const copiesMore = "extends copies more than %s of services"

// extendsWeight is what one byte of a file extended from counts, each time
// compose-go parses it again for a service that extends from it.
const extendsWeight = 8

// preflight finds the includes of file (content data, of project proj) as
// compose-go will see them (its own parsing and interpolation, nothing
// else), checks the files compose-go will read for each, and registers the
// projects they include.
func (g *guard) preflight(file string, data []byte, proj *project) error {
	dict, err := unpanic(func() (map[string]any, error) {
		return loader.LoadModelWithContext(g.budget.ctx, types.ConfigDetails{
			WorkingDir:  proj.dir,
			ConfigFiles: []types.ConfigFile{{Filename: file, Content: data}},
			Environment: proj.env.Clone(),
		}, func(o *loader.Options) {
			o.SetProjectName(g.sd.Name, true)
			o.SkipInclude, o.SkipExtends = true, true
			o.SkipValidation, o.SkipNormalization, o.SkipConsistencyCheck, o.SkipDefaultValues = true, true, true, true
			o.ResolvePaths = false
			o.ResourceLoaders = []loader.ResourceLoader{g}
			o.Interpolate.Substitute = g.budget.substitute
			o.Interpolate.TypeCastMapping = g.budget.casts(o.Interpolate.TypeCastMapping)
		})
	})
	if g.budget.stop != nil {
		return g.budget.stop
	}
	if err != nil {
		return err
	}
	var entries []types.IncludeConfig
	if _, err := unpanic(func() (any, error) { return nil, loader.Transform(dict["include"], &entries) }); err != nil {
		return fmt.Errorf("include: %w", err)
	}
	for _, e := range entries {
		if len(e.Path) == 0 {
			// compose-go would read the .env of moor's working directory
			return errors.New("include: an entry without a path")
		}
		for _, p := range e.Path {
			abs := p
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(proj.dir, abs)
			}
			if _, err := g.repo.resolve(filepath.Clean(abs)); errors.Is(err, ErrOutside) {
				return fmt.Errorf("include %q: %w", p, err)
			}
		}
		child, err := g.includeProject(e, proj)
		if err != nil {
			return fmt.Errorf("include %q: %w", e.Path[0], err)
		}
		for _, p := range e.Path {
			if prev, ok := proj.includes[p]; ok && !prev.same(child) {
				return fmt.Errorf("include %q: included twice with different settings; moor follows one", p)
			}
			proj.includes[p] = child
		}
	}
	return nil
}

// includeProject checks the project directory and the env files of the
// include e of parent as compose-go's ApplyInclude computes them (with
// guard first among its loaders, the project directory is always
// absolute), and returns the included project.
func (g *guard) includeProject(e types.IncludeConfig, parent *project) (*project, error) {
	dir := e.ProjectDirectory
	switch {
	case dir == "":
		first := e.Path[0]
		if !filepath.IsAbs(first) {
			first = filepath.Join(parent.dir, first)
		}
		dir = filepath.Dir(first)
	case !filepath.IsAbs(dir):
		dir = filepath.Join(parent.dir, dir)
	}
	if e.ProjectDirectory != "" {
		if _, err := g.repo.resolve(filepath.Clean(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("project_directory %q: %w", e.ProjectDirectory, describe(err))
		}
	}
	type envFile struct{ field, path string }
	var files []envFile
	if len(e.EnvFile) == 0 {
		f := filepath.Join(dir, ".env")
		fi, err := g.repo.stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf(".env %q: %w", g.sd.rel(f), describe(err))
		case !fi.IsDir(): // compose-go passes over a directory
			files = append(files, envFile{".env", f})
		}
	}
	for _, f := range e.EnvFile {
		if f == "/dev/null" {
			continue // compose-go passes over it unread
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(parent.dir, f)
		}
		files = append(files, envFile{"env_file", f})
	}
	fromFiles := map[string]string{}
	for _, f := range files {
		data, err := g.budget.readEnv(g.repo, f.path)
		if err == nil {
			err = g.budget.parseEnv(data, f.path, "", fromFiles, parent.env.Resolve)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", f.field, g.sd.rel(f.path), err)
		}
	}
	return newProject(dir, parent.env.Clone().Merge(fromFiles)), nil
}

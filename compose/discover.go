package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
)

// FileNames are the compose file names a stack directory may hold, in order
// of preference. A directory holding two of them is an error: moor would
// otherwise pick one silently while the user edits the other.
var FileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// StackDir is one stack found by Discover.
type StackDir struct {
	// Name is the stack (compose project) name: the directory name
	// normalized as compose normalizes project names.
	Name string
	// Dir is the stack's directory, File its compose file (both absolute).
	Dir, File string
	// Root is the directory given to Discover (absolute).
	Root string
	// Repo is the repository's root (absolute): nothing outside it is
	// read, and binds of paths inside it carry a Content digest and must
	// exist. Empty: Root.
	Repo string
	// Err, when set, is why the stack cannot load: its directory or its
	// compose file lies outside the repository, or is not a regular file.
	Err error
	// groupVars and hostVars are the variables files of the host's groups
	// and of the host (fleet.go).
	groupVars []string
	hostVars  string
	// others, when set, says why a path of the repository is another
	// host's (fleet.go).
	others func(rel string) error
}

// rel returns p, for messages, relative to the directory given to
// Discover if p is in the repository (web/.env, ../shared/common.env),
// else as it is (/proc/self/environ).
func (sd StackDir) rel(p string) string {
	if sd.Root == "" {
		return p
	}
	repo := sd.Repo
	if repo == "" {
		repo = sd.Root
	}
	r, err := filepath.Rel(sd.Root, p)
	if err != nil || !within(repo, filepath.Clean(p)) {
		return p
	}
	return r
}

// Discover returns the stacks under root, sorted by name, root being the
// repository: nothing outside it is read. If root itself holds a compose
// file it is the only stack; otherwise every immediate, non-hidden
// subdirectory holding one is a stack. A stack directory or compose file
// that resolves outside the repository, or a compose file that is not a
// regular file, gives a StackDir with Err set.
func Discover(root string) ([]StackDir, error) {
	return discover(root, root)
}

// discover is Discover of root inside the repository repoDir.
func discover(repoDir, root string) ([]StackDir, error) {
	stacks, _, err := discoverFor(repoDir, root, nil)
	return stacks, err
}

// discoverFor is discover for host (fleet.go): the stacks of its hosts/
// and groups/ directories too, and only those meant for it; notHere says
// why each stack left out is. A nil host reads no fleet directory and
// leaves no stack out.
func discoverFor(repoDir, root string, host *Host) (stacks []StackDir, notHere map[string]string, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	r, err := openRepo(repoDir)
	if err != nil {
		return nil, nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	defer r.Close()
	fi, err := r.stat(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("discover stacks in %s: not a directory", root)
	}
	d := discovery{repo: r, root: abs}

	file, bad, err := d.composeFile(abs)
	if err != nil {
		return nil, nil, err
	}
	if file != "" {
		sd, err := d.stackDir(abs, file, bad)
		if err != nil {
			return nil, nil, err
		}
		stacks = []StackDir{sd}
	} else if stacks, err = d.children(abs, root); err != nil {
		return nil, nil, err
	} else if host != nil {
		if stacks, err = d.fleet(stacks, host); err != nil {
			return nil, nil, err
		}
	}
	if host == nil {
		return stacks, nil, nil
	}
	stacks, notHere = d.selectFor(stacks, host)
	return stacks, notHere, nil
}

// children returns the stacks in the immediate, non-hidden subdirectories
// of dir (absolute), sorted by name; shown names dir in messages.
func (d discovery) children(abs, shown string) ([]StackDir, error) {
	r := d.repo
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", shown, err)
	}
	var stacks []StackDir
	byName := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(abs, e.Name())
		var file string
		var bad error
		fi, err := r.stat(dir)
		switch {
		case errors.Is(err, ErrOutside):
			// A symlink out of the repository: a stack if it names a
			// directory (whose files are not looked at).
			if target, err := os.Stat(dir); err != nil || !target.IsDir() {
				continue
			}
			file, bad = dir, fmt.Errorf("stack directory %q: %w", e.Name(), ErrOutside)
		case err != nil || !fi.IsDir():
			continue
		default:
			if file, bad, err = d.composeFile(dir); err != nil {
				return nil, err
			}
			if file == "" {
				continue
			}
		}
		sd, err := d.stackDir(dir, file, bad)
		if err != nil {
			return nil, err
		}
		if other, ok := byName[sd.Name]; ok {
			return nil, fmt.Errorf("discover stacks in %s: directories %s and %s both give the stack name %q", shown, other, e.Name(), sd.Name)
		}
		byName[sd.Name] = e.Name()
		stacks = append(stacks, sd)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
}

type discovery struct {
	repo *repo
	root string
}

func (d discovery) stackDir(dir, file string, bad error) (StackDir, error) {
	name := loader.NormalizeProjectName(filepath.Base(dir))
	if name == "" {
		return StackDir{}, fmt.Errorf("stack directory %s: no valid stack name can be derived from it (use lowercase letters, digits, '-' and '_')", dir)
	}
	return StackDir{Name: name, Dir: dir, File: file, Root: d.root, Repo: d.repo.dir, Err: bad}, nil
}

// composeFile returns the compose file of dir, "" if it has none. A compose
// file outside the repository or not a regular file is returned with the
// reason it cannot load (bad); err is for a directory that cannot be read,
// or that holds two compose files.
func (d discovery) composeFile(dir string) (file string, bad, err error) {
	var found []string
	for _, n := range FileNames {
		p := filepath.Join(dir, n)
		fi, err := d.repo.stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.Is(err, ErrOutside):
			bad = err
		case err != nil:
			return "", nil, fmt.Errorf("stat %s: %w", p, err)
		case !fi.Mode().IsRegular():
			bad = ErrNotRegular
		}
		found = append(found, n)
	}
	switch len(found) {
	case 0:
		return "", nil, nil
	case 1:
		file = filepath.Join(dir, found[0])
		if bad != nil {
			rel, _ := filepath.Rel(d.root, file)
			bad = fmt.Errorf("compose file %q: %w", rel, bad)
		}
		return file, bad, nil
	default:
		return "", nil, fmt.Errorf("stack directory %s holds both %s and %s: keep one", dir, found[0], found[1])
	}
}

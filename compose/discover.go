package compose

import (
	"errors"
	"fmt"
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
	// Root is the snapshot directory given to Discover (absolute). Binds of
	// paths inside it carry a Content digest and must exist.
	Root string
}

// rel returns p relative to the snapshot root, for messages.
func (sd StackDir) rel(p string) string {
	if sd.Root == "" {
		return p
	}
	r, err := filepath.Rel(sd.Root, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}

// Discover returns the stacks under root, sorted by name. If root itself
// holds a compose file it is the only stack; otherwise every immediate,
// non-hidden subdirectory holding one is a stack.
func Discover(root string) ([]StackDir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("discover stacks in %s: not a directory", root)
	}

	file, err := composeFile(abs)
	if err != nil {
		return nil, err
	}
	if file != "" {
		sd, err := newStackDir(abs, abs, file)
		if err != nil {
			return nil, err
		}
		return []StackDir{sd}, nil
	}

	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("discover stacks in %s: %w", root, err)
	}
	var stacks []StackDir
	byName := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(abs, e.Name())
		if !isDir(dir) {
			continue
		}
		file, err := composeFile(dir)
		if err != nil {
			return nil, err
		}
		if file == "" {
			continue
		}
		sd, err := newStackDir(abs, dir, file)
		if err != nil {
			return nil, err
		}
		if other, ok := byName[sd.Name]; ok {
			return nil, fmt.Errorf("discover stacks in %s: directories %s and %s both give the stack name %q", root, other, e.Name(), sd.Name)
		}
		byName[sd.Name] = e.Name()
		stacks = append(stacks, sd)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
}

func newStackDir(root, dir, file string) (StackDir, error) {
	name := loader.NormalizeProjectName(filepath.Base(dir))
	if name == "" {
		return StackDir{}, fmt.Errorf("stack directory %s: no valid stack name can be derived from it (use lowercase letters, digits, '-' and '_')", dir)
	}
	return StackDir{Name: name, Dir: dir, File: file, Root: root}, nil
}

// composeFile returns the compose file of dir, "" if it has none.
func composeFile(dir string) (string, error) {
	var found []string
	for _, n := range FileNames {
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", p, err)
		}
		if fi.Mode().IsRegular() {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(dir, found[0]), nil
	default:
		return "", fmt.Errorf("stack directory %s holds both %s and %s: keep one", dir, found[0], found[1])
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

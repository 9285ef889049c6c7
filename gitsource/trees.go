package gitsource

import (
	"errors"
	"path"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Trees are the entries of some directories of a commit's tree, by
// directory ("" is the root, "deploy/hosts" a subdirectory), each entry
// by name as "MODE HASH" (Git's mode and object hash). Two commits whose
// entries of a directory are equal hold the same files below it, so a
// caller tells from them, without reading a file, whether what it reads
// of a revision changed (a fleet host: controller/fleet.go).
type Trees map[string]map[string]string

// Entries are the entries of dir, and whether the snapshot listed it.
func (t Trees) Entries(dir string) (map[string]string, bool) {
	e, ok := t[cleanDir(dir)]
	return e, ok
}

func cleanDir(dir string) string {
	dir = path.Clean("/" + strings.Trim(dir, "/"))
	return strings.TrimPrefix(dir, "/")
}

// listTrees lists the entries of each of dirs in the tree of commit, and
// of each of their ancestors. A directory the commit does not hold is
// left out.
func listTrees(repo *git.Repository, commit *object.Commit, dirs []string) (Trees, error) {
	if len(dirs) == 0 {
		return nil, nil
	}
	root, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{"": true}
	for _, d := range dirs {
		for d = cleanDir(d); d != "" && d != "."; d = path.Dir(d) {
			want[d] = true
		}
	}
	out := Trees{}
	for d := range want {
		t := root
		if d != "" {
			if t, err = root.Tree(d); errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		entries := make(map[string]string, len(t.Entries))
		for _, e := range t.Entries {
			entries[e.Name] = e.Mode.String() + " " + e.Hash.String()
		}
		out[d] = entries
	}
	return out, nil
}

// sortedDirs is dirs cleaned, sorted, each once.
func sortedDirs(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		out = append(out, cleanDir(d))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// omitted is what s.Omit leaves out of a snapshot with trees, sorted.
func (s *Source) omitted(trees Trees) []string {
	if s.Omit == nil {
		return nil
	}
	return sortedDirs(s.Omit(trees))
}

// covers reports whether a snapshot that left out have holds every file
// one that leaves out want would: have is a subset of want.
func covers(want, have []string) bool {
	for _, d := range have {
		if !slices.Contains(want, d) {
			return false
		}
	}
	return true
}

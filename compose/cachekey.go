package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Key returns a digest of everything besides the repository's files that
// Load(root, opts) reads: root and opts (limits with their defaults), the
// working directory (relative paths are made absolute against it), the
// repository's real path (BuildSpec.Root holds it) and $HOME (compose-go
// expands a leading ~ of a path with it; nothing else of moor's
// environment is read). For one set of repository files that reads
// nothing outside itself (Hermetic), two loads with the same key give the
// same result, so a caller may keep the result under the key.
func Key(root string, opts Options) (string, error) {
	repo := opts.Repo
	if repo == "" {
		repo = root
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("load key: %w", err)
	}
	real, err := filepath.EvalSymlinks(repo)
	if err != nil {
		return "", fmt.Errorf("load key: %w", err)
	}
	home, _ := os.UserHomeDir()
	opts.Limits = opts.Limits.withDefaults()
	b, err := json.Marshal(struct {
		Root, WorkDir, RepoReal, Home string
		Options                       Options
	}{root, wd, real, home, opts})
	if err != nil {
		return "", fmt.Errorf("load key: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Hermetic returns nil when loading the stacks of the repository at repo
// cannot read anything outside it, whatever is outside: no symlink in it
// has an absolute target or a ".." in its target. A symlink that may lead
// out makes what Load gives depend on the host (whether its target exists,
// is a directory), which no key covers; the error names the first one
// found.
func Hermetic(repo string) error {
	return filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if path.IsAbs(filepath.ToSlash(target)) || filepath.IsAbs(target) || hasDotDot(filepath.ToSlash(target)) {
			rel, _ := filepath.Rel(repo, p)
			return fmt.Errorf("symlink %s -> %s may lead out of the repository", filepath.ToSlash(rel), target)
		}
		return nil
	})
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

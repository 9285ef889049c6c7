package controller

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ErrStateDirExposed is returned by PrepareStateDir for a state dir that
// other users can enter and that this process cannot make private.
var ErrStateDirExposed = errors.New("state dir is open to other users")

// PrepareStateDir creates the state dir (0700), or makes sure an existing
// one is private to the user moor runs as: its snapshots hold the
// repository's files, .env files and secrets included, which must not be
// readable by every user of the host. A directory that grants group or
// others any access is changed to 0700 when this process's user owns it
// (it returns the mode it had, for the caller to say so); one that another
// user owns, or whose mode cannot be changed, is ErrStateDirExposed, and
// moor does not use it. A symlink is followed: the directory it names is
// the state dir.
func PrepareStateDir(dir string) (was fs.FileMode, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create state dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("state dir: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("state dir %s is not a directory", dir)
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return 0, nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return 0, fmt.Errorf("%w: %s has mode %#o and belongs to uid %d, not to uid %d that moor runs as, so moor does not change it: chmod 700 it, or use a state dir of moor's own user",
			ErrStateDirExposed, dir, mode, st.Uid, os.Geteuid())
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("%w: %s has mode %#o and cannot be made private (%w): chmod 700 it, or use another state dir",
			ErrStateDirExposed, dir, mode, err)
	}
	return mode, nil
}

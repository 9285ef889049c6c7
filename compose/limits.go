package compose

import (
	"errors"
	"fmt"
	"strings"
)

// Limits cap what loading one stack may cost. A stack that goes over one is
// refused with an error naming the limit; the others load as usual. A zero
// field takes its default (DefaultLimits).
//
// They exist because the repository is input: whoever can open a pull
// request can make `moor validate` in CI, and moor itself after a merge,
// parse whatever the repository holds. compose-go's cost grows with the
// square of the nesting depth and with every byte of YAML (about 20 seconds
// and 700 MB for one MiB of services), so the caps sit well below where
// that hurts and well above what a real stack needs.
type Limits struct {
	// ComposeBytes caps the compose YAML of one stack: its compose file and
	// every file it includes or extends, together. Default 512 KiB.
	ComposeBytes int64
	// EnvBytes caps the .env, env_file and label_file files of one stack
	// (those of included projects too), together; a file read twice
	// counts twice, as its values are copied twice. Default 4 MiB.
	EnvBytes int64
	// TextBytes caps the text interpolation, variable expansion and
	// extends produce for one stack: every string of the compose YAML
	// (each time an alias repeats it), every value a ${VAR} or a .env line
	// expands to, and every service an extends copies (each time).
	// Default 16 MiB.
	TextBytes int64
	// Depth caps the nesting of YAML collections, aliases followed.
	// Default 64.
	Depth int
	// Ports caps the ports that the port ranges of one stack's ports and
	// expose expand to (compose-go makes one entry of each), counted each
	// time compose-go parses them. Default 65536.
	Ports int
	// Replicas caps the replicas (deploy.replicas or scale) of one
	// service. Default 1000; the config file's max_replicas sets it.
	Replicas int
	// HashBytes caps the bytes read to hash the content of the
	// repository files and directories that one stack binds (binds,
	// configs, secrets). Default 256 MiB.
	HashBytes int64
	// HashEntries caps the files, directories and symlinks hashed for one
	// stack. Default 100000.
	HashEntries int
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{
	ComposeBytes: 512 << 10,
	EnvBytes:     4 << 20,
	TextBytes:    16 << 20,
	Depth:        64,
	Ports:        65536,
	Replicas:     1000,
	HashBytes:    256 << 20,
	HashEntries:  100_000,
}

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.ComposeBytes > 0 {
		d.ComposeBytes = l.ComposeBytes
	}
	if l.EnvBytes > 0 {
		d.EnvBytes = l.EnvBytes
	}
	if l.TextBytes > 0 {
		d.TextBytes = l.TextBytes
	}
	if l.Depth > 0 {
		d.Depth = l.Depth
	}
	if l.Ports > 0 {
		d.Ports = l.Ports
	}
	if l.Replicas > 0 {
		d.Replicas = l.Replicas
	}
	if l.HashBytes > 0 {
		d.HashBytes = l.HashBytes
	}
	if l.HashEntries > 0 {
		d.HashEntries = l.HashEntries
	}
	return d
}

var (
	// ErrOutside marks a path that leaves the repository, lexically or
	// through a symlink.
	ErrOutside = errors.New("outside the repository")
	// ErrNotRegular marks a file moor must read that is not a regular
	// file: a directory, a device, a fifo or a socket.
	ErrNotRegular = errors.New("not a regular file")
	// ErrLimit marks a stack that goes over one of its Limits.
	ErrLimit = errors.New("over a limit")
)

// limitError is an ErrLimit that says which limit.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Is(target error) bool {
	return target == ErrLimit
}

func overLimit(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf(format, args...)}
}

// size renders a byte count the way the limits are written.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// maxErrorBytes bounds the text of a stack's error: compose-go joins one
// error per failing value, and hostile input can have a million of them.
const maxErrorBytes = 4096

// boundedError is an error whose text is cut at maxErrorBytes.
type boundedError struct {
	err  error
	text string
}

func (e *boundedError) Error() string { return e.text }
func (e *boundedError) Unwrap() error { return e.err }

// bounded returns err, its text cut at maxErrorBytes if longer.
func bounded(err error) error {
	text := err.Error()
	if len(text) <= maxErrorBytes {
		return err
	}
	cut := strings.ToValidUTF8(text[:maxErrorBytes], "")
	return &boundedError{err: err, text: fmt.Sprintf("%s… (%d more bytes)", cut, len(text)-len(cut))}
}

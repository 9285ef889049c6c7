package compose

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"regexp"
	"strconv"
	"sync"

	"github.com/compose-spec/compose-go/v2/dotenv"
	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/tree"
)

// budget is what loading one stack may still spend (see Limits), and the
// context it must honour.
type budget struct {
	ctx context.Context
	lim Limits

	compose, env, text int64
	ports              int
	hashBytes          int64
	hashEntries        int

	// stop is why substitution stopped: the text limit, or ctx. compose-go
	// does not stop on a Substitute error (it joins one per value, which
	// would make the error as large as the input), so substitution goes
	// on returning its input unchanged and the load reports stop instead
	// of what compose-go makes of the rest.
	stop error
	// unset are the variables used plainly and not set (unset.go).
	unset map[string]bool
}

func newBudget(ctx context.Context, lim Limits) *budget {
	return &budget{ctx: ctx, lim: lim.withDefaults()}
}

// readCompose reads a compose file (the stack's, an included or an
// extended one) within ComposeBytes.
func (b *budget) readCompose(r *repo, p string) ([]byte, error) {
	data, err := r.read(p, b.lim.ComposeBytes-b.compose)
	if errors.Is(err, errTooLarge) {
		return nil, overLimit("too large: the compose files of a stack may hold %s together", size(b.lim.ComposeBytes))
	}
	if err != nil {
		return nil, describe(err)
	}
	b.compose += int64(len(data))
	return data, nil
}

// readEnv reads a .env, env_file or label_file file within EnvBytes.
func (b *budget) readEnv(r *repo, p string) ([]byte, error) {
	data, err := r.read(p, b.lim.EnvBytes-b.env)
	if errors.Is(err, errTooLarge) {
		return nil, overLimit("too large: the .env, env_file and label_file files of a stack may hold %s together", size(b.lim.EnvBytes))
	}
	if err != nil {
		return nil, describe(err)
	}
	b.env += int64(len(data))
	return data, nil
}

// spend counts n bytes of text and reports whether they fit.
func (b *budget) spend(n int) bool {
	b.text += int64(n)
	if b.text > b.lim.TextBytes {
		if b.stop == nil {
			b.stop = overLimit("variables expand to more than %s", size(b.lim.TextBytes))
		}
		return false
	}
	return true
}

// substitute is compose-go's template.Substitute, counted: compose-go calls
// it on every string of a compose file, each time an alias repeats it.
func (b *budget) substitute(tmpl string, m template.Mapping) (string, error) {
	if b.stop != nil {
		return tmpl, nil
	}
	if err := b.ctx.Err(); err != nil {
		b.stop = err
		return tmpl, nil
	}
	if !b.spend(len(tmpl)) {
		return tmpl, b.stop // compose-go stops after this walk; the rest pass through
	}
	out, err := b.substituteNoting(tmpl, b.lookup(m))
	if err == nil && b.stop != nil {
		err = b.stop
	}
	return out, err
}

// lookup counts what m finds. Once the text is over its limit every
// variable is empty (and found, so that no fallback is tried).
func (b *budget) lookup(m func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if b.stop != nil {
			return "", true
		}
		v, ok := m(k)
		if ok && !b.spend(len(v)) {
			return "", true
		}
		return v, ok
	}
}

// parseEnv parses data, the content of the file name, into vars as
// compose-go does (dotenv, in the given format), every expansion counted:
// ${X} is looked up in lookup (when set), then in what vars already holds.
func (b *budget) parseEnv(data []byte, name, format string, vars map[string]string, lookup func(string) (string, bool)) error {
	counted := b.lookup(func(k string) (string, bool) {
		if lookup != nil {
			if v, ok := lookup(k); ok {
				return v, true
			}
		}
		v, ok := vars[k]
		return v, ok
	})
	_, err := unpanic(func() (any, error) {
		return nil, dotenv.ParseWithFormat(bytes.NewReader(data), name, vars, counted, format)
	})
	if err != nil {
		return err
	}
	return b.stop
}

// grow counts n bytes of text that compose-go will make of a file: over
// the limit, it says so with format (one %s, the limit).
func (b *budget) grow(n int64, format string) error {
	if b.text = add(b.text, n); b.text > b.lim.TextBytes {
		return overLimit(format, size(b.lim.TextBytes))
	}
	return nil
}

// casts returns compose-go's type casts with one added for the short
// syntax of ports and expose, which counts the ports their ranges expand
// to before compose-go expands them ("1-65535:1-65535" becomes 65535
// entries, at some 100 µs each).
func (b *budget) casts(compose map[tree.Path]interp.Cast) map[tree.Path]interp.Cast {
	casts := maps.Clone(compose)
	if casts == nil {
		casts = map[tree.Path]interp.Cast{}
	}
	for _, p := range uncast {
		delete(casts, p)
	}
	for _, kind := range []string{"services", "jobs"} {
		for _, field := range []string{"ports", "expose"} {
			casts[tree.NewPath(kind, tree.PathMatchAll, field, tree.PathMatchList)] = b.countPorts
		}
	}
	return casts
}

var portRange = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\d+)-(\d+)`) })

// countPorts counts the ports the entry s may expand to (its widest
// range), and leaves it as it is. Over the limit it returns an error,
// which makes compose-go drop the entry unexpanded, and stops the load.
func (b *budget) countPorts(s string) (any, error) {
	n := 1
	for _, m := range portRange().FindAllStringSubmatch(s, -1) {
		lo, err1 := strconv.Atoi(m[1])
		hi, err2 := strconv.Atoi(m[2])
		if err1 == nil && err2 == nil && hi >= lo {
			n = max(n, hi-lo+1)
		}
	}
	if b.stop != nil {
		return "1", nil // compose-go stops after this walk; expand nothing
	}
	if b.ports += n; b.ports > b.lim.Ports {
		b.stop = overLimit("port ranges expand to more than %d ports", b.lim.Ports)
		return nil, b.stop // drops the entry, and stops compose-go after this walk
	}
	return s, nil
}

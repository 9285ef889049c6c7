package compose

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// compose-go's consistency check stops at the first reference to
// something the project does not declare, and names it in its own words
// ("service \"api\" refers to undefined volume data: invalid compose
// project").
var (
	undefinedRef = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^service "([^"]+)" refers to undefined (network|volume|config|secret) (\S+): invalid compose project$`)
	})
	undefinedDep = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^service "([^"]+)" depends on undefined service "([^"]+)": invalid compose project$`)
	})
)

// undeclared rewrites compose-go's message for a reference to an
// undeclared volume, network, config, secret or service to name the
// service and the entry as written, and to say what to declare. Any other
// error is returned as it is.
func undeclared(w written, err error) error {
	text := err.Error()
	if m := undefinedDep().FindStringSubmatch(text); m != nil {
		return explained(err, "service %s: depends_on or links %q: the stack has no service %q, or its profile is not active", m[1], m[2], m[2])
	}
	m := undefinedRef().FindStringSubmatch(text)
	if m == nil {
		return err
	}
	svc, kind, name := m[1], m[2], m[3]
	where := kind + "s"
	if i, entry, ok := w.reference(svc, where, name); ok {
		where = fmt.Sprintf("%s[%d] %q", where, i, entry)
	}
	what := map[string]string{
		"volume":  fmt.Sprintf("declare it under the top-level volumes (volumes: {%s: {}}), or write a path (./%s) to bind a directory of the stack", name, name),
		"network": fmt.Sprintf("declare it under the top-level networks (networks: {%s: {}})", name),
		"config":  fmt.Sprintf("declare it under the top-level configs, with the file of the repository it holds (configs: {%s: {file: ./%s}})", name, name),
		"secret":  fmt.Sprintf("declare it under the top-level secrets, with the file that holds it (secrets: {%s: {file: ./%s}})", name, name),
	}[kind]
	return explained(err, "service %s: %s: %s %q is not declared: %s", svc, where, kind, name, what)
}

// explainedError is compose-go's error err told in moor's words: the
// text is moor's, errors.Is and As still reach err.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

func explained(err error, format string, args ...any) error {
	return &explainedError{msg: fmt.Sprintf(format, args...), err: err}
}

// reference finds the entry of a service's list that refers to name: a
// volume "data:/d", a config "c" or {source: c, ...}.
func (w written) reference(service, list, name string) (int, string, bool) {
	for i, e := range w[service][list] {
		if e == name || strings.HasPrefix(e, name+":") || strings.Contains(e, "source: "+name+",") || strings.Contains(e, "source: "+name+"}") {
			return i, e, true
		}
	}
	return 0, "", false
}

package compose

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/compose-spec/compose-go/v2/template"
)

// plainVariable matches a use of a variable without a default, an
// alternative or a required mark: $NAME or ${NAME}. Only those become
// empty silently when the variable is unset.
var plainVariable = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{?([_a-zA-Z][_a-zA-Z0-9]*)\}?$`) })

// substituteNoting is compose-go's template.Substitute without its global
// log: an unset variable used plainly is noted in b.unset, for the stack's
// warnings, instead of compose-go's "The X variable is not set" through
// logrus, which names no stack.
func (b *budget) substituteNoting(tmpl string, m template.Mapping) (string, error) {
	replace := func(sub string, m template.Mapping, cfg *template.Config) (string, error) {
		value, applied, err := template.DefaultReplacementAppliedFunc(sub, m, cfg)
		if err == nil && !applied {
			if v := plainVariable().FindStringSubmatch(sub); v != nil {
				if _, ok := m(v[1]); !ok {
					if b.unset == nil {
						b.unset = map[string]bool{}
					}
					b.unset[v[1]] = true
				}
			}
		}
		return value, err
	}
	return template.SubstituteWithOptions(tmpl, m, template.WithoutLogging, template.WithReplacementFunction(replace))
}

// unsetWarnings are the stack's warnings for the variables it uses unset.
func (b *budget) unsetWarnings() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(b.unset)) {
		out = append(out, fmt.Sprintf("variable %s is not set: it is empty where the compose file uses it (set it in the stack's .env or in moor's variables, or write ${%s:-} to mean empty)", k, k))
	}
	return out
}

// warnings are what loading the stack noticed about its compose file.
func (g *guard) warnings() []string {
	var out []string
	if g.obsoleteVersion {
		out = append(out, versionWarning)
	}
	return append(out, g.budget.unsetWarnings()...)
}

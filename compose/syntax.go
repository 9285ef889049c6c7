package compose

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/types"
)

// syntaxHints say how to write a short-syntax entry compose-go cannot
// parse, by its list.
var syntaxHints = map[string]string{
	"ports":   `write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. "8080:80"`,
	"volumes": `write SOURCE:TARGET[:ro], e.g. "./data:/var/lib/data"`,
}

// locateSyntax names the entries as written that make compose-go refuse a
// stack: its message for a short-syntax port or volume it cannot parse
// ("invalid containerPort: 1080=1080") names neither the service nor the
// entry. When no entry of the file explains err, err is returned as it is.
func locateSyntax(w written, err error) error {
	var errs []error
	for _, svc := range slices.Sorted(maps.Keys(w)) {
		for _, list := range []string{"ports", "volumes"} {
			for i, text := range w[svc][list] {
				if strings.Contains(text, "$") || strings.HasPrefix(text, "{") {
					continue // interpolated, or the long syntax: the schema checks it
				}
				var perr error
				if list == "ports" {
					_, perr = types.ParsePortConfig(text)
				} else {
					_, perr = format.ParseVolume(text)
				}
				if perr != nil && strings.Contains(err.Error(), perr.Error()) {
					errs = append(errs, fmt.Errorf("service %s: %s[%d] %q: %w: %s", svc, list, i, text, perr, syntaxHints[list]))
				}
			}
		}
	}
	if len(errs) == 0 {
		return undeclared(w, fieldMessage(unknownField(err)))
	}
	return errors.Join(errs...)
}

// schemaUnknown is compose-go's schema message for a field it does not know.
var schemaUnknown = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^validating [^:]*: services\.([^ .]+)((?:\.[^ ]+)?) additional properties '([^']+)' not allowed$`)
})

// unknownField rewrites compose-go's message for a field that is not in
// the compose specification (a typo) to name the service and the field
// as moor's messages do.
func unknownField(err error) error {
	m := schemaUnknown().FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	field := strings.TrimPrefix(m[2]+"."+m[3], ".")
	if h := hintFor(field); h != "" {
		return fmt.Errorf("service %s: field %q is not a compose field: %s (%w)", m[1], field, h, err)
	}
	return fmt.Errorf("service %s: field %q is not a compose field: check its spelling and indentation (%w)", m[1], field, err)
}

// compose-go's messages about one field of a service, in its three forms:
// the schema's, the interpolation's type casts, and the decoding's.
var (
	schemaField = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^validating [^:]*: services\.([^ .]+)\.(\S+) (must .*|does not .*|is .*)$`)
	})
	castField = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^error while interpolating services\.([^ .]+)\.(\S+): failed to cast to expected type: (?:strconv\.\w+: )?(.*)$`)
	})
	decodeField = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?s)^decoding failed due to the following error\(s\):\s*'services\[([^\]]+)\]\.(\S+)' (?:time: )?([^\n]*)$`)
	})
)

// fieldMessage rewrites compose-go's message about one field of a service
// to name the service and the field as moor's messages do.
func fieldMessage(err error) error {
	text := err.Error()
	for _, re := range []*regexp.Regexp{schemaField(), castField(), decodeField()} {
		if m := re.FindStringSubmatch(text); m != nil {
			return explained(err, "service %s: field %q: %s", m[1], m[2], m[3])
		}
	}
	return err
}

package compose

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// hookFields are the fields of a post_start or pre_stop hook: all of
// compose's, run as docker compose v2 runs them (an exec in the
// container).
var hookFields = set("command", "user", "privileged", "working_dir", "environment")

// hooks maps the post_start or pre_stop hooks of a service (field names
// which). Each needs a command: an exec runs no shell and has nothing to
// run without one.
func hooks(field string, in []types.ServiceHook) ([]reconcile.Hook, error) {
	var out []reconcile.Hook
	var errs []error
	for i, h := range in {
		at := fmt.Sprintf("%s[%d]", field, i)
		if err := unknownHookFields(at, h); err != nil {
			errs = append(errs, err)
		}
		if len(h.Command) == 0 {
			errs = append(errs, fmt.Errorf("%s.command is empty: a hook runs a command in the container", at))
		}
		out = append(out, reconcile.Hook{
			Command:    cloneSlice(h.Command),
			User:       h.User,
			Privileged: h.Privileged,
			WorkingDir: h.WorkingDir,
			Env:        hookEnv(h.Environment),
		})
	}
	return out, errors.Join(errs...)
}

// hookEnv renders a hook's environment as compose's ToMobyEnv does for the
// exec: KEY=VALUE, and KEY alone for a variable without a value; sorted.
func hookEnv(env types.MappingWithEquals) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func unknownHookFields(at string, h types.ServiceHook) error {
	var errs []error
	for _, name := range unknownFields(reflect.ValueOf(h), hookFields) {
		errs = append(errs, unsupportedField(at+"."+name))
	}
	return errors.Join(errs...)
}

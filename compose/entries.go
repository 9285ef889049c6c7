package compose

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkEntries rejects the fields moor does not map in the entries of a
// service's ports, volumes, configs and secrets, each entry named by its
// index and as written.
func checkEntries(s *types.ServiceConfig, w written) error {
	var errs []error
	reject := func(entry, list, prefix string, v reflect.Value, allowed map[string]bool) {
		for _, name := range unknownFields(v, allowed) {
			errs = append(errs, fmt.Errorf("service %s: %s: %w", s.Name, entry, unsupportedEntryField(list, prefix+name)))
		}
	}
	for i, p := range s.Ports {
		reject(w.port(s, i), "ports", "", reflect.ValueOf(p), portFields)
	}
	for i, v := range s.Volumes {
		e := w.entry(s.Name, "volumes", i, len(s.Volumes), volumeText(v))
		reject(e, "volumes", "", reflect.ValueOf(v), volumeFields)
		if v.Bind != nil {
			reject(e, "volumes", "bind.", reflect.ValueOf(*v.Bind), volumeBindFields)
		}
		if v.Volume != nil {
			reject(e, "volumes", "volume.", reflect.ValueOf(*v.Volume), volumeVolFields)
		}
		if v.Tmpfs != nil {
			reject(e, "volumes", "tmpfs.", reflect.ValueOf(*v.Tmpfs), volumeTmpfsFields)
		}
	}
	for i, c := range s.Configs {
		reject(w.entry(s.Name, "configs", i, len(s.Configs), c.Source), "configs", "", reflect.ValueOf(c), fileRefFields)
	}
	for i, c := range s.Secrets {
		reject(w.entry(s.Name, "secrets", i, len(s.Secrets), c.Source), "secrets", "", reflect.ValueOf(c), fileRefFields)
	}
	return errors.Join(errs...)
}

// unsupportedEntryField is unsupportedField for field of an entry of list.
func unsupportedEntryField(list, field string) error {
	if h := hintFor(list + "." + field); h != "" {
		return fmt.Errorf("field %q is %w: %s", field, ErrUnsupported, h)
	}
	return fmt.Errorf("field %q is %w", field, ErrUnsupported)
}

// volumeText renders a loaded volume entry in the short syntax.
func volumeText(v types.ServiceVolumeConfig) string {
	s := v.Target
	if v.Source != "" {
		s = v.Source + ":" + s
	}
	if v.ReadOnly {
		s += ":ro"
	}
	return s
}

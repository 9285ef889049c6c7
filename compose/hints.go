package compose

import (
	"fmt"
	"reflect"
	"strings"
)

// hints say what to do instead of a field moor refuses, by its path as
// written under a service: "ipc", "deploy.placement", and for a field of a
// list entry its list ("volumes.bind.selinux").
var hints = map[string]string{
	"log_driver":              "use logging: {driver: ...}",
	"log_opt":                 "use logging: {options: ...}",
	"use_api_socket":          "bind /var/run/docker.sock explicitly if the service must reach the engine",
	"provider":                "run what the provider would as a service of the stack",
	"volumes.image":           "bake the content into the service's image, or use a volume",
	"networks.mac_address":    "use the service's mac_address for its primary network",
	"networks.link_local_ips": "remove it",
	"networks.driver_opts":    "set the options on the top-level network",
}

// unsupportedField is the error for a set field that moor does not honour,
// path being where it is under the service, with a hint when there is one.
// The error is ErrUnsupported.
func unsupportedField(path string) error {
	if h := hintFor(path); h != "" {
		return fmt.Errorf("field %q is %w: %s", path, ErrUnsupported, h)
	}
	return fmt.Errorf("field %q is %w", path, ErrUnsupported)
}

// hintFor finds the hint of a path, its network name taken out
// ("networks.back.mac_address" is "networks.mac_address").
func hintFor(path string) string {
	if h, ok := hints[path]; ok {
		return h
	}
	if rest, ok := strings.CutPrefix(path, "networks."); ok {
		if _, field, ok := strings.Cut(rest, "."); ok {
			return hints["networks."+field]
		}
	}
	return ""
}

// unknownFields returns the YAML names of the fields of the struct v that
// are set and not in allowed. Embedded inline structs are walked; x-
// extensions are always allowed.
func unknownFields(v reflect.Value, allowed map[string]bool) []string {
	var out []string
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		switch {
		case name == "-" || strings.HasPrefix(name, "#"):
			continue
		case f.Anonymous && inline:
			out = append(out, unknownFields(v.Field(i), allowed)...)
			continue
		case allowed[name] || !isSet(v.Field(i)):
			continue
		}
		out = append(out, name)
	}
	return out
}

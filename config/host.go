package config

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Host is the host: block, this host's identity in a fleet: the name and
// labels that select the stacks of a repository meant for it (see
// docs/fleet.md). Its name also tells this host from the others where they
// report to one place (the context of a commit status).
//
//	host:
//	  name: edge-1            # default: the machine's hostname
//	  labels:                 # default: none
//	    role: web
//	    region: eu
type Host struct {
	Name   string
	Labels map[string]string
}

// hostNameRE is a host name as DNS spells one (a hostname, or a name of
// the operator's choosing), which a repository's hosts/NAME/ directory
// holds as it is.
var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// labelRE is a host label's key or value: a directory name
// (groups/KEY=VALUE/) in any repository layout, so no '=', '/' or space.
var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckHostName says why name cannot be a host's name, or nil.
func CheckHostName(name string) error {
	if !hostNameRE.MatchString(name) {
		return fmt.Errorf("%q is not a host name: want letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckHostLabel says why key=value cannot be a host label, or nil.
func CheckHostLabel(key, value string) error {
	if !labelRE.MatchString(key) {
		return fmt.Errorf("label key %q: want letters, digits, '_', '.' and '-', starting with a letter or digit", key)
	}
	if !labelRE.MatchString(value) {
		return fmt.Errorf("label %s: value %q: want letters, digits, '_', '.' and '-', starting with a letter or digit", key, value)
	}
	return nil
}

// ParseHostLabels reads labels written KEY=VALUE,KEY=VALUE (a flag's
// value); "" is none.
func ParseHostLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want KEY=VALUE", kv)
		}
		if err := CheckHostLabel(k, v); err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("label %s given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

// String is the host as messages show it: edge-1 {region=eu, role=web}.
func (h Host) String() string {
	if len(h.Labels) == 0 {
		return h.Name
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(h.Labels)) {
		kv = append(kv, k+"="+h.Labels[k])
	}
	return h.Name + " {" + strings.Join(kv, ", ") + "}"
}

// DefaultHostName is the machine's hostname, or "localhost" when it has
// none.
func DefaultHostName() string {
	name, err := os.Hostname()
	if err != nil || name == "" || CheckHostName(name) != nil {
		return "localhost"
	}
	return name
}

func (h *Host) validate(v *validator) {
	if h.Name == "" {
		h.Name = DefaultHostName()
	} else if err := CheckHostName(h.Name); err != nil {
		v.add("host.name", err.Error())
	}
	for _, k := range slices.Sorted(maps.Keys(h.Labels)) {
		if err := CheckHostLabel(k, h.Labels[k]); err != nil {
			v.add("host.labels."+k, err.Error())
		}
	}
}

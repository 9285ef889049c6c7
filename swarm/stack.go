package swarm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/compose"
)

// mapStack maps one loaded stack: its networks, configs and secrets, then
// its services, which refer to them by their Swarm names.
func mapStack(ls *compose.SwarmStack, d *Desired) (*Stack, error) {
	p := ls.Project
	st := &Stack{Name: ls.Name, Services: map[string]*Service{}, Networks: map[string]*Network{},
		Configs: map[string]*Object{}, Secrets: map[string]*Object{}, Warnings: slices.Clone(ls.Warnings)}
	var errs []error
	netNames := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n, err := mapNetwork(ls.Name, key, p.Networks[key], d.ownLabels(ls.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		netNames[key] = n.Name
		st.Networks[n.Name] = n
	}
	configNames, secretNames := map[string]string{}, map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(p.Configs)) {
		o, err := mapObject(ls, "config", key, types.FileObjectConfig(p.Configs[key]), d.ownLabels(ls.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		configNames[key] = o.Name
		st.Configs[o.Name] = o
	}
	for _, key := range slices.Sorted(maps.Keys(p.Secrets)) {
		o, err := mapObject(ls, "secret", key, types.FileObjectConfig(p.Secrets[key]), d.ownLabels(ls.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		secretNames[key] = o.Name
		st.Secrets[o.Name] = o
	}
	volNames := map[string]string{}
	for key, v := range p.Volumes {
		if bad := compose.UnknownFields(v, "name", "driver", "driver_opts", "external", "labels"); len(bad) > 0 {
			errs = append(errs, fmt.Errorf("volume %s: %w", key, refused(bad[0], "")))
		}
		if err := userLabels("", v.Labels); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", key, err))
		}
		volNames[key] = v.Name
		if v.Name == "" {
			volNames[key] = ls.Name + "_" + key
		}
	}
	m := serviceMapper{stack: ls.Name, project: p, d: d, networks: netNames, configs: configNames, secrets: secretNames, volumes: volNames, warnings: &st.Warnings}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		svc := p.Services[name]
		s, err := m.service(&svc)
		if err != nil {
			errs = append(errs, prefixed("service "+name+": ", err))
			continue
		}
		st.Services[name] = s
	}
	return st, errors.Join(errs...)
}

func mapNetwork(stack, key string, n types.NetworkConfig, labels map[string]string) (*Network, error) {
	if bad := compose.UnknownFields(n, "name", "driver", "driver_opts", "external", "internal", "attachable", "labels"); len(bad) > 0 {
		return nil, fmt.Errorf("network %s: %w", key, refused(bad[0], ""))
	}
	out := &Network{Key: key, Name: n.Name, External: bool(n.External)}
	if out.Name == "" {
		out.Name = stack + "_" + key
	}
	if out.External {
		return out, nil
	}
	out.Driver = n.Driver
	if out.Driver == "" {
		out.Driver = "overlay"
	}
	if err := userLabels("", n.Labels); err != nil {
		return nil, fmt.Errorf("network %s: %w", key, err)
	}
	out.DriverOpts, out.Attachable, out.Internal = n.DriverOpts, n.Attachable, n.Internal
	out.Labels = maps.Clone(labels)
	maps.Copy(out.Labels, n.Labels)
	return out, nil
}

func mapObject(ls *compose.SwarmStack, kind, key string, obj types.FileObjectConfig, labels map[string]string) (*Object, error) {
	if bad := compose.UnknownFields(obj, "name", "file", "environment", "content", "external", "labels"); len(bad) > 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, key, refused(bad[0], ""))
	}
	base := obj.Name
	if base == "" || obj.Name == ls.Project.Name+"_"+key {
		base = ls.Name + "_" + key
	}
	if obj.External {
		return &Object{Name: obj.Name, Key: key, External: true}, nil
	}
	if err := userLabels("", obj.Labels); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	data := ls.Files[kind+"s/"+key]
	o := &Object{Key: key, Data: data, Digest: digestOf(data)}
	o.Name = objectName(base, o.Digest)
	o.Labels = maps.Clone(labels)
	maps.Copy(o.Labels, obj.Labels)
	o.Labels[labelDigest] = o.Digest
	return o, nil
}

// refused is the error of a compose field the swarm runtime does not map.
func refused(field, why string) error {
	if why != "" {
		return fmt.Errorf("field %q is %w: %s", field, ErrUnsupported, why)
	}
	return fmt.Errorf("field %q is %w", field, ErrUnsupported)
}

// ErrUnsupported marks a compose field or value that moor's swarm runtime
// does not honour: it refuses the stack rather than ignoring the field.
var ErrUnsupported = errors.New("not supported by moor's swarm runtime")

// userLabels refuses the labels a compose file sets in moor's namespace
// or in docker stack deploy's: they say who owns what.
func userLabels(where string, labels map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, reserved := range []string{"moor.", "com.docker.stack."} {
			if strings.HasPrefix(k, reserved) {
				errs = append(errs, fmt.Errorf("%slabel %q: the %s namespace is reserved for moor", where, k, strings.TrimSuffix(reserved, ".")))
			}
		}
	}
	return errors.Join(errs...)
}

// prefixed puts prefix before each of the errors err joins, so that every
// line of a refusal names its stack and service.
func prefixed(prefix string, err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s%w", prefix, err)
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, prefixed(prefix, e))
	}
	return errors.Join(out...)
}

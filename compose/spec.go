package compose

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"

	"github.com/moor-dev/moor/reconcile"
)

// normalizeImage returns the familiar reference with an explicit tag:
// "nginx" → "nginx:latest", "localhost:5000/app" → "localhost:5000/app:latest";
// a digest is kept.
func normalizeImage(image string) (string, error) {
	if image == "" {
		return "", fmt.Errorf("field \"image\" is required")
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

func ports(in []types.ServicePortConfig) []reconcile.Port {
	var out []reconcile.Port
	seen := make(map[reconcile.Port]bool, len(in))
	for _, p := range in {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		port := reconcile.Port{Target: p.Target, Published: p.Published, HostIP: p.HostIP, Protocol: proto}
		if !seen[port] {
			seen[port] = true
			out = append(out, port)
		}
	}
	slices.SortFunc(out, func(a, b reconcile.Port) int {
		return cmp.Or(
			cmp.Compare(a.Target, b.Target),
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.HostIP, b.HostIP),
			cmp.Compare(a.Published, b.Published),
		)
	})
	return out
}

// expose renders expose entries as "PORT/PROTO", ranges expanded, sorted by
// port number and deduplicated.
func expose(in types.StringOrNumberList) ([]string, error) {
	type pp struct {
		port  int
		proto string
	}
	var all []pp
	for _, e := range in {
		portRange, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		lo, hi, isRange := strings.Cut(portRange, "-")
		if !isRange {
			hi = lo
		}
		start, err1 := strconv.Atoi(lo)
		end, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || start < 1 || end > 65535 || start > end {
			return nil, fmt.Errorf("expose %q: not a port or port range", e)
		}
		for p := start; p <= end; p++ {
			all = append(all, pp{p, proto})
		}
	}
	slices.SortFunc(all, func(a, b pp) int { return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto)) })
	all = slices.Compact(all)
	var out []string
	for _, p := range all {
		out = append(out, strconv.Itoa(p.port)+"/"+p.proto)
	}
	return out, nil
}

// networks returns the network mode and the attachments of a service.
// network_mode service:X shares X's namespace: the planner replaces the
// service whenever X's first container is, as compose recreates it.
func (m mapper) networks(s *types.ServiceConfig) (string, []reconcile.NetworkAttachment, error) {
	switch mode := s.NetworkMode; {
	case mode == "":
	case mode == "host" || mode == "none" || mode == "bridge":
		return mode, nil, nil
	case strings.HasPrefix(mode, types.ContainerPrefix) && len(mode) > len(types.ContainerPrefix):
		return mode, nil, nil
	case strings.HasPrefix(mode, types.ServicePrefix):
		// The namespace of the stack's other service: its first replica,
		// resolved when the container is created; the service is replaced
		// whenever that container is.
		if _, ok := m.project.Services[strings.TrimPrefix(mode, types.ServicePrefix)]; !ok {
			return "", nil, fmt.Errorf("network_mode %q: the stack has no service %q", mode, strings.TrimPrefix(mode, types.ServicePrefix))
		}
		return mode, nil, nil
	default:
		return "", nil, fmt.Errorf("network_mode %q: use host, none, bridge or container:NAME", mode)
	}
	var out []reconcile.NetworkAttachment
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		n, ok := m.project.Networks[key]
		if !ok {
			return "", nil, fmt.Errorf("network %q is not declared", key)
		}
		a := reconcile.NetworkAttachment{Name: n.Name}
		if c := s.Networks[key]; c != nil {
			for _, alias := range c.Aliases {
				if alias != s.Name && !slices.Contains(a.Aliases, alias) {
					a.Aliases = append(a.Aliases, alias)
				}
			}
			slices.Sort(a.Aliases)
			a.IPv4Address = c.Ipv4Address
			a.IPv6Address = c.Ipv6Address
			a.Priority = c.Priority
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b reconcile.NetworkAttachment) int { return cmp.Compare(a.Name, b.Name) })
	return "", out, nil
}

// cloneSlice copies s, keeping nil apart from empty: an explicit
// `command: []` clears the image's command, an absent one keeps it.
func cloneSlice[S ~[]string](s S) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func sortedCopy[S ~[]string](s S) []string {
	if len(s) == 0 {
		return nil
	}
	c := append([]string{}, s...)
	slices.Sort(c)
	return slices.Compact(c)
}

package compose

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// ErrConflict marks two services, of one stack or of two, that claim the
// same host port or container name: the second cannot start while the
// first runs, so neither stack is touched until one of them changes.
var ErrConflict = errors.New("claimed twice")

type conflictError struct {
	msg    string
	stacks []string // the stacks on either side
}

func (e *conflictError) Error() string        { return e.msg }
func (e *conflictError) Is(target error) bool { return target == ErrConflict }

func conflict(format string, args ...any) error {
	return &conflictError{msg: fmt.Sprintf(format, args...)}
}

// claims lists what the services of a project that moor mapped (in
// services) hold alone on the host: each published host port, named by
// its entry as written, and each container name, given or default.
func (m mapper) claims(p *types.Project, stack string, services map[string]*reconcile.Service) []reconcile.Claim {
	var out []reconcile.Claim
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc := services[name]
		s := p.Services[name]
		for i, port := range s.Ports {
			if svc.Replicas == 0 || !publishes(s.NetworkMode) {
				break // no container, or the engine discards the ports
			}
			lo, hi, ok := publishedRange(port.Published)
			if !ok {
				continue // the engine picks a free port
			}
			proto := strings.ToLower(port.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			out = append(out, reconcile.Claim{Service: name, Entry: m.written.port(&s, i), HostIP: port.HostIP, Protocol: proto, Lo: lo, Hi: hi})
		}
		if svc.ContainerName != "" {
			out = append(out, reconcile.Claim{Service: name, Entry: fmt.Sprintf("container_name %q", svc.ContainerName), Name: svc.ContainerName})
			continue
		}
		for n := 1; n <= svc.Replicas; n++ {
			out = append(out, reconcile.Claim{Service: name, Entry: fmt.Sprintf("replica %d", n), Name: fmt.Sprintf("%s-%s-%d", stack, name, n), Default: true})
		}
	}
	return out
}

// publishes reports whether a container in the network mode publishes
// ports: on the host's network, or in another container's, it does not.
func publishes(networkMode string) bool {
	return networkMode != "host" && !strings.HasPrefix(networkMode, "service:") && !strings.HasPrefix(networkMode, "container:")
}

// publishedRange parses a published port, "8080" or "8080-8082".
func publishedRange(published string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(published, "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo < 1 || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// holder is a claim and the stack whose it is.
type holder struct {
	stack string
	c     reconcile.Claim
}

func (h holder) name(withStack bool) string {
	s := "service " + h.c.Service + " " + h.c.Entry
	if h.c.Default {
		s += " (its default name)"
	}
	if withStack {
		s = "stack " + h.stack + " " + s
	}
	return s
}

// checkStackClaims finds the claims of one stack that collide: two of its
// services, or two entries of one, publishing the same host port or
// naming the same container, and a fixed host port on a service with
// more replicas than the port range has ports.
func checkStackClaims(st *reconcile.Stack) error {
	var errs []error
	for _, c := range st.Claims {
		svc := st.Services[c.Service]
		if c.Name != "" || svc == nil || svc.Replicas <= c.Hi-c.Lo+1 {
			continue
		}
		errs = append(errs, conflict("service %s %s: %d replicas cannot all publish host port %s: the second cannot bind it; publish a range as wide as the replicas (%d-%d), or leave the host port out and let the engine pick",
			c.Service, c.Entry, svc.Replicas, portName(c.HostIP, c.Protocol, c.Lo), c.Lo, c.Lo+svc.Replicas-1))
	}
	held := make([]holder, len(st.Claims))
	for i, c := range st.Claims {
		held[i] = holder{stack: st.Name, c: c}
	}
	return errors.Join(append(errs, collisions(held, false)...)...)
}

// CheckClaims finds the stacks that claim a host port or a container name
// that another stack claims too: each such stack's error names both sides.
// Conflicts inside one stack are LoadStack's to report.
func CheckClaims(stacks map[string]*reconcile.Stack) map[string]error {
	var held []holder
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		for _, c := range stacks[name].Claims {
			held = append(held, holder{stack: name, c: c})
		}
	}
	byStack := map[string][]error{}
	for _, err := range collisions(held, true) {
		var ce *conflictError
		if errors.As(err, &ce) {
			for _, s := range ce.stacks {
				byStack[s] = append(byStack[s], err)
			}
		}
	}
	out := map[string]error{}
	for s, errs := range byStack {
		out[s] = errors.Join(errs...)
	}
	return out
}

// collisions returns an error for every two claims of held that collide:
// across stacks only (cross), or within the one stack held is from.
func collisions(held []holder, cross bool) []error {
	var errs []error
	report := func(a, b holder, what string) {
		e := conflict("%s and %s both %s", a.name(cross), b.name(cross), what)
		e.(*conflictError).stacks = []string{a.stack, b.stack}
		errs = append(errs, e)
	}
	// Container names, by name: a service may have a thousand replicas.
	names := map[string]holder{}
	for _, h := range held {
		if h.c.Name == "" {
			continue
		}
		prev, ok := names[h.c.Name]
		if !ok {
			names[h.c.Name] = h
			continue
		}
		if (prev.stack != h.stack) == cross && (prev.stack != h.stack || prev.c.Service != h.c.Service) {
			report(prev, h, fmt.Sprintf("name container %q; rename one", h.c.Name))
		}
	}
	var ports []holder
	for _, h := range held {
		if h.c.Name == "" {
			ports = append(ports, h)
		}
	}
	for i, a := range ports {
		for _, b := range ports[i+1:] {
			if (a.stack != b.stack) != cross || (a.stack == b.stack && a.c.Service == b.c.Service && a.c.Entry == b.c.Entry) {
				continue
			}
			if port, ok := overlap(a.c, b.c); ok {
				report(a, b, "publish host port "+port+"; publish another host port in one of them")
			}
		}
	}
	return errs
}

// overlap reports whether two port claims share a host port, and names
// the first one they share.
func overlap(a, b reconcile.Claim) (string, bool) {
	if a.Protocol != b.Protocol || !sameAddress(a.HostIP, b.HostIP) {
		return "", false
	}
	lo, hi := max(a.Lo, b.Lo), min(a.Hi, b.Hi)
	if lo > hi {
		return "", false
	}
	ip := a.HostIP
	if anyAddress(ip) {
		ip = b.HostIP
	}
	return portName(ip, a.Protocol, lo), true
}

// sameAddress reports whether two host IPs overlap: an empty IP, 0.0.0.0
// and :: listen on every address.
func sameAddress(a, b string) bool {
	return anyAddress(a) || anyAddress(b) || a == b
}

func anyAddress(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

func portName(ip, proto string, port int) string {
	s := strconv.Itoa(port) + "/" + proto
	switch {
	case anyAddress(ip):
		return s
	case strings.Contains(ip, ":"):
		return "[" + ip + "]:" + s
	}
	return ip + ":" + s
}

package compose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// written holds the list entries of each service as the user wrote them in
// the stack's compose file, by service and field: compose-go keeps no
// positions, and after loading a port "8080:80" is a struct and a range is
// several. Messages quote an entry as written, with its index.
type written map[string]map[string][]string

// scanWritten reads the list fields of the services of a compose file. A
// file compose-go will refuse gives nothing; compose-go reports it.
func scanWritten(data []byte) written {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	root := mapping(&doc)
	if root == nil {
		return nil
	}
	w := written{}
	for key, services := range pairs(root) {
		if key != "services" || mapping(services) == nil {
			continue
		}
		for name, svc := range pairs(mapping(services)) {
			m := mapping(svc)
			if m == nil {
				continue
			}
			fields := map[string][]string{}
			for field, v := range pairs(m) {
				if v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				if v.Kind != yaml.SequenceNode {
					continue
				}
				for _, item := range v.Content {
					fields[field] = append(fields[field], nodeText(item))
				}
			}
			w[name] = fields
		}
	}
	return w
}

// nodeText renders a YAML node on one line: a scalar as written, a
// mapping or a list in flow style.
func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		var parts []string
		for k, v := range pairs(n) {
			parts = append(parts, k+": "+nodeText(v))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case yaml.SequenceNode:
		var parts []string
		for _, c := range n.Content {
			parts = append(parts, nodeText(c))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return n.Value
}

// entry names entry i of the list field of a service as the user wrote it:
// ports[0] "8080:80". n is how many entries compose-go loaded; when the
// file does not hold as many (extends, include or a merge key brought
// some), the entry is quoted as compose-go holds it (fallback).
func (w written) entry(service, field string, i, n int, fallback string) string {
	if e := w[service][field]; len(e) == n && i < n {
		return fmt.Sprintf("%s[%d] %q", field, i, e[i])
	}
	return fmt.Sprintf("%s[%d] %q", field, i, fallback)
}

// port names the written entry that loaded port i of service s came from:
// a range "8000-8002:8000-8002" is one entry written and three loaded.
func (w written) port(s *types.ServiceConfig, i int) string {
	e := w[s.Name]["ports"]
	var from []int // loaded port -> written entry
	for j, text := range e {
		n := 1
		if parsed, err := types.ParsePortConfig(text); err == nil && len(parsed) > 0 {
			n = len(parsed)
		}
		for range n {
			from = append(from, j)
		}
	}
	if len(from) == len(s.Ports) && i < len(from) {
		return fmt.Sprintf("ports[%d] %q", from[i], e[from[i]])
	}
	return fmt.Sprintf("ports[%d] %q", i, portText(s.Ports[i]))
}

// portText renders a loaded port in the short syntax.
func portText(p types.ServicePortConfig) string {
	s := strconv.FormatUint(uint64(p.Target), 10)
	if p.Published != "" {
		s = p.Published + ":" + s
	}
	if p.HostIP != "" {
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	if p.Protocol != "" && p.Protocol != "tcp" {
		s += "/" + p.Protocol
	}
	return s
}

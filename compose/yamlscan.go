package compose

import (
	"bytes"
	"errors"

	"go.yaml.in/yaml/v4"
)

// yamlInfo is what scanYAML learns of a compose file before compose-go
// parses it.
type yamlInfo struct {
	// include: the file has a top-level include, or a merge key that
	// could bring one.
	include bool
	// extendsFile: a service of the file extends a service of another
	// file, or a merge key could make one do so.
	extendsFile bool
}

// scanYAML checks compose YAML before compose-go parses it, with the YAML
// library compose-go uses: one document at most, and collections nested no
// deeper than depth with aliases followed (compose-go's cost grows with the
// square of the depth). It parses into nodes only, which costs little. A
// syntax error is left for compose-go to report, in its words; compose-go
// stops at it too.
func scanYAML(data []byte, depth int) (yamlInfo, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return yamlInfo{}, nil
	}
	s := depthScan{limit: depth, height: map[*yaml.Node]int{}}
	if _, err := s.scan(&doc, 0); err != nil {
		return yamlInfo{}, err
	}
	// A second document is refused: compose-go would merge it into the
	// first, and moor checks the includes of one document. A syntax error
	// there is compose-go's to report: it stops at it.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return yamlInfo{}, errors.New("holds more than one YAML document; moor reads one")
	}
	return info(&doc), nil
}

type depthScan struct {
	limit int
	// height of each collection already scanned (-1: being scanned), so
	// that an alias is scanned once, however often it is repeated.
	height map[*yaml.Node]int
}

// scan returns the height of n (the collections nested in it, n included),
// found at level (the collections around it); level plus height may not
// exceed the limit.
func (s *depthScan) scan(n *yaml.Node, level int) (int, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		h := 0
		for _, c := range n.Content {
			ch, err := s.scan(c, level)
			if err != nil {
				return 0, err
			}
			h = max(h, ch)
		}
		return h, nil
	case yaml.MappingNode, yaml.SequenceNode:
	default:
		return 0, nil
	}
	if h, ok := s.height[n]; ok {
		if h < 0 {
			return 0, errors.New("an alias refers to the collection that holds it")
		}
		if level+h > s.limit {
			return 0, s.tooDeep()
		}
		return h, nil
	}
	if level+1 > s.limit {
		return 0, s.tooDeep()
	}
	s.height[n] = -1
	h := 0
	for _, c := range n.Content {
		ch, err := s.scan(c, level+1)
		if err != nil {
			return 0, err
		}
		h = max(h, ch)
	}
	s.height[n] = h + 1
	return h + 1, nil
}

func (s *depthScan) tooDeep() error {
	return overLimit("nested deeper than %d levels", s.limit)
}

// info looks at the top of an (already scanned) document.
func info(doc *yaml.Node) yamlInfo {
	var i yamlInfo
	root := mapping(doc)
	if root == nil {
		return i
	}
	for k, v := range pairs(root) {
		switch k {
		case "<<":
			return yamlInfo{include: true, extendsFile: true}
		case "include":
			i.include = true
		case "services":
			i.extendsFile = i.extendsFile || extendsFromFile(v)
		}
	}
	return i
}

// extendsFromFile reports whether a service of the services mapping n has
// extends with a file (or a merge key that could give it one).
func extendsFromFile(n *yaml.Node) bool {
	services := mapping(n)
	if services == nil {
		return false
	}
	for k, svc := range pairs(services) {
		if k == "<<" {
			return true
		}
		m := mapping(svc)
		if m == nil {
			continue
		}
		for k, ext := range pairs(m) {
			if k == "<<" {
				return true
			}
			if k != "extends" {
				continue
			}
			e := mapping(ext)
			if e == nil {
				continue
			}
			for k := range pairs(e) {
				if k == "file" || k == "<<" {
					return true
				}
			}
		}
	}
	return false
}

// mapping returns n, its document's root or its alias's target if that is
// a mapping, else nil.
func mapping(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 1 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return n
}

// pairs yields the keys (their text, aliases followed) and values of the
// mapping m.
func pairs(m *yaml.Node) func(yield func(string, *yaml.Node) bool) {
	return func(yield func(string, *yaml.Node) bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if !yield(k.Value, m.Content[i+1]) {
				return
			}
		}
	}
}

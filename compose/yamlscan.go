package compose

import (
	"bytes"
	"errors"
	"strings"

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
	// weight estimates the bytes of the document as compose-go will hold
	// it, every alias and merge key followed each time it is used.
	weight int64
	// copies estimates the bytes that the extends within the file copy:
	// compose-go copies the extended service into each service that
	// extends it, so a thousand services extending one large service cost
	// a thousand times its size.
	copies int64
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
	w := weigher{}
	i := yamlInfo{weight: w.weight(doc)}
	root := mapping(doc)
	if root == nil {
		return i
	}
	for k, v := range pairs(root) {
		switch k {
		case "<<":
			i.include, i.extendsFile = true, true
		case "include":
			i.include = true
		case "services":
			i.extendsFile = i.extendsFile || extendsFromFile(v)
			i.copies = copies(v, w)
		}
	}
	return i
}

// charge counts what compose-go will make of the document against the
// text limit.
func (i yamlInfo) charge(b *budget) error {
	if err := b.grow(i.weight, "aliases and merge keys expand it to more than %s"); err != nil {
		return err
	}
	return b.grow(i.copies, copiesMore)
}

// copies estimates the bytes the extends between the services of the
// services mapping n copy: for each service, the weight of the services
// its chain of extends within the file goes through. A reference that
// interpolation may change counts as the heaviest chain.
func copies(n *yaml.Node, w weigher) int64 {
	services := mapping(n)
	if services == nil {
		return 0
	}
	c := chains{services: map[string]*yaml.Node{}, cost: map[string]int64{}, w: w}
	for name, svc := range pairs(services) {
		c.services[name] = svc
	}
	var heaviest int64
	for name := range c.services {
		heaviest = max(heaviest, c.chain(name))
	}
	var total int64
	for _, svc := range c.services {
		ref, ok := sameFileExtends(svc)
		switch {
		case !ok:
		case strings.Contains(ref, "$"):
			total = add(total, heaviest)
		default:
			total = add(total, c.chain(ref))
		}
	}
	return total
}

type chains struct {
	services map[string]*yaml.Node
	cost     map[string]int64 // of each service as an extends base: itself and its chain
	w        weigher
}

// chain returns the weight of name and of the services it extends.
func (c chains) chain(name string) int64 {
	if v, ok := c.cost[name]; ok {
		return v
	}
	svc, ok := c.services[name]
	if !ok {
		return 0
	}
	c.cost[name] = 0 // a cycle (compose-go refuses it) adds nothing
	v := c.w.weight(svc)
	if ref, ok := sameFileExtends(svc); ok && !strings.Contains(ref, "$") {
		v = add(v, c.chain(ref))
	}
	c.cost[name] = v
	return v
}

// sameFileExtends returns the service that svc extends within its file,
// if it does: extends: NAME, or extends: {service: NAME} without a file,
// written in the service or brought by a merge key.
func sameFileExtends(svc *yaml.Node) (string, bool) {
	m := mapping(svc)
	if m == nil {
		return "", false
	}
	var ext *yaml.Node
	for k, v := range pairs(m) {
		switch k {
		case "extends":
			ext = v
		case "<<":
			if ext != nil {
				continue
			}
			for _, merged := range mergeSources(v) {
				for k, v := range pairs(merged) {
					if k == "extends" {
						ext = v
					}
				}
			}
		}
	}
	if ext == nil {
		return "", false
	}
	for ext.Kind == yaml.AliasNode && ext.Alias != nil {
		ext = ext.Alias
	}
	if ext.Kind == yaml.ScalarNode {
		return ext.Value, true
	}
	e := mapping(ext)
	if e == nil {
		return "", false
	}
	var ref string
	for k, v := range pairs(e) {
		switch k {
		case "file":
			return "", false // guard counts the copies of another file
		case "service":
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			ref = v.Value
		}
	}
	return ref, ref != ""
}

// mergeSources returns the mappings a merge key's value n brings: a
// mapping, or a list of them.
func mergeSources(n *yaml.Node) []*yaml.Node {
	if m := mapping(n); m != nil {
		return []*yaml.Node{m}
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var out []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if m := mapping(c); m != nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// weigher estimates the bytes of nodes as compose-go holds them: their
// text and 16 a node; an alias weighs what it names.
type weigher map[*yaml.Node]int64

func (w weigher) weight(n *yaml.Node) int64 {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v, ok := w[n]; ok {
		return v
	}
	w[n] = 0 // scanYAML refused a collection inside itself already
	v := int64(16 + len(n.Value))
	for _, c := range n.Content {
		v = add(v, w.weight(c))
	}
	w[n] = v
	return v
}

// add adds weights, saturating: aliases of aliases grow exponentially.
func add(a, b int64) int64 {
	const most = 1 << 62
	if a >= most-b {
		return most
	}
	return a + b
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

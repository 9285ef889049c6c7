package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML reads a one-document YAML file whose top-level mapping holds
// the "sops" entry.
func parseYAML(data []byte) (*document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	var more yaml.Node
	if dec.Decode(&more) == nil {
		return nil, errors.New("it holds several YAML documents, which moor does not read: one document a file")
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, ErrNotEncrypted
	}
	top := doc.Content[0]
	i := slices.IndexFunc(top.Content, func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Value == "sops" })
	if i < 0 || i%2 != 0 {
		return nil, ErrNotEncrypted
	}
	var raw any
	if err := top.Content[i+1].Decode(&raw); err != nil {
		return nil, fmt.Errorf(`its "sops" entry: %w`, err)
	}
	meta, err := parseMetadata(generic(raw))
	if err != nil {
		return nil, err
	}
	top.Content = slices.Delete(top.Content, i, i+2)
	return &document{meta: meta, decrypt: func(o *opener) ([]byte, error) {
		if err := yamlWalk(o, top, nil); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(4)
		if err := enc.Encode(top); err != nil {
			return nil, err
		}
		return b.Bytes(), enc.Close()
	}}, nil
}

// yamlWalk decrypts the values under n in document order, the path of a
// value being the mapping keys above it (list items add nothing), as sops
// walks its tree. Comments are decrypted where they are encrypted.
func yamlWalk(o *opener, n *yaml.Node, path []string) error {
	yamlComments(o, n, path)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			yamlComments(o, k, path)
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("value %s has a key that is not a string", pathName(path))
			}
			if err := yamlWalk(o, v, append(slices.Clip(path), k.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		kept := n.Content[:0]
		for _, it := range n.Content {
			drop, err := yamlLeafOrWalk(o, it, path)
			if err != nil {
				return err
			}
			if !drop {
				kept = append(kept, it)
			}
		}
		n.Content = kept
	case yaml.ScalarNode:
		_, err := yamlLeaf(o, n, path)
		return err
	case yaml.AliasNode:
		return fmt.Errorf("value %s is a YAML alias, which sops does not write", pathName(path))
	}
	return nil
}

func yamlLeafOrWalk(o *opener, n *yaml.Node, path []string) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		yamlComments(o, n, path)
		return yamlLeaf(o, n, path)
	}
	return false, yamlWalk(o, n, path)
}

// yamlLeaf decrypts one scalar in place; a list item that was a comment
// is dropped (reports true).
func yamlLeaf(o *opener, n *yaml.Node, path []string) (bool, error) {
	if n.Tag == "!!null" || n.ShortTag() == "!!null" {
		return false, nil // sops neither encrypts nor hashes nothing
	}
	p, err := o.value(n.Value, path, func() ([]byte, bool) { return yamlClear(n) })
	if err != nil {
		return false, err
	}
	if !isEnc(n.Value) {
		return false, nil
	}
	n.Style = 0
	switch p.typ {
	case "comment":
		return true, nil
	case "int":
		n.Tag, n.Value = "!!int", p.text
	case "float":
		n.Tag, n.Value = "!!float", p.text
	case "bool":
		b, _ := macBytes(p)
		n.Tag, n.Value = "!!bool", strings.ToLower(string(b))
	case "time":
		n.Tag, n.Value = "!!timestamp", p.text
	default:
		n.Tag, n.Value = "!!str", p.text
		if strings.Contains(p.text, "\n") {
			n.Style = yaml.LiteralStyle
		}
	}
	return false, nil
}

// yamlClear is a clear scalar's bytes as sops hashes it: decoded as YAML
// decodes it, printed as sops prints it.
func yamlClear(n *yaml.Node) ([]byte, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		return []byte(n.Value), true
	}
	return clearBytes(v)
}

// yamlComments decrypts the encrypted lines of n's comments.
func yamlComments(o *opener, n *yaml.Node, path []string) {
	for _, c := range []*string{&n.HeadComment, &n.LineComment, &n.FootComment} {
		if !strings.Contains(*c, "ENC[") {
			continue
		}
		lines := strings.Split(*c, "\n")
		for i, l := range lines {
			body := strings.TrimPrefix(strings.TrimSpace(l), "#")
			if isEnc(body) {
				lines[i] = "#" + o.comment(body, path)
			}
		}
		*c = strings.Join(lines, "\n")
	}
}

// generic turns what YAML decodes into the maps of strings metadata reads.
func generic(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = generic(x)
		}
		return v
	case map[any]any:
		m := map[string]any{}
		for k, x := range v {
			m[fmt.Sprint(k)] = generic(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = generic(x)
		}
		return v
	}
	return v
}

package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// object is a JSON object with its keys in order.
type object struct {
	keys []string
	vals []any
}

// parseJSON reads a JSON file whose top-level object holds the "sops"
// entry; binary is sops's binary format, whose "data" is the file.
func parseJSON(data []byte, binary bool) (*document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: more after the document")
	}
	top, ok := v.(*object)
	if !ok {
		return nil, ErrNotEncrypted
	}
	var meta *metadata
	for i, k := range top.keys {
		if k != "sops" {
			continue
		}
		if meta, err = parseMetadata(plainTree(top.vals[i])); err != nil {
			return nil, err
		}
		top.keys = append(top.keys[:i:i], top.keys[i+1:]...)
		top.vals = append(top.vals[:i:i], top.vals[i+1:]...)
		break
	}
	if meta == nil {
		return nil, ErrNotEncrypted
	}
	if binary {
		if len(top.keys) != 1 || top.keys[0] != "data" {
			return nil, errors.New(`sops's binary format holds "data" alone`)
		}
		s, ok := top.vals[0].(string)
		if !ok {
			return nil, errors.New(`sops's binary format holds "data" as a string`)
		}
		return &document{meta: meta, decrypt: func(o *opener) ([]byte, error) {
			p, err := o.value(s, []string{"data"}, func() ([]byte, bool) { return []byte(s), true })
			return []byte(p.text), err
		}}, nil
	}
	return &document{meta: meta, decrypt: func(o *opener) ([]byte, error) {
		out, err := jsonWalk(o, top, nil)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		writeJSON(&b, out, "")
		b.WriteByte('\n')
		return b.Bytes(), nil
	}}, nil
}

const maxDepth = 100

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deep")
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, kt.(string))
				o.vals = append(o.vals, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return number(t), nil
	}
	return t, nil
}

// number is a JSON number as sops holds it: an int when it is one.
func number(n json.Number) any {
	if i, err := strconv.Atoi(n.String()); err == nil {
		return i
	}
	f, err := n.Float64()
	if err != nil {
		return n.String()
	}
	return f
}

func jsonWalk(o *opener, v any, path []string) (any, error) {
	switch v := v.(type) {
	case *object:
		for i, k := range v.keys {
			x, err := jsonWalk(o, v.vals[i], append(path[:len(path):len(path)], k))
			if err != nil {
				return nil, err
			}
			v.vals[i] = x
		}
		return v, nil
	case []any:
		kept := v[:0]
		for _, it := range v {
			x, err := jsonWalk(o, it, path)
			if err != nil {
				return nil, err
			}
			if _, isComment := x.(comment); !isComment {
				kept = append(kept, x)
			}
		}
		return kept, nil
	case string:
		p, err := o.value(v, path, func() ([]byte, bool) { return []byte(v), true })
		if err != nil || !isEnc(v) {
			return v, err
		}
		return typed(p), nil
	case nil:
		return nil, nil
	}
	if _, err := o.value("", path, func() ([]byte, bool) { return clearBytes(v) }); err != nil {
		return nil, err
	}
	return v, nil
}

type comment string

// typed is a decrypted value as its type says.
func typed(p plain) any {
	switch p.typ {
	case "int":
		if n, err := strconv.Atoi(p.text); err == nil {
			return n
		}
	case "float":
		if f, err := strconv.ParseFloat(p.text, 64); err == nil {
			return f
		}
	case "bool":
		if b, err := strconv.ParseBool(p.text); err == nil {
			return b
		}
	case "comment":
		return comment(p.text)
	}
	return p.text
}

// clearBytes is a clear value's bytes as sops hashes it; nothing for null.
func clearBytes(v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return []byte(v), true
	case int:
		return []byte(strconv.Itoa(v)), true
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), true
	case bool:
		if v {
			return []byte("True"), true
		}
		return []byte("False"), true
	case time.Time:
		b, _ := v.MarshalText()
		return b, true
	case nil:
		return nil, false
	}
	return []byte(fmt.Sprint(v)), true
}

func writeJSON(b *bytes.Buffer, v any, indent string) {
	in := indent + "\t"
	switch v := v.(type) {
	case *object:
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range v.keys {
			b.WriteString(in)
			writeJSON(b, k, in)
			b.WriteString(": ")
			writeJSON(b, v.vals[i], in)
			if i < len(v.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, x := range v {
			b.WriteString(in)
			writeJSON(b, x, in)
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			enc = []byte(strconv.Quote(fmt.Sprint(v)))
		}
		b.Write(bytes.TrimSpace(enc))
	}
}

// plainTree turns the ordered tree into maps, for the metadata.
func plainTree(v any) any {
	switch v := v.(type) {
	case *object:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			m[k] = plainTree(v.vals[i])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plainTree(x)
		}
		return out
	}
	return v
}

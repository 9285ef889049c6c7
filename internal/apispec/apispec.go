// Package apispec reads docs/openapi.yaml and checks answers of the API
// against it, for the tests: which paths and methods it documents, and
// whether a response body validates against the schema of its status.
//
// The schema check is the subset of OpenAPI 3.0 the file uses: type,
// nullable, enum, properties, required, additionalProperties (a boolean or
// a schema), items and local $refs. A keyword it does not
// know is an error, so that the file cannot say more than is checked.
package apispec

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is a parsed OpenAPI file.
type Spec struct {
	doc map[string]any
}

// Load reads the OpenAPI file at path.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := doc["paths"].(map[string]any); !ok {
		return nil, fmt.Errorf("%s: no paths", path)
	}
	return &Spec{doc: doc}, nil
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// Operations lists every documented operation as "METHOD /path/{param}",
// sorted.
func (s *Spec) Operations() []string {
	var out []string
	for path, item := range s.doc["paths"].(map[string]any) {
		for _, m := range methods {
			if _, ok := item.(map[string]any)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Template is the documented path that urlPath matches ("/api/v1/sources/
// {source}" for "/api/v1/sources/prod"), or "".
func (s *Spec) Template(urlPath string) string {
	got := strings.Split(urlPath, "/")
	for _, tmpl := range slices.Sorted(maps.Keys(s.doc["paths"].(map[string]any))) {
		want := strings.Split(tmpl, "/")
		if len(want) != len(got) {
			continue
		}
		match := true
		for i := range want {
			param := strings.HasPrefix(want[i], "{") && strings.HasSuffix(want[i], "}")
			if !param && want[i] != got[i] || param && got[i] == "" {
				match = false
				break
			}
		}
		if match {
			return tmpl
		}
	}
	return ""
}

// Check validates an answer of method on urlPath with status and body
// against the documented response of that status (or the default one).
func (s *Spec) Check(method, urlPath string, status int, body []byte) error {
	tmpl := s.Template(urlPath)
	if tmpl == "" {
		return fmt.Errorf("%s is not documented", urlPath)
	}
	op, ok := s.doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s is not documented", method, tmpl)
	}
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)]
	if !ok {
		resp, ok = responses["default"]
	}
	if !ok {
		return fmt.Errorf("%s %s: status %d is not documented", method, tmpl, status)
	}
	r, err := s.resolve(resp)
	if err != nil {
		return err
	}
	schema, ok := dig(r, "content", "application/json", "schema")
	if !ok {
		return fmt.Errorf("%s %s %d: no application/json schema", method, tmpl, status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s %d: %w", method, tmpl, status, err)
	}
	if errs := s.validate(schema, v, "$"); len(errs) > 0 {
		return fmt.Errorf("%s %s %d does not match docs/openapi.yaml:\n  %s", method, tmpl, status, strings.Join(errs, "\n  "))
	}
	return nil
}

func dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// resolve follows a local $ref.
func (s *Spec) resolve(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %v", v)
	}
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		target, ok := dig(s.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %s: not found", ref)
		}
		if m, ok = target.(map[string]any); !ok {
			return nil, fmt.Errorf("$ref %s: not an object", ref)
		}
	}
	return nil, fmt.Errorf("$ref loop")
}

var known = map[string]bool{"type": true, "nullable": true, "enum": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true,
	"description": true, "format": true}

// validate checks v at where against schema; it returns what is wrong.
func (s *Spec) validate(schema any, v any, where string) []string {
	sch, err := s.resolve(schema)
	if err != nil {
		return []string{fmt.Sprintf("%s: schema: %v", where, err)}
	}
	for k := range sch {
		if !known[k] {
			return []string{fmt.Sprintf("%s: schema keyword %q is not checked", where, k)}
		}
	}
	if v == nil {
		if sch["nullable"] == true {
			return nil
		}
		return []string{where + ": null"}
	}
	if enum, ok := sch["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return equal(e, v) }) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", where, v, enum)}
	}
	typ, _ := sch["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an object", where, v)}
		}
		return s.object(sch, m, where)
	case "array":
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an array", where, v)}
		}
		var errs []string
		for i, e := range l {
			errs = append(errs, s.validate(sch["items"], e, fmt.Sprintf("%s[%d]", where, i))...)
		}
		return errs
	case "string":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: %T, want a string", where, v)}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %T, want a boolean", where, v)}
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || typ == "integer" && f != float64(int64(f)) {
			return []string{fmt.Sprintf("%s: %v, want an %s", where, v, typ)}
		}
	default:
		return []string{fmt.Sprintf("%s: schema type %q is not checked", where, typ)}
	}
	return nil
}

func (s *Spec) object(sch map[string]any, m map[string]any, where string) []string {
	var errs []string
	props, _ := sch["properties"].(map[string]any)
	req, _ := sch["required"].([]any)
	for _, r := range req {
		if _, ok := m[r.(string)]; !ok {
			errs = append(errs, fmt.Sprintf("%s: %s is missing", where, r))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if p, ok := props[k]; ok {
			errs = append(errs, s.validate(p, m[k], where+"."+k)...)
			continue
		}
		switch extra := sch["additionalProperties"].(type) {
		case bool:
			if !extra {
				errs = append(errs, fmt.Sprintf("%s: %s is not documented", where, k))
			}
		case nil:
			errs = append(errs, fmt.Sprintf("%s: %s is not documented (and additionalProperties is not said)", where, k))
		default:
			errs = append(errs, s.validate(extra, m[k], where+"."+k)...)
		}
	}
	return errs
}

func equal(a, b any) bool {
	if fa, ok := a.(int); ok {
		a = float64(fa)
	}
	return a == b
}

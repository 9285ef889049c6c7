package config

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The file is decoded by walking yaml.v3's node tree rather than with
// Decoder.KnownFields: that way every error names the key's path
// (sources[0].interval) and line instead of a Go type, and wrong types and
// bad durations are reported the same way as unknown keys.

// decoder walks a document, filling a Config and collecting every problem.
type decoder struct {
	file string
	pos  map[string]int // field -> line of its value, for validation errors
	errs []error
}

// field is one key a mapping may hold.
type field struct {
	key string
	set func(d *decoder, n *yaml.Node, at string)
}

func decode(data []byte, file string, c *Config) (map[string]int, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	d := &decoder{file: file, pos: map[string]int{}}
	if len(doc.Content) > 0 { // an empty file is an empty config
		d.mapping(doc.Content[0], "", configFields(c))
	}
	return d.pos, errors.Join(d.errs...)
}

func configFields(c *Config) []field {
	return []field{
		{"state_dir", func(d *decoder, n *yaml.Node, at string) { c.StateDir = d.str(n, at) }},
		{"listen", func(d *decoder, n *yaml.Node, at string) { c.Listen = d.str(n, at) }},
		{"log_level", func(d *decoder, n *yaml.Node, at string) { c.LogLevel = d.str(n, at) }},
		{"log_format", func(d *decoder, n *yaml.Node, at string) { c.LogFormat = d.str(n, at) }},
		{"secrets_dir", func(d *decoder, n *yaml.Node, at string) { c.SecretsDir = d.str(n, at) }},
		{"api", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"token_file", func(d *decoder, n *yaml.Node, at string) { c.API.TokenFile = d.str(n, at) }},
				{"max_connections", func(d *decoder, n *yaml.Node, at string) { c.API.MaxConnections = d.int(n, at) }},
				{"token", inlineSecret("token_file")},
			})
		}},
		{"host", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"name", func(d *decoder, n *yaml.Node, at string) { c.Host.Name = d.str(n, at) }},
				{"labels", func(d *decoder, n *yaml.Node, at string) { c.Host.Labels = d.stringMap(n, at) }},
			})
		}},
		{"notifications", func(d *decoder, n *yaml.Node, at string) { d.mapping(n, at, notificationFields(&c.Notifications)) }},
		{"sources", func(d *decoder, n *yaml.Node, at string) {
			for i, item := range d.sequence(n, at) {
				var s Source
				d.mapping(item, fmt.Sprintf("%s[%d]", at, i), sourceFields(&s))
				c.Sources = append(c.Sources, s)
			}
		}},
	}
}

func sourceFields(s *Source) []field {
	return []field{
		{"name", func(d *decoder, n *yaml.Node, at string) { s.Name = d.str(n, at) }},
		{"repo", func(d *decoder, n *yaml.Node, at string) { s.Repo = d.str(n, at) }},
		{"ref", func(d *decoder, n *yaml.Node, at string) { s.Ref = d.str(n, at) }},
		{"path", func(d *decoder, n *yaml.Node, at string) { s.Path = d.str(n, at) }},
		{"interval", func(d *decoder, n *yaml.Node, at string) { s.Interval = d.duration(n, at) }},
		{"schedule", func(d *decoder, n *yaml.Node, at string) { s.Schedule = d.str(n, at) }},
		{"allow_empty", func(d *decoder, n *yaml.Node, at string) { s.AllowEmpty = d.bool(n, at) }},
		{"variables", func(d *decoder, n *yaml.Node, at string) { s.Variables = d.stringMap(n, at) }},
		{"profiles", func(d *decoder, n *yaml.Node, at string) {
			for i, item := range d.sequence(n, at) {
				s.Profiles = append(s.Profiles, d.str(item, fmt.Sprintf("%s[%d]", at, i)))
			}
		}},
		{"timeout", func(d *decoder, n *yaml.Node, at string) { s.Timeout = d.duration(n, at) }},
		{"max_replicas", func(d *decoder, n *yaml.Node, at string) { s.MaxReplicas = d.positive(n, at) }},
		{"webhook", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"secret_file", func(d *decoder, n *yaml.Node, at string) { s.WebhookSecretFile = d.str(n, at) }},
			})
		}},
		{"auth", func(d *decoder, n *yaml.Node, at string) { d.mapping(n, at, authFields(&s.Auth)) }},
		{"sops", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"age_key_file", func(d *decoder, n *yaml.Node, at string) { s.SOPS.AgeKeyFile = d.str(n, at) }},
				{"pgp_key_file", func(d *decoder, n *yaml.Node, at string) { s.SOPS.PGPKeyFile = d.str(n, at) }},
				{"age_key", inlineSecret("age_key_file")},
				{"pgp_key", inlineSecret("pgp_key_file")},
			})
		}},
		{"runtime", func(d *decoder, n *yaml.Node, at string) { s.Runtime = d.str(n, at) }},
		{"drift", func(d *decoder, n *yaml.Node, at string) { s.Drift = d.str(n, at) }},
		{"drift_interval", func(d *decoder, n *yaml.Node, at string) { s.DriftInterval = d.duration(n, at) }},
		{"prune", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"volumes", func(d *decoder, n *yaml.Node, at string) { s.PruneVolumes = d.bool(n, at) }},
			})
		}},
		{"stacks_dir", func(d *decoder, n *yaml.Node, at string) { s.StacksDir = d.str(n, at) }},
		{"image_updates", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"schedule", func(d *decoder, n *yaml.Node, at string) { s.ImageUpdates.Schedule = d.str(n, at) }},
			})
		}},
		{"windows", func(d *decoder, n *yaml.Node, at string) {
			for i, item := range d.sequence(n, at) {
				var w Window
				d.mapping(item, fmt.Sprintf("%s[%d]", at, i), []field{
					{"kind", func(d *decoder, n *yaml.Node, at string) { w.Kind = d.str(n, at) }},
					{"schedule", func(d *decoder, n *yaml.Node, at string) { w.Schedule = d.str(n, at) }},
					{"duration", func(d *decoder, n *yaml.Node, at string) { w.Duration = d.duration(n, at) }},
				})
				s.Windows = append(s.Windows, w)
			}
		}},
		{"adopt", func(d *decoder, n *yaml.Node, at string) { s.Adopt = d.bool(n, at) }},
		{"commit_status", func(d *decoder, n *yaml.Node, at string) { d.mapping(n, at, commitStatusFields(&s.CommitStatus)) }},
		{"canary", func(d *decoder, n *yaml.Node, at string) { d.mapping(n, at, canaryFields(&s.Canary)) }},
		{"verify", func(d *decoder, n *yaml.Node, at string) {
			d.mapping(n, at, []field{
				{"mode", func(d *decoder, n *yaml.Node, at string) { s.Verify.Mode = d.str(n, at) }},
				{"openpgp_keys", func(d *decoder, n *yaml.Node, at string) {
					for i, item := range d.sequence(n, at) {
						s.Verify.OpenPGPKeys = append(s.Verify.OpenPGPKeys, d.str(item, fmt.Sprintf("%s[%d]", at, i)))
					}
				}},
				{"ssh_allowed_signers", func(d *decoder, n *yaml.Node, at string) { s.Verify.SSHAllowedSigners = d.str(n, at) }},
				{"allow_history_rewrite", func(d *decoder, n *yaml.Node, at string) { s.Verify.AllowHistoryRewrite = d.bool(n, at) }},
			})
		}},
	}
}

func authFields(a *Auth) []field {
	return []field{
		{"username", func(d *decoder, n *yaml.Node, at string) { a.Username = d.str(n, at) }},
		{"password_file", func(d *decoder, n *yaml.Node, at string) { a.PasswordFile = d.str(n, at) }},
		{"password_env", func(d *decoder, n *yaml.Node, at string) { a.PasswordEnv = d.str(n, at) }},
		{"ssh_key_file", func(d *decoder, n *yaml.Node, at string) { a.SSHKeyFile = d.str(n, at) }},
		{"ssh_key_passphrase_file", func(d *decoder, n *yaml.Node, at string) { a.SSHKeyPassphraseFile = d.str(n, at) }},
		{"known_hosts_file", func(d *decoder, n *yaml.Node, at string) { a.KnownHostsFile = d.str(n, at) }},
		{"accept_new_host_keys", func(d *decoder, n *yaml.Node, at string) { a.AcceptNewHostKeys = d.bool(n, at) }},
		// Likely attempts at an inline secret get their own message, which
		// never repeats the value.
		{"password", inlineSecret("password_file or password_env")},
		{"token", inlineSecret("password_file or password_env (a token is a password)")},
		{"ssh_key", inlineSecret("ssh_key_file")},
	}
}

func inlineSecret(instead string) func(d *decoder, n *yaml.Node, at string) {
	return func(d *decoder, n *yaml.Node, at string) {
		d.errorf(n, at, "secrets are not written in the config file: use %s", instead)
	}
}

func (d *decoder) errorf(n *yaml.Node, at, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Field: at, Msg: fmt.Sprintf(format, args...)})
}

// mapping decodes the mapping n, whose path is at, through fields.
func (d *decoder) mapping(n *yaml.Node, at string, fields []field) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			d.errorf(n, at, "want a mapping, got %s", describe(n))
		}
		return
	}
	if at != "" {
		d.pos[at] = n.Line
	}
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := lookup(fields, k.Value)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if at != "" {
				msg += " in " + at
			}
			if s := suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs = append(d.errs, &Error{File: d.file, Line: k.Line, Msg: msg})
			continue
		}
		path := join(at, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, path, "set twice (first on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		d.pos[path] = v.Line
		f.set(d, v, path)
	}
}

func lookup(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func (d *decoder) sequence(n *yaml.Node, at string) []*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		if !isNull(n) {
			d.errorf(n, at, "want a list, got %s", describe(n))
		}
		return nil
	}
	return n.Content
}

// str decodes a scalar as its text: "ref: 1.0" is the branch "1.0", as
// yaml.v3 itself would decode it into a string. A null is "".
func (d *decoder) str(n *yaml.Node, at string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, at, "want a string, got %s", describe(n))
		return ""
	}
	if isNull(n) {
		return ""
	}
	return n.Value
}

func (d *decoder) bool(n *yaml.Node, at string) bool {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, at, "want true or false, got %s", describe(n))
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return b
}

func (d *decoder) int(n *yaml.Node, at string) int {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n, at, "want a whole number, got %s", describe(n))
		return 0
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil {
		d.errorf(n, at, "want a whole number, got %s", n.Value)
		return 0
	}
	return i
}

// positive decodes a whole number of at least 1.
func (d *decoder) positive(n *yaml.Node, at string) int {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n, at, "want a whole number, got %s", describe(n))
		return 0
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil {
		d.errorf(n, at, "%s is not a whole number moor can hold", n.Value)
		return 0
	}
	if i < 1 {
		d.errorf(n, at, "%s is not positive", n.Value)
		return 0
	}
	return i
}

func (d *decoder) duration(n *yaml.Node, at string) time.Duration {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, at, "want a duration such as 30s or 5m, got %s", describe(n))
		return 0
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Field: at,
			Msg: fmt.Sprintf("invalid duration %q (want e.g. 30s or 5m)", n.Value), Err: err})
		return 0
	}
	if dur <= 0 {
		d.errorf(n, at, "duration %s is not positive", n.Value)
		return 0
	}
	return dur
}

// stringMap decodes a mapping of scalars; "PORT: 8080" is "8080".
func (d *decoder) stringMap(n *yaml.Node, at string) map[string]string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			d.errorf(n, at, "want a mapping, got %s", describe(n))
		}
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		path := join(at, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, at, "want string keys, got %s", describe(k))
			continue
		}
		if _, dup := m[k.Value]; dup {
			d.errorf(k, path, "set twice")
			continue
		}
		m[k.Value] = d.str(v, path)
	}
	return m
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
	return "a " + strconv.Quote(n.Tag)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError rewords yaml.v3's "yaml: line 3: ..." as "moor.yaml:3: ...".
func yamlError(file string, err error) error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML", Err: err}
}

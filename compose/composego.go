package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/transform"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// moor reads compose files with a newer compose-go than the one docker
// compose v2.40.3 is built with (v2.9.1), for its once-compiled schema.
// Where the two would load the same file differently, this file keeps
// v2.40.3's behaviour: "what docker compose up runs, moor runs", and the
// same com.docker.compose.config-hash, so `docker compose up -d` recreates
// nothing.
//
// Binds: compose-go from v2.10 on gives a long-syntax bind block without
// create_host_path the value true and writes the flag into JSON only when
// it is false; v2.9.1 leaves it false, so compose binds such a source
// through the mount API, which refuses a missing host path, and writes the
// flag only when it is true.
//
// depends_on: compose-go from v2.10 on casts an interpolated
// depends_on.required or restart to a boolean; v2.9.1 does not, and its
// schema refuses the string for required ("must be a boolean").
//
// A cap on YAML nodes: compose-go from v2.13 on refuses a file of more
// than 100,000 nodes; v2.9.1 has no such cap. moor's own limits bound a
// file's size (Limits.ComposeBytes), and a node takes at least a byte, so
// moor sets the cap where no file within them reaches it (nodeVisits).
//
// .inf and .nan: see nonFinite.

// bindBlock is the path of a long-syntax bind block in the compose model.
const bindBlock = "services.*.volumes.*.bind"

func init() {
	// Replace compose-go's default for the bind block by none: as in
	// v2.9.1, create_host_path is true only where it is written or where the
	// short syntax implies it.
	transform.RegisterDefaultValue(bindBlock, func(data any, _ tree.Path, _ bool) (any, error) {
		return data, nil
	})
}

// nodeVisits is the cap on the YAML nodes compose-go visits in one file:
// no less than its own default, and no file within l reaches it.
func nodeVisits(l Limits) int {
	return max(100_000, int(l.ComposeBytes))
}

// uncast are the interpolation casts compose-go v2.9.1 does not make.
var uncast = []tree.Path{
	tree.NewPath("services", tree.PathMatchAll, "depends_on", tree.PathMatchAll, "required"),
	tree.NewPath("services", tree.PathMatchAll, "depends_on", tree.PathMatchAll, "restart"),
}

// bindJSON is types.ServiceVolumeBind as compose-go v2.9.1 encodes it.
type bindJSON struct {
	SELinux        string `json:"selinux,omitempty"`
	Propagation    string `json:"propagation,omitempty"`
	CreateHostPath bool   `json:"create_host_path,omitempty"`
	Recursive      string `json:"recursive,omitempty"`
}

// legacyBinds rewrites the volumes of b, the JSON of s, with their bind
// blocks encoded as compose-go v2.9.1 encodes them.
func legacyBinds(b []byte, s types.ServiceConfig) ([]byte, error) {
	var binds bool
	for _, v := range s.Volumes {
		binds = binds || v.Bind != nil
	}
	if !binds {
		return b, nil
	}
	now, err := json.Marshal(s.Volumes)
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	var old bytes.Buffer
	old.WriteByte('[')
	for i, v := range s.Volumes {
		if i > 0 {
			old.WriteByte(',')
		}
		vj, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Target, err)
		}
		if v.Bind != nil {
			// A volume's JSON has one "bind" key: the sub-objects of the
			// other types have none, and a string cannot hold `"bind":`.
			nb, err := json.Marshal(v.Bind)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Target, err)
			}
			ob, err := json.Marshal(bindJSON{
				SELinux:        v.Bind.SELinux,
				Propagation:    v.Bind.Propagation,
				CreateHostPath: bool(v.Bind.CreateHostPath),
				Recursive:      v.Bind.Recursive,
			})
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Target, err)
			}
			vj = bytes.Replace(vj, append([]byte(`"bind":`), nb...), append([]byte(`"bind":`), ob...), 1)
		}
		old.Write(vj)
	}
	old.WriteByte(']')
	key := []byte(`"volumes":`)
	from := append(append([]byte{}, key...), now...)
	if !bytes.Contains(b, from) {
		return nil, fmt.Errorf("volumes: not found in the service's JSON")
	}
	return bytes.Replace(b, from, append(append([]byte{}, key...), old.Bytes()...), 1), nil
}

// nonFinite explains the error compose-go gives a file holding an unquoted
// .inf or .nan, YAML's infinity and not-a-number: compose-go from v2.13 on
// validates the file through JSON, which has no such numbers, while
// docker compose v2.40.3 reads them as the text "+Inf", "NaN". It returns
// nil for any other error. data is the stack's compose file, searched for
// the field at fault.
func nonFinite(err error, data []byte) error {
	var uv *json.UnsupportedValueError
	if !errors.As(err, &uv) {
		return nil
	}
	where := "a value"
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		if path := nonFiniteAt(&doc, ""); path != "" {
			where = fmt.Sprintf("field %q", path)
		}
	}
	return fmt.Errorf("%w: %s is an unquoted .inf or .nan, which moor's compose library cannot validate: quote it (docker compose reads it as the text %q)", err, where, uv.Str)
}

// nonFiniteAt returns the path of the first plain scalar under n that YAML
// reads as an infinity or not-a-number, or "".
func nonFiniteAt(n *yaml.Node, path string) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!float" {
			switch strings.TrimLeft(strings.ToLower(n.Value), "+-") {
			case ".inf", ".nan":
				return path
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p := nonFiniteAt(n.Content[i+1], strings.TrimPrefix(path+"."+n.Content[i].Value, ".")); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p := nonFiniteAt(c, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := nonFiniteAt(c, path); p != "" {
				return p
			}
		}
	}
	return ""
}

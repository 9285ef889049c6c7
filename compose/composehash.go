package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// composeHash is the com.docker.compose.config-hash docker compose v2
// gives a container of the service when it runs the stack from the stack's
// directory on the host: sha256 over the JSON of the service as compose-go
// loads it for `up` (env_file and label_file resolved into environment and
// labels, and dropped), without what needs no new container (build, pull
// policy, scale and replicas, depends_on, profiles). The JSON is that of
// compose-go v2.9.1, which docker compose v2.40.3 is built with: moor's
// newer compose-go writes the same but for binds, which legacyBinds
// (composego.go) writes as v2.9.1 does. The paths are those of the stack
// directories, not of the snapshot moor loaded from.
func (m mapper) composeHash(s types.ServiceConfig) (reconcile.ComposeService, error) {
	c := reconcile.ComposeService{DependsOn: composeDependsOn(s)}
	// compose hashes the container ID of a service whose namespace this one
	// shares: known when the container is created.
	// Namespaces, as compose resolves them before hashing: the service's
	// first container's ID.
	for _, mode := range []*string{&s.NetworkMode, &s.Ipc, &s.Pid} {
		if ref, ok := strings.CutPrefix(*mode, types.ServicePrefix); ok {
			*mode = types.ContainerPrefix + reconcile.RefPrefix + ref
			if !slices.Contains(c.Refs, ref) {
				c.Refs = append(c.Refs, ref)
			}
		}
	}
	// volumes_from as compose resolves it before hashing: a service's
	// first container's ID, a container's name, the mode dropped.
	if len(s.VolumesFrom) > 0 {
		s.VolumesFrom = slices.Clone(s.VolumesFrom)
		for i, from := range s.VolumesFrom {
			parts := strings.Split(from, ":")
			if parts[0] == "container" && len(parts) > 1 {
				s.VolumesFrom[i] = parts[1]
				continue
			}
			s.VolumesFrom[i] = reconcile.RefPrefix + parts[0]
			if !slices.Contains(c.Refs, parts[0]) {
				c.Refs = append(c.Refs, parts[0])
			}
		}
	}
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	s.DependsOn = nil
	s.Profiles = nil
	s.EnvFiles, s.LabelFiles = nil, nil
	b, err := json.Marshal(s)
	if err == nil {
		b, err = legacyBinds(b, s)
	}
	if err != nil {
		return c, fmt.Errorf("compose's config hash: %w", err)
	}
	b = m.hostPaths(b)
	if len(c.Refs) > 0 {
		c.Template = string(b)
		return c, nil
	}
	sum := sha256.Sum256(b)
	c.Hash = hex.EncodeToString(sum[:])
	return c, nil
}

// hostPaths rewrites the paths of the snapshot in JSON into those of the
// stack directories: the source's directory onto their root, the rest of
// the repository onto RepoFiles under it.
func (m mapper) hostPaths(b []byte) []byte {
	if m.host.to == m.host.root {
		return b
	}
	quoted := func(p string) []byte { return []byte(`"` + p) }
	b = bytes.ReplaceAll(b, quoted(m.host.root+`/`), quoted(m.host.to+`/`))
	b = bytes.ReplaceAll(b, quoted(m.host.root+`"`), quoted(m.host.to+`"`))
	if repo := m.sd.Repo; repo != "" && repo != m.host.root {
		b = bytes.ReplaceAll(b, quoted(repo+`/`), quoted(m.host.to+"/"+RepoFiles))
	}
	return b
}

// composeDependsOn is com.docker.compose.depends_on as compose writes it:
// "service:condition:restart" for each dependency, joined by commas.
func composeDependsOn(s types.ServiceConfig) string {
	var deps []string
	for _, name := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[name]
		deps = append(deps, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	return strings.Join(deps, ",")
}

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
// policy, scale and replicas, depends_on, profiles). compose-go is the version
// docker compose is built with, so the JSON is the same; the paths are
// those of the stack directories, not of the snapshot moor loaded from.
func (m mapper) composeHash(s types.ServiceConfig) (reconcile.ComposeService, error) {
	c := reconcile.ComposeService{DependsOn: composeDependsOn(s)}
	// compose hashes the container ID of a service whose namespace this one
	// shares: known when the container is created.
	if ref, ok := strings.CutPrefix(s.NetworkMode, types.ServicePrefix); ok {
		s.NetworkMode = types.ContainerPrefix + reconcile.RefPrefix + ref
		c.Refs = append(c.Refs, ref)
	}
	// compose hashes volumes_from as it resolves it: container:NAME[:MODE]
	// becomes NAME (resolveVolumeFrom).
	if len(s.VolumesFrom) > 0 {
		vf := slices.Clone(s.VolumesFrom)
		for i, v := range vf {
			if parts := strings.Split(v, ":"); parts[0] == "container" && len(parts) > 1 {
				vf[i] = parts[1]
			}
		}
		s.VolumesFrom = vf
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

package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"

	"github.com/moor-dev/moor/buildcontext"
	"github.com/moor-dev/moor/reconcile"
)

// buildFields are the build sub-fields moor honours: what compose v2's
// classic builder path (build_classic.go) sends to the Engine, which is
// the builder a Docker Engine without BuildKit (API 1.41, no buildx) has,
// plus shm_size, which the Engine's build API takes (compose's classic
// path drops it; its BuildKit path honours it) and dockerfile_inline,
// which moor sends in the context as compose sends a Dockerfile from
// outside the context.
var buildFields = set("context", "dockerfile", "dockerfile_inline", "args", "target", "labels",
	"network", "extra_hosts", "shm_size", "no_cache", "pull", "tags")

// buildRefusals say, for the build fields moor refuses, why and what to do.
var buildRefusals = map[string]string{
	"ssh":                 "needs BuildKit, which the Engine's build API (1.41) does not offer: fetch in a CI, or keep what the build needs in the repository",
	"secrets":             "needs BuildKit: a secret sent any other way would stay in the image's layers; build such images in CI",
	"cache_from":          "is a BuildKit cache import; the classic builder reuses its local cache by itself",
	"cache_to":            "is a BuildKit cache export; the classic builder keeps its cache locally by itself",
	"platforms":           "needs BuildKit (buildx) for more than the host's platform: the image is built for the host",
	"additional_contexts": "needs BuildKit: keep the files in the build context",
	"privileged":          "needs BuildKit",
	"entitlements":        "needs BuildKit",
	"ulimits":             "is not taken by the classic builder compose uses without BuildKit",
	"isolation":           "only matters to Windows containers",
	"provenance":          "is a BuildKit attestation",
	"sbom":                "is a BuildKit attestation",
}

// inlineDockerfile is the name moor sends a dockerfile_inline (or a
// Dockerfile from outside the context) under, in the context.
const inlineDockerfile = ".moor.Dockerfile"

// dockerfileLimit caps a Dockerfile read from outside the context.
const dockerfileLimit = 1 << 20

// build maps the service's build section onto a reconcile.BuildSpec, or
// returns nil when it has none. Its files are read from the repository
// only: the context must be a directory of it, and everything in it is
// hashed (the build's identity, see reconcile.BuildSpec).
func (m mapper) build(s *types.ServiceConfig) (*reconcile.BuildSpec, error) {
	b := s.Build
	if b == nil {
		return nil, nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("service %s: build."+format, append([]any{s.Name}, args...)...)
	}
	if err := checkBuild(s.Name, b); err != nil {
		return nil, err
	}
	if err := checkUserLabels(b.Labels); err != nil {
		// The image's labels become its containers': moor's would make
		// them look like another owner's.
		return nil, fail("labels: %w", err)
	}
	if remoteContext(b.Context) {
		return nil, fail("context %q: a URL, git or service context is not supported: moor builds from the revision's own files; put the context in the repository", b.Context)
	}
	ctxRel, err := m.repo.resolve(b.Context)
	switch {
	case errors.Is(err, ErrOutside):
		return nil, fail("context %s is outside the repository: moor builds from the repository's files only", m.sd.rel(b.Context))
	case err != nil:
		return nil, fail("context %s: %w", m.sd.rel(b.Context), describe(err))
	}
	if fi, err := m.repo.root.Lstat(ctxRel); err != nil || !fi.IsDir() {
		return nil, fail("context %s is not a directory", m.sd.rel(b.Context))
	}
	spec := &reconcile.BuildSpec{
		Root:       m.repo.real,
		Context:    filepath.ToSlash(ctxRel),
		Args:       buildArgs(b.Args),
		Target:     b.Target,
		Labels:     cloneMap(b.Labels),
		Network:    b.Network,
		ExtraHosts: emptyAsNil(b.ExtraHosts.AsList(":")),
		ShmSize:    int64(b.ShmSize),
		NoCache:    b.NoCache,
		Pull:       b.Pull,
	}
	if err := m.dockerfile(s, b, spec); err != nil {
		return nil, err
	}
	if err := m.buildTags(s, spec); err != nil {
		return nil, err
	}
	if err := m.buildHash(s, spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// checkBuild refuses the build fields moor does not honour, saying why.
func checkBuild(service string, b *types.BuildConfig) error {
	var errs []error
	v := reflect.ValueOf(*b)
	for i := range v.NumField() {
		name, _ := yamlName(v.Type().Field(i))
		if buildFields[name] || name == "-" || strings.HasPrefix(name, "#") || !isSet(v.Field(i)) {
			continue
		}
		why := buildRefusals[name]
		if why == "" {
			why = "is not supported by moor's builds"
		}
		errs = append(errs, fmt.Errorf("service %s: field \"build.%s\" %s: %w", service, name, why, ErrUnsupported))
	}
	return errors.Join(errs...)
}

// remoteContext reports whether a build context is not a local directory,
// as compose-go tells them apart (it leaves those paths unresolved).
func remoteContext(c string) bool {
	if strings.Contains(c, "://") || strings.HasPrefix(c, types.ServicePrefix) {
		return true
	}
	for _, prefix := range []string{"github.com/", "git@"} {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return !filepath.IsAbs(c)
}

// dockerfile sets the build's Dockerfile: a regular file of the context,
// or dockerfile_inline, or a Dockerfile of the repository outside the
// context, which is read now and sent in the context as compose sends it.
func (m mapper) dockerfile(s *types.ServiceConfig, b *types.BuildConfig, spec *reconcile.BuildSpec) error {
	if b.DockerfileInline != "" {
		if b.Dockerfile != "" && b.Dockerfile != "Dockerfile" {
			return fmt.Errorf("service %s: build.dockerfile and build.dockerfile_inline are both set: keep one", s.Name)
		}
		spec.Dockerfile, spec.DockerfileInline = inlineDockerfile, b.DockerfileInline
		return nil
	}
	p := b.Dockerfile
	if !filepath.IsAbs(p) {
		p = filepath.Join(b.Context, p)
	}
	p = filepath.Clean(p)
	if within(filepath.Clean(b.Context), p) {
		rel, _ := filepath.Rel(b.Context, p)
		fi, err := m.repo.root.Lstat(filepath.Join(filepath.FromSlash(spec.Context), rel))
		switch {
		case err != nil:
			return fmt.Errorf("service %s: build.dockerfile %s: %w", s.Name, m.sd.rel(p), describe(err))
		case !fi.Mode().IsRegular():
			return fmt.Errorf("service %s: build.dockerfile %s: %w", s.Name, m.sd.rel(p), ErrNotRegular)
		}
		spec.Dockerfile = filepath.ToSlash(rel)
		return nil
	}
	data, err := m.repo.read(p, dockerfileLimit)
	switch {
	case errors.Is(err, ErrOutside):
		return fmt.Errorf("service %s: build.dockerfile %s is outside the repository: moor builds from the repository's files only", s.Name, m.sd.rel(p))
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("service %s: build.dockerfile %s is over %s", s.Name, m.sd.rel(p), size(dockerfileLimit))
	case err != nil:
		return fmt.Errorf("service %s: build.dockerfile %s: %w", s.Name, m.sd.rel(p), describe(err))
	}
	spec.Dockerfile, spec.DockerfileInline = inlineDockerfile, string(data)
	return nil
}

// buildTags names the build: compose's name for the image (image:, else
// PROJECT-SERVICE, as compose v2's GetImageNameOrDefault names it) and
// build.tags, and Image, which the containers run: the name's repository
// with a tag that names the build's hash (set by buildHash).
func (m mapper) buildTags(s *types.ServiceConfig, spec *reconcile.BuildSpec) error {
	name := s.Image
	if name == "" {
		name = m.project.Name + "-" + s.Name
	}
	for i, t := range append([]string{name}, s.Build.Tags...) {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return fmt.Errorf("service %s: image name %q of the build: %w", s.Name, t, err)
		}
		if _, ok := named.(reference.Canonical); ok {
			return fmt.Errorf("service %s: image %q with a digest cannot name a build: name it by a tag", s.Name, t)
		}
		spec.Tags = append(spec.Tags, reference.FamiliarString(reference.TagNameOnly(named)))
		if i == 0 {
			spec.Image = reference.FamiliarName(named) // the repository; buildHash adds the tag
		}
	}
	return nil
}

// buildHash hashes the context's files (within the stack's hash budget)
// and the build's settings into spec.Hash, and names the build by it.
// Where the repository and the context lie is not part of it: the same
// files built the same way are the same image.
func (m mapper) buildHash(s *types.ServiceConfig, spec *reconcile.BuildSpec) error {
	root := m.repo.root
	bc := buildcontext.Context{Root: root, Dir: spec.Context, Dockerfile: spec.Dockerfile}
	if spec.DockerfileInline != "" {
		bc.Inline = []byte(spec.DockerfileInline)
	}
	bg := m.budget
	digest, st, err := buildcontext.Digest(bg.ctx, bc, buildcontext.Limits{
		Bytes: max(bg.lim.HashBytes-bg.hashBytes, 1), Entries: max(bg.lim.HashEntries-bg.hashEntries, 1)})
	switch {
	case errors.Is(err, buildcontext.ErrTooManyBytes):
		return overLimit("service %s: build context %s: binds, configs, secrets and build contexts of a stack may hold %s together", s.Name, spec.Context, size(bg.lim.HashBytes))
	case errors.Is(err, buildcontext.ErrTooManyEntries):
		return overLimit("service %s: build context %s: binds, configs, secrets and build contexts of a stack may hold %d files, directories and symlinks together", s.Name, spec.Context, bg.lim.HashEntries)
	case err != nil:
		return fmt.Errorf("service %s: build context %s: %w", s.Name, spec.Context, err)
	}
	bg.hashBytes += st.Bytes
	bg.hashEntries += st.Entries
	spec.ContextDigest = digest
	hashed := *spec
	hashed.Root, hashed.Context, hashed.Image = "", "", ""
	b, err := json.Marshal(hashed)
	if err != nil {
		return fmt.Errorf("service %s: build hash: %w", s.Name, err)
	}
	sum := sha256.Sum256(b)
	spec.Hash = "sha256:" + hex.EncodeToString(sum[:])
	spec.Image = reconcile.BuildImage(spec.Image, spec.Hash)
	return nil
}

// buildArgs are the build args with a value: compose-go has filled those
// without one from the stack's environment; what is still unset is left
// to the Dockerfile's ARG default, as the Engine would.
func buildArgs(in types.MappingWithEquals) map[string]string {
	var out map[string]string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if v := in[k]; v != nil {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = *v
		}
	}
	return out
}

// emptyAsNil is s, or nil when s is empty: a spec says "none" one way
// only, so that it reads back from JSON (which omits both) as it was.
func emptyAsNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/buildcontext"
	"github.com/moor-dev/moor/reconcile"
)

// buildOutputLines is how many lines of a failed build's output its error
// carries: enough to show the failing step and what it printed.
const buildOutputLines = 20

// Build builds spec.Image with the Engine's classic builder (API 1.41
// has no BuildKit session, and Docker 20.10 without buildx has no other),
// from a tar stream of the context moor writes itself from the snapshot.
// The stream is cut short, and nothing is built, if the context no longer
// hashes to spec.ContextDigest.
func (d *Docker) Build(ctx context.Context, spec reconcile.BuildSpec) error {
	root, err := os.OpenRoot(spec.Root)
	if err != nil {
		return fmt.Errorf("build %s: %w", spec.Image, err)
	}
	defer root.Close()
	bc := buildcontext.Context{Root: root, Dir: spec.Context, Dockerfile: spec.Dockerfile}
	if spec.DockerfileInline != "" {
		bc.Inline = []byte(spec.DockerfileInline)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		_, err := buildcontext.Write(ctx, bc, pw, spec.ContextDigest)
		pw.CloseWithError(err) // nil closes it cleanly
		sent <- err
	}()
	auths, err := buildAuths()
	if err != nil {
		return fmt.Errorf("build %s: %w", spec.Image, err)
	}
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[reconcile.LabelBuildHash] = spec.Hash
	opts := client.ImageBuildOptions{
		Version:     build.BuilderV1,
		Tags:        append([]string{spec.Image}, spec.Tags...),
		Dockerfile:  spec.Dockerfile,
		Remove:      true,
		ForceRemove: true,
		NoCache:     spec.NoCache,
		PullParent:  spec.Pull,
		BuildArgs:   buildArgs(spec.Args),
		Labels:      labels,
		NetworkMode: spec.Network,
		ExtraHosts:  spec.ExtraHosts,
		Target:      spec.Target,
		ShmSize:     spec.ShmSize,
		AuthConfigs: auths,
	}
	d.call()
	res, err := d.cli.ImageBuild(ctx, pr, opts)
	if err != nil {
		pr.CloseWithError(err)
		if serr := <-sent; serr != nil {
			return fmt.Errorf("build %s: %w", spec.Image, serr)
		}
		return fmt.Errorf("build %s: %w", spec.Image, classify(err))
	}
	defer res.Body.Close()
	_, err = buildOutput(res.Body)
	pr.Close()
	if serr := <-sent; serr != nil && !errors.Is(serr, io.ErrClosedPipe) {
		return fmt.Errorf("build %s: %w", spec.Image, serr)
	}
	if err != nil {
		return fmt.Errorf("build %s: %w", spec.Image, err)
	}
	return nil
}

// buildAuths are every registry credential the docker CLI has (as compose
// sends them to the classic builder), for the builder to pull FROM images
// that are not local; read at every build, as Pull reads them.
func buildAuths() (map[string]registry.AuthConfig, error) {
	dir := os.Getenv(config.EnvOverrideConfigDir)
	if dir == "" {
		dir = config.Dir()
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	creds, err := cfg.GetAllCredentials()
	if err != nil {
		return nil, fmt.Errorf("registry credentials: %w", err)
	}
	out := make(map[string]registry.AuthConfig, len(creds))
	for host, a := range creds {
		out[host] = registry.AuthConfig{
			Username:      a.Username,
			Password:      a.Password,
			Auth:          a.Auth,
			ServerAddress: a.ServerAddress,
			IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken,
		}
	}
	return out, nil
}

// buildArgs is the API's form of build args: a value for each.
func buildArgs(args map[string]string) map[string]*string {
	if len(args) == 0 {
		return nil
	}
	out := make(map[string]*string, len(args))
	for k, v := range args {
		out[k] = &v
	}
	return out
}

// BuildError is a build the builder ran and that failed: its message and
// the last lines of its output.
type BuildError struct {
	Message string
	Output  string
}

func (e *BuildError) Error() string {
	if e.Output == "" {
		return e.Message
	}
	return e.Message + "; last output:\n" + e.Output
}

// buildOutput reads the builder's stream of JSON messages to its end and
// returns the last lines of its output; a failed build is a *BuildError.
func buildOutput(r io.Reader) (string, error) {
	var lines []string
	add := func(s string) {
		for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			lines = append(lines, strings.TrimRight(l, "\r"))
			if len(lines) > buildOutputLines {
				lines = lines[1:]
			}
		}
	}
	dec := json.NewDecoder(r)
	for {
		var m struct {
			jsonstream.Message
			ErrorMessage string `json:"error"` // engines before API 1.44
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return strings.Join(lines, "\n"), nil
			}
			return strings.Join(lines, "\n"), fmt.Errorf("read build output: %w", err)
		}
		add(m.Stream)
		msg := m.ErrorMessage
		if m.Error != nil && m.Error.Message != "" {
			msg = m.Error.Message
		}
		if msg != "" {
			return "", &BuildError{Message: msg, Output: strings.Join(lines, "\n")}
		}
	}
}

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/config"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerHubAuthKey is where the docker CLI stores Docker Hub credentials.
const dockerHubAuthKey = "https://index.docker.io/v1/"

// Pull pulls ref with the credentials the docker CLI would use for its
// registry (config.json in DOCKER_CONFIG or ~/.docker, credential helpers
// included), read at every pull so that a `docker login` takes effect
// without a restart. The engine reports most failures inside the progress
// stream with a 200 answer; the first one is the error.
func (d *Docker) Pull(ctx context.Context, ref, platform string) error {
	auth, err := registryAuth(ref)
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	opts := client.ImagePullOptions{RegistryAuth: auth}
	if platform != "" {
		p, err := platforms.Parse(platform)
		if err != nil {
			return fmt.Errorf("pull %s: platform %q: %w", ref, platform, err)
		}
		opts.Platforms = []ocispec.Platform{p}
	}
	d.call()
	resp, err := d.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, classify(err))
	}
	defer resp.Close()
	if err := streamError(resp); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// registryAuth is the encoded X-Registry-Auth value for ref's registry:
// empty credentials when none are configured.
func registryAuth(ref string) (string, error) {
	host, err := registryHost(ref)
	if err != nil {
		return "", err
	}
	if host == "docker.io" {
		host = dockerHubAuthKey
	}
	// config.Dir caches DOCKER_CONFIG at its first call; read it each time.
	dir := os.Getenv(config.EnvOverrideConfigDir)
	if dir == "" {
		dir = config.Dir()
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	a, err := cfg.GetAuthConfig(host)
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", host, err)
	}
	return authconfig.Encode(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		Auth:          a.Auth,
		ServerAddress: a.ServerAddress,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	})
}

// streamError reads a JSON progress stream to its end and returns the first
// error in it.
func streamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			jsonstream.Message
			// Engines before API 1.44 also send the message here.
			ErrorMessage string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		if m.Error != nil && m.Error.Message != "" {
			return errors.New(m.Error.Message)
		}
		if m.ErrorMessage != "" {
			return errors.New(m.ErrorMessage)
		}
	}
}

// CreateNetwork creates a network unless one of that name exists, whoever
// made it: an existing network is what compose's external and pre-existing
// networks rely on. Engines before API 1.44 would create a second network
// of the same name, so the name is looked up first.
func (d *Docker) CreateNetwork(ctx context.Context, spec reconcile.NetworkSpec, labels map[string]string) error {
	exists, err := d.networkExists(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	if exists {
		return nil
	}
	if spec.External {
		return fmt.Errorf("create network %s: external network does not exist: %w", spec.Name, reconcile.ErrNotFound)
	}
	opts := client.NetworkCreateOptions{
		Driver:     spec.Driver,
		Internal:   spec.Internal,
		Attachable: spec.Attachable,
		Options:    spec.DriverOpts,
		Labels:     merge(spec.Labels, labels),
	}
	if spec.EnableIPv6 {
		opts.EnableIPv6 = &spec.EnableIPv6
	}
	if opts.IPAM, err = ipam(spec.IPAM); err != nil {
		return fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	d.call()
	if _, err := d.cli.NetworkCreate(ctx, spec.Name, opts); err != nil && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("create network %s: %w", spec.Name, classify(err))
	}
	return nil
}

// networkExists looks a network up by exact name. (The list filter matches
// substrings; inspect would also match ID prefixes.)
func (d *Docker) networkExists(ctx context.Context, name string) (bool, error) {
	d.call()
	res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return false, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range res.Items {
		if n.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func ipam(c *reconcile.IPAM) (*network.IPAM, error) {
	if c == nil {
		return nil, nil
	}
	out := &network.IPAM{Driver: c.Driver}
	for _, p := range c.Config {
		var pool network.IPAMConfig
		var err error
		if p.Subnet != "" {
			if pool.Subnet, err = netip.ParsePrefix(p.Subnet); err != nil {
				return nil, fmt.Errorf("ipam subnet: %w", err)
			}
		}
		if p.IPRange != "" {
			if pool.IPRange, err = netip.ParsePrefix(p.IPRange); err != nil {
				return nil, fmt.Errorf("ipam ip_range: %w", err)
			}
		}
		if p.Gateway != "" {
			if pool.Gateway, err = netip.ParseAddr(p.Gateway); err != nil {
				return nil, fmt.Errorf("ipam gateway: %w", err)
			}
		}
		out.Config = append(out.Config, pool)
	}
	return out, nil
}

// RemoveNetwork removes a network by name; an absent one is success.
func (d *Docker) RemoveNetwork(ctx context.Context, name string) error {
	d.call()
	if _, err := d.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", name, classify(err))
	}
	return nil
}

// CreateVolume creates a named volume; the engine returns an existing one
// of that name as it is. An external volume is only checked for.
func (d *Docker) CreateVolume(ctx context.Context, spec reconcile.VolumeSpec, labels map[string]string) error {
	if spec.External {
		d.call()
		if _, err := d.cli.VolumeInspect(ctx, spec.Name, client.VolumeInspectOptions{}); err != nil {
			return fmt.Errorf("create volume %s: external volume: %w", spec.Name, classify(err))
		}
		return nil
	}
	d.call()
	_, err := d.cli.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: spec.Name, Driver: spec.Driver, DriverOpts: spec.DriverOpts, Labels: merge(spec.Labels, labels),
	})
	if err != nil {
		return fmt.Errorf("create volume %s: %w", spec.Name, classify(err))
	}
	return nil
}

// merge returns the union of a and b; b wins.
func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// RemoveVolume removes a named volume; an absent one is success.
func (d *Docker) RemoveVolume(ctx context.Context, name string) error {
	d.call()
	if _, err := d.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, classify(err))
	}
	return nil
}

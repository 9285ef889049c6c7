package runtime

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// RegistryDigest asks the engine to ask ref's registry which manifest the
// tag names (GET /distribution/REF/json: the registry's manifest, no
// layer), with the credentials Pull uses. The digest is the one a pull of
// ref records among the image's repo digests: for a tag of several
// platforms, the digest of its index, as the pull records it.
func (d *Docker) RegistryDigest(ctx context.Context, ref string) (string, error) {
	auth, err := registryAuth(ref)
	if err != nil {
		return "", fmt.Errorf("registry digest of %s: %w", ref, err)
	}
	d.call()
	res, err := d.cli.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	if err != nil {
		return "", fmt.Errorf("registry digest of %s: %w", ref, classify(err))
	}
	dg := res.Descriptor.Digest.String()
	if dg == "" {
		return "", fmt.Errorf("registry digest of %s: the registry named no digest", ref)
	}
	return dg, nil
}

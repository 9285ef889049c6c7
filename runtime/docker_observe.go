package runtime

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/moor-dev/moor/reconcile"
)

// Observe lists the containers, networks and volumes of compose projects
// (moor's carry compose's project label too), apart by whether they carry
// reconcile.LabelStack, and every local image: four list calls, and two
// inspects for each running container that shares another's network
// namespace (StaleNamespace).
// A container whose image itself carries LabelStack is marked ImageLabeled:
// its moor labels may be the image's, not moor's.
func (d *Docker) Observe(ctx context.Context) (*reconcile.Observed, error) {
	owned := make(client.Filters).Add("label", reconcile.LabelComposeProject)
	obs := &reconcile.Observed{Images: map[string]string{}}

	// The four lists are independent: asked at once, they cost the
	// longest of them (the containers') instead of their sum.
	var (
		cs client.ContainerListResult
		ns client.NetworkListResult
		vs client.VolumeListResult
		is client.ImageListResult
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		d.call()
		if cs, err = d.cli.ContainerList(gctx, client.ContainerListOptions{All: true, Filters: owned}); err != nil {
			return fmt.Errorf("list containers: %w", classify(err))
		}
		return nil
	})
	g.Go(func() (err error) {
		d.call()
		if ns, err = d.cli.NetworkList(gctx, client.NetworkListOptions{Filters: owned}); err != nil {
			return fmt.Errorf("list networks: %w", classify(err))
		}
		return nil
	})
	g.Go(func() (err error) {
		d.call()
		if vs, err = d.cli.VolumeList(gctx, client.VolumeListOptions{Filters: owned}); err != nil {
			return fmt.Errorf("list volumes: %w", classify(err))
		}
		return nil
	})
	g.Go(func() (err error) {
		d.call()
		if is, err = d.cli.ImageList(gctx, client.ImageListOptions{}); err != nil {
			return fmt.Errorf("list images: %w", classify(err))
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	var err error
	for _, s := range cs.Items {
		c := fromSummary(s)
		if c.Stack == "" {
			obs.Compose = append(obs.Compose, c)
			continue
		}
		if provider, ok := strings.CutPrefix(s.HostConfig.NetworkMode, "container:"); ok && c.Running() {
			if c.StaleNamespace, err = d.staleNamespace(ctx, s.ID, provider); err != nil {
				return nil, err
			}
		}
		obs.Containers = append(obs.Containers, c)
	}

	for _, n := range ns.Items {
		net := reconcile.Network{
			ID: n.ID, Name: n.Name, Labels: n.Labels, Project: n.Labels[reconcile.LabelComposeProject],
			Stack: n.Labels[reconcile.LabelStack], Source: n.Labels[reconcile.LabelSource], Owner: n.Labels[reconcile.LabelOwner],
		}
		if net.Stack == "" {
			obs.ComposeNetworks = append(obs.ComposeNetworks, net)
			continue
		}
		obs.Networks = append(obs.Networks, net)
	}

	for _, v := range vs.Items {
		vol := reconcile.Volume{
			Name: v.Name, Labels: v.Labels, Project: v.Labels[reconcile.LabelComposeProject],
			Stack: v.Labels[reconcile.LabelStack], Source: v.Labels[reconcile.LabelSource], Owner: v.Labels[reconcile.LabelOwner],
		}
		if vol.Stack == "" {
			obs.ComposeVolumes = append(obs.ComposeVolumes, vol)
			continue
		}
		obs.Volumes = append(obs.Volumes, vol)
	}

	labeled := map[string]bool{}
	for _, img := range is.Items {
		if _, ok := img.Labels[reconcile.LabelStack]; ok {
			labeled[img.ID] = true
		}
		if h, ok := img.Labels[reconcile.LabelBuildHash]; ok {
			if obs.BuildHashes == nil {
				obs.BuildHashes = map[string]string{}
			}
			obs.BuildHashes[img.ID] = h
		}
		for _, ref := range append(img.RepoTags, img.RepoDigests...) {
			if ref == "<none>:<none>" || ref == "<none>@<none>" {
				continue
			}
			obs.Images[familiarRef(ref)] = img.ID
		}
	}
	for i := range obs.Containers {
		obs.Containers[i].ImageLabeled = labeled[obs.Containers[i].ImageID]
	}
	for i := range obs.Compose {
		obs.Compose[i].ImageLabeled = labeled[obs.Compose[i].ImageID]
	}
	sortObserved(obs)
	return obs, nil
}

// sortObserved puts every list in name order: the daemon's order is not a
// contract.
func sortObserved(obs *reconcile.Observed) {
	sort.Slice(obs.Containers, func(i, j int) bool { return obs.Containers[i].Name < obs.Containers[j].Name })
	// Engines before API 1.44 allow two networks of one name.
	sort.Slice(obs.Networks, func(i, j int) bool {
		a, b := obs.Networks[i], obs.Networks[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID < b.ID
	})
	sort.Slice(obs.Volumes, func(i, j int) bool { return obs.Volumes[i].Name < obs.Volumes[j].Name })
	sort.Slice(obs.Compose, func(i, j int) bool { return obs.Compose[i].Name < obs.Compose[j].Name })
	sort.Slice(obs.ComposeNetworks, func(i, j int) bool { return obs.ComposeNetworks[i].Name < obs.ComposeNetworks[j].Name })
	sort.Slice(obs.ComposeVolumes, func(i, j int) bool { return obs.ComposeVolumes[i].Name < obs.ComposeVolumes[j].Name })
}

// staleNamespace reports whether the provider of the network namespace
// container id joined started after it: a restart of the provider made a
// new namespace, and id was left in the old one, without a network. Only
// containers that share another's namespace pay for the two inspects.
func (d *Docker) staleNamespace(ctx context.Context, id, provider string) (bool, error) {
	started := func(ref string) (time.Time, bool, error) {
		d.call()
		res, err := d.cli.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return time.Time{}, false, nil
		}
		if err != nil {
			return time.Time{}, false, fmt.Errorf("inspect container %s: %w", ref, classify(err))
		}
		if res.Container.State == nil || !res.Container.State.Running {
			return time.Time{}, false, nil
		}
		t, err := time.Parse(time.RFC3339Nano, res.Container.State.StartedAt)
		return t, err == nil, nil
	}
	self, ok, err := started(id)
	if err != nil || !ok {
		return false, err
	}
	other, ok, err := started(provider)
	if err != nil || !ok {
		return false, err
	}
	return other.After(self), nil
}

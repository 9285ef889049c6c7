package runtime

import (
	"context"
	"fmt"
	"sort"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

// Observe lists moor's containers, networks and volumes (those carrying
// reconcile.LabelStack) and every local image: four list calls, no inspect.
// A container whose image itself carries LabelStack is marked ImageLabeled:
// its moor labels may be the image's, not moor's.
func (d *Docker) Observe(ctx context.Context) (*reconcile.Observed, error) {
	owned := make(client.Filters).Add("label", reconcile.LabelStack)
	obs := &reconcile.Observed{Images: map[string]string{}}

	d.call()
	cs, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: owned})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", classify(err))
	}
	for _, s := range cs.Items {
		obs.Containers = append(obs.Containers, fromSummary(s))
	}

	d.call()
	ns, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: owned})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", classify(err))
	}
	for _, n := range ns.Items {
		obs.Networks = append(obs.Networks, reconcile.Network{
			ID: n.ID, Name: n.Name, Labels: n.Labels,
			Stack: n.Labels[reconcile.LabelStack], Source: n.Labels[reconcile.LabelSource], Owner: n.Labels[reconcile.LabelOwner],
		})
	}

	d.call()
	vs, err := d.cli.VolumeList(ctx, client.VolumeListOptions{Filters: owned})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", classify(err))
	}
	for _, v := range vs.Items {
		obs.Volumes = append(obs.Volumes, reconcile.Volume{
			Name: v.Name, Labels: v.Labels,
			Stack: v.Labels[reconcile.LabelStack], Source: v.Labels[reconcile.LabelSource], Owner: v.Labels[reconcile.LabelOwner],
		})
	}

	d.call()
	is, err := d.cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", classify(err))
	}
	labeled := map[string]bool{}
	for _, img := range is.Items {
		if _, ok := img.Labels[reconcile.LabelStack]; ok {
			labeled[img.ID] = true
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
}

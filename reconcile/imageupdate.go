package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Image updates without a commit: an image-update run asks the registry
// which digest each tag the source's services run names now
// (Observed.Registry). Where the registry names another image than the
// container runs, the planner pulls the tag (before anything is stopped)
// and replaces the service's replicas, with the service's rollout, health
// gates and rollback, as for a commit's change. The planner compares
// digests only: what the engine knows an image by (its repo digests, in
// Observed.Images) against what the registry says.

// ImageUpdate is a service whose tag the registry names another image by
// than the one its containers run.
type ImageUpdate struct {
	Stack   string `json:"stack"`
	Service string `json:"service"`
	Image   string `json:"image"` // the tag, "registry:5000/app:1"
	// From is the digest the engine knows the running image by, "" when
	// it knows none (an image that was never pulled from the registry).
	From string `json:"from,omitempty"`
	To   string `json:"to"` // the digest the registry names
}

// WatchesTag reports whether an image-update run checks svc's image in
// the registry: a tag, not a digest; not built by moor; pulled (its
// pull_policy is not never).
func (s *Service) WatchesTag() bool {
	_, tagged := repoOf(s.Spec.Image)
	return tagged && s.Build == nil && s.PullPolicy != PullNever && s.PullPolicy != PullBuild
}

// repoOf splits a familiar reference with a tag, "registry:5000/app:1",
// into its repository, "registry:5000/app"; a reference pinned by digest
// is not a tag (false).
func repoOf(ref string) (string, bool) {
	if strings.Contains(ref, "@") {
		return "", false
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, true
	}
	return ref[:i], true
}

// digestsOf are the digests under which the local image id is known in
// repo (its repo digests), sorted.
func digestsOf(images map[string]string, repo, id string) []string {
	var ds []string
	if id == "" {
		return nil
	}
	for _, ref := range slices.Sorted(maps.Keys(images)) {
		if d, ok := strings.CutPrefix(ref, repo+"@"); ok && images[ref] == id {
			ds = append(ds, d)
		}
	}
	return ds
}

// ShortDigest is a digest as a plan prints it: "sha256:" and 12 hex.
func ShortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok {
		return d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return algo + ":" + hex
}

// registryMove says which digest the registry names svc's tag by and
// whether the local image id is not that one (the tag moved), for a
// service whose tag was checked.
func registryMove(images, registry map[string]string, svc *Service, id string) (to string, moved bool) {
	to = registry[svc.Spec.Image]
	if to == "" || !svc.WatchesTag() {
		return "", false
	}
	repo, _ := repoOf(svc.Spec.Image)
	return to, !slices.Contains(digestsOf(images, repo, id), to)
}

// tagMoved says whether the registry names svc's tag by another image
// than the local one, imageID ("" when absent: then it is pulled anyway).
func (b *builder) tagMoved(svc *Service, imageID string) (string, bool) {
	if imageID == "" {
		return "", false
	}
	return registryMove(b.images, b.registry, svc, imageID)
}

// pullMoved plans the pull of svc's tag, which moved in the registry to
// the digest to, unless another service asked for it first.
func (b *builder) pullMoved(stack string, svc *Service, to string) {
	if _, ok := b.pulls[svc.Spec.Image]; ok {
		return
	}
	cause := fmt.Sprintf("tag moved in the registry to %s, wanted by %s", ShortDigest(to), ServiceKey(stack, svc.Name))
	op := pullOp(svc.Spec.Image, svc.Spec.Platform, cause)
	op.Stack, op.Service = stack, svc.Name
	b.pulls[svc.Spec.Image] = &op
}

// imageUpdated says why the container cur of svc must be replaced because
// the registry names svc's tag by another image than cur runs, or "".
func (b *builder) imageUpdated(svc *Service, cur *Container) string {
	to, moved := registryMove(b.images, b.registry, svc, cur.ImageID)
	if !moved {
		return ""
	}
	repo, _ := repoOf(svc.Spec.Image)
	from := ShortID(cur.ImageID)
	if ds := digestsOf(b.images, repo, cur.ImageID); len(ds) > 0 {
		from = ShortDigest(ds[0])
	}
	return fmt.Sprintf("image updated: %s %s -> %s", svc.Spec.Image, from, ShortDigest(to))
}

// ImageUpdates lists the services of d whose containers (of d's source)
// run another image than the one the registry names their tag by
// (o.Registry), in d.EachService's order: what an image-update run
// rolls out. From is the digest of the first replica that differs.
func ImageUpdates(d *Desired, o *Observed) []ImageUpdate {
	var ups []ImageUpdate
	d.EachService(func(stack string, svc *Service) {
		for _, c := range o.Containers { // sorted by name
			if c.Source != d.Source || c.Stack != stack || c.Service != svc.Name || c.Retired ||
				strings.HasSuffix(c.Name, CandidateSuffix) {
				continue
			}
			to, moved := registryMove(o.Images, o.Registry, svc, c.ImageID)
			if !moved {
				continue
			}
			repo, _ := repoOf(svc.Spec.Image)
			up := ImageUpdate{Stack: stack, Service: svc.Name, Image: svc.Spec.Image, To: to}
			if ds := digestsOf(o.Images, repo, c.ImageID); len(ds) > 0 {
				up.From = ds[0]
			}
			ups = append(ups, up)
			return
		}
	})
	return ups
}

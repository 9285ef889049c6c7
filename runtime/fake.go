package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/moor-dev/moor/reconcile"
)

// Fake is reconcile.Runtime in memory, for the planner and executor
// convergence tests. It keeps containers, networks, volumes and images in
// maps, follows the engine's idempotency rules, and shows the planner what
// the Docker adapter would: Observe renders each container as a list entry
// and parses it with the adapter's own functions.
//
// Health follows a simple life: a container whose spec has a healthcheck
// starts "starting" and turns "healthy" at its next InspectContainer, or
// "unhealthy" when its image was marked with UnhealthyImage or its health
// was pinned with SetHealth. A container of an image marked with CrashImage
// exits with 1 when started (or restarts, under a restart policy).
//
// IDs are deterministic (a counter, hashed) and timestamps count seconds
// from a fixed instant, so String is stable across runs. All methods are
// safe for concurrent use.
type Fake struct {
	mu         sync.Mutex
	seq        int
	containers map[string]*fakeContainer    // by ID
	networks   map[string]*fakeResource     // by name
	volumes    map[string]*fakeResource     // by name
	images     map[string]string            // local reference (familiar) -> ID
	imgLabels  map[string]map[string]string // image ID -> the image's own labels
	registry   map[string]string            // pullable reference (familiar) -> ID
	unhealthy  map[string]bool              // image references (familiar)
	crash      map[string]bool              // image references (familiar)
	jobs       map[string]fakeJob           // image references (familiar)
	faults     []*injected
	calls      map[string]int
	changes    []string // the journal: every change asked for, in order

	// execExits are how Exec of a command (its words joined by spaces)
	// ends (ExecExits); any other exits 0.
	execExits map[string]reconcile.ExecResult
}

var _ reconcile.Runtime = (*Fake)(nil)

type fakeContainer struct {
	id, name string
	spec     reconcile.ContainerSpec
	labels   map[string]string
	imageID  string
	state    string
	exitCode int
	health   string
	pinned   string // health set by SetHealth; it sticks
	exposed  bool   // attached under its aliases (not a fresh candidate)
	created  time.Time
	logs     []string
}

type fakeResource struct {
	id     string
	labels map[string]string
}

// fakeEpoch is the creation time of the fake's first container.
var fakeEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// NewFake returns an empty engine: no containers, networks, volumes or
// images, and nothing to pull.
func NewFake() *Fake {
	return &Fake{
		containers: map[string]*fakeContainer{},
		networks:   map[string]*fakeResource{},
		volumes:    map[string]*fakeResource{},
		images:     map[string]string{},
		imgLabels:  map[string]map[string]string{},
		registry:   map[string]string{},
		unhealthy:  map[string]bool{},
		crash:      map[string]bool{},
		jobs:       map[string]fakeJob{},
		calls:      map[string]int{},
	}
}

// nextID returns a new 64-hex ID: deterministic, with distinct short forms.
func (f *Fake) nextID(kind string) string {
	f.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s-%d", kind, f.seq))
	return hex.EncodeToString(sum[:])
}

// begin counts a call of method and returns the injected fault for it, if
// any matches one of names. The caller holds f.mu.
func (f *Fake) begin(method string, names ...string) error {
	f.calls[method]++
	return f.fault(method, names...)
}

// find resolves a container by exact ID or name. The caller holds f.mu.
func (f *Fake) find(idOrName string) *fakeContainer {
	if c, ok := f.containers[idOrName]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.name == idOrName {
			return c
		}
	}
	return nil
}

// subjects are the names a fault on container idOrName may be keyed by.
func (f *Fake) subjects(idOrName string) []string {
	if c := f.find(idOrName); c != nil {
		return []string{idOrName, c.id, c.name}
	}
	return []string{idOrName}
}

func notFound(format string, args ...any) error {
	return classified{reconcile.ErrNotFound, fmt.Errorf(format, args...)}
}

func conflict(format string, args ...any) error {
	return classified{reconcile.ErrConflict, fmt.Errorf(format, args...)}
}

// Observe lists what carries reconcile.LabelStack, and every image, as the
// Docker adapter does.
func (f *Fake) Observe(ctx context.Context) (*reconcile.Observed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Observe", "*"); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	obs := &reconcile.Observed{Images: maps.Clone(f.images)}
	for id, labels := range f.imgLabels {
		if h, ok := labels[reconcile.LabelBuildHash]; ok {
			if obs.BuildHashes == nil {
				obs.BuildHashes = map[string]string{}
			}
			obs.BuildHashes[id] = h
		}
	}
	for _, c := range f.containers {
		_, moors := c.labels[reconcile.LabelStack]
		_, composes := c.labels[reconcile.LabelComposeProject]
		if !moors && !composes {
			continue
		}
		oc := fromSummary(f.summary(c))
		_, oc.ImageLabeled = f.imgLabels[c.imageID][reconcile.LabelStack]
		if moors {
			obs.Containers = append(obs.Containers, oc)
		} else {
			obs.Compose = append(obs.Compose, oc)
		}
	}
	for name, n := range f.networks {
		net := reconcile.Network{
			ID: n.id, Name: name, Labels: maps.Clone(n.labels), Project: n.labels[reconcile.LabelComposeProject],
			Stack: n.labels[reconcile.LabelStack], Source: n.labels[reconcile.LabelSource], Owner: n.labels[reconcile.LabelOwner],
		}
		switch {
		case net.Stack != "":
			obs.Networks = append(obs.Networks, net)
		case net.Project != "":
			obs.ComposeNetworks = append(obs.ComposeNetworks, net)
		}
	}
	for name, v := range f.volumes {
		vol := reconcile.Volume{
			Name: name, Labels: maps.Clone(v.labels), Project: v.labels[reconcile.LabelComposeProject],
			Stack: v.labels[reconcile.LabelStack], Source: v.labels[reconcile.LabelSource], Owner: v.labels[reconcile.LabelOwner],
		}
		switch {
		case vol.Stack != "":
			obs.Volumes = append(obs.Volumes, vol)
		case vol.Project != "":
			obs.ComposeVolumes = append(obs.ComposeVolumes, vol)
		}
	}
	sortObserved(obs)
	return obs, nil
}

// summary renders c as a list entry. Like the engine, it names the image
// by its ID once the reference points at another image.
func (f *Fake) summary(c *fakeContainer) container.Summary {
	image := c.spec.Image
	if f.images[familiarRef(image)] != c.imageID {
		image = c.imageID
	}
	return container.Summary{
		ID:      c.id,
		Names:   []string{"/" + c.name},
		Image:   image,
		ImageID: c.imageID,
		Created: c.created.Unix(),
		Labels:  maps.Clone(c.labels),
		State:   container.ContainerState(c.state),
		Status:  statusText(c.state, c.exitCode, c.health),
		Mounts:  f.mountPoints(c),
	}
}

// mountPoints are the container's binds as the engine lists them.
func (f *Fake) mountPoints(c *fakeContainer) []container.MountPoint {
	var mps []container.MountPoint
	for _, m := range c.spec.Mounts {
		if m.Type == reconcile.MountBind {
			mps = append(mps, container.MountPoint{Type: mount.TypeBind, Source: m.Source, Destination: m.Target})
		}
	}
	return mps
}

// Pull fetches ref from the fake registry (see Publish) into the local
// images. A reference the registry does not have fails with ErrNotFound.
// The fake's images have no platform: platform is not checked.
func (f *Fake) Pull(ctx context.Context, ref, platform string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "Pull", ref)
	fam := familiarRef(ref)
	if err := f.begin("Pull", ref, fam); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	id, ok := f.registry[fam]
	if !ok {
		return fmt.Errorf("pull %s: %w", ref, notFound("manifest for %s not found: manifest unknown", fam))
	}
	f.images[fam] = id
	// As the engine records the repo digest of what it pulled.
	if repo, tagged := strings.CutSuffix(fam, ":"+tagOf(fam)); tagged {
		f.images[repo+"@"+FakeDigest(id)] = id
	}
	return nil
}

// RegistryDigest says which image the fake registry names ref by (see
// Publish), as FakeDigest of its ID. A reference the registry does not
// have is ErrNotFound.
func (f *Fake) RegistryDigest(ctx context.Context, ref string) (_ string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fam := familiarRef(ref)
	if err := f.begin("RegistryDigest", ref, fam); err != nil {
		return "", fmt.Errorf("registry digest of %s: %w", ref, err)
	}
	id, ok := f.registry[fam]
	if !ok {
		return "", fmt.Errorf("registry digest of %s: %w", ref, notFound("manifest for %s not found: manifest unknown", fam))
	}
	return FakeDigest(id), nil
}

// FakeDigest is the manifest digest the fake registry serves the image id
// under, and a pull of it records.
func FakeDigest(id string) string {
	sum := sha256.Sum256([]byte("manifest " + id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tagOf is the tag of a familiar reference, "" for one pinned by digest.
func tagOf(fam string) string {
	if strings.Contains(fam, "@") {
		return ""
	}
	i := strings.LastIndex(fam, ":")
	if i < 0 || strings.Contains(fam[i:], "/") {
		return ""
	}
	return fam[i+1:]
}

// Build makes spec.Image a local image, as a build of spec would: an ID
// derived from spec.Hash, the tags of spec, and spec's labels with
// LabelBuildHash. It reads no file. Inject a fault on spec.Image (or "*")
// to make it fail as a broken Dockerfile would: no tag changes.
func (f *Fake) Build(ctx context.Context, spec reconcile.BuildSpec) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "Build", spec.Image)
	if err := f.begin("Build", spec.Image); err != nil {
		return fmt.Errorf("build %s: %w", spec.Image, err)
	}
	sum := sha256.Sum256([]byte("build " + spec.Hash))
	id := "sha256:" + hex.EncodeToString(sum[:])
	for _, ref := range append([]string{spec.Image}, spec.Tags...) {
		f.images[familiarRef(ref)] = id
	}
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[reconcile.LabelBuildHash] = spec.Hash
	f.imgLabels[id] = labels
	return nil
}

// CreateNetwork creates a network unless one of the name exists.
func (f *Fake) CreateNetwork(ctx context.Context, spec reconcile.NetworkSpec, labels map[string]string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "CreateNetwork", spec.Name)
	if err := f.begin("CreateNetwork", spec.Name); err != nil {
		return fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	if _, ok := f.networks[spec.Name]; ok {
		return nil
	}
	if spec.External {
		return fmt.Errorf("create network %s: external network does not exist: %w", spec.Name, reconcile.ErrNotFound)
	}
	f.networks[spec.Name] = &fakeResource{id: f.nextID("network"), labels: merge(spec.Labels, labels)}
	return nil
}

// RemoveNetwork removes a network; an absent one is success, one a running
// container uses is an error (the engine's "active endpoints").
func (f *Fake) RemoveNetwork(ctx context.Context, name string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "RemoveNetwork", name)
	if err := f.begin("RemoveNetwork", name); err != nil {
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	if _, ok := f.networks[name]; !ok {
		return nil
	}
	for _, c := range f.containers {
		if c.state == reconcile.StateRunning && c.onNetwork(name) {
			return fmt.Errorf("remove network %s: network has active endpoints (%s)", name, c.name)
		}
	}
	delete(f.networks, name)
	return nil
}

func (c *fakeContainer) onNetwork(name string) bool {
	return c.spec.NetworkMode == "" && slices.ContainsFunc(c.spec.Networks, func(a reconcile.NetworkAttachment) bool { return a.Name == name })
}

// CreateVolume creates a named volume unless it exists.
func (f *Fake) CreateVolume(ctx context.Context, spec reconcile.VolumeSpec, labels map[string]string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "CreateVolume", spec.Name)
	if err := f.begin("CreateVolume", spec.Name); err != nil {
		return fmt.Errorf("create volume %s: %w", spec.Name, err)
	}
	if _, ok := f.volumes[spec.Name]; ok {
		return nil
	}
	if spec.External {
		return fmt.Errorf("create volume %s: external volume: %w", spec.Name, notFound("no such volume"))
	}
	f.volumes[spec.Name] = &fakeResource{labels: merge(spec.Labels, labels)}
	return nil
}

// RemoveVolume removes a volume unless a container uses it.
func (f *Fake) RemoveVolume(ctx context.Context, name string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "RemoveVolume", name)
	if err := f.begin("RemoveVolume", name); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if _, ok := f.volumes[name]; !ok {
		return nil
	}
	for _, c := range f.containers {
		for _, m := range c.spec.Mounts {
			if m.Type == reconcile.MountVolume && m.Source == name {
				return fmt.Errorf("remove volume %s: volume is in use (%s)", name, c.name)
			}
		}
	}
	delete(f.volumes, name)
	return nil
}

// Expose marks a candidate as attached under its aliases.
func (f *Fake) Expose(ctx context.Context, id, name string, spec reconcile.ContainerSpec, service string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "Expose", f.label(id))
	if err := f.begin("Expose", f.subjects(id)...); err != nil {
		return fmt.Errorf("expose container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("expose container %s: %w", id, notFound("no such container"))
	}
	c.exposed = true
	return nil
}

// CreateContainer creates a container in state "created". The image must be
// local and the networks must exist; a named volume that does not exist is
// created without labels, as the engine does.
func (f *Fake) CreateContainer(ctx context.Context, name string, spec reconcile.ContainerSpec, labels map[string]string) (_ string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "CreateContainer", name)
	if err := f.begin("CreateContainer", name); err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	if f.find(name) != nil {
		return "", fmt.Errorf("create container %s: %w", name, conflict("the container name %q is already in use", name))
	}
	imageID, ok := f.images[familiarRef(spec.Image)]
	if !ok {
		return "", fmt.Errorf("create container %s: %w", name, notFound("image %s not present", spec.Image))
	}
	if spec.NetworkMode == "" {
		for _, n := range spec.Networks {
			if _, ok := f.networks[n.Name]; !ok {
				return "", fmt.Errorf("create container %s: %w", name, notFound("network %s not found", n.Name))
			}
		}
	}
	for _, m := range spec.Mounts {
		if _, ok := f.volumes[m.Source]; m.Type == reconcile.MountVolume && m.Source != "" && !ok {
			f.volumes[m.Source] = &fakeResource{labels: map[string]string{}}
		}
	}
	c := &fakeContainer{
		id: f.nextID("container"), name: name, spec: spec,
		labels:  merge(merge(merge(f.imgLabels[imageID], spec.Labels), labels), map[string]string{reconcile.LabelComposeImage: imageID}),
		imageID: imageID, state: reconcile.StateCreated, created: fakeEpoch.Add(time.Duration(f.seq) * time.Second),
		exposed: !strings.HasSuffix(name, reconcile.CandidateSuffix),
	}
	f.containers[c.id] = c
	return c.id, nil
}

// StartContainer starts a container; a running one is success.
func (f *Fake) StartContainer(ctx context.Context, id string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "StartContainer", f.label(id))
	if err := f.begin("StartContainer", f.subjects(id)...); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("start container %s: %w", id, notFound("no such container: %s", id))
	}
	if c.state == reconcile.StateRunning || c.state == reconcile.StateRestarting {
		return nil
	}
	f.start(c)
	return nil
}

// start runs c: it crashes at once if its image is marked to, and runs to
// completion at once if its image is a job's.
func (f *Fake) start(c *fakeContainer) {
	c.exitCode, c.health = 0, ""
	if job, ok := f.jobs[familiarRef(c.spec.Image)]; ok {
		c.logs = append(c.logs, job.output...)
		c.state, c.exitCode = reconcile.StateExited, job.code
		return
	}
	if f.crash[familiarRef(c.spec.Image)] {
		c.exitCode = 1
		c.state = reconcile.StateExited
		if restarts(c.spec.Restart) {
			c.state = reconcile.StateRestarting
		}
		c.logs = append(c.logs, c.name+": crashed with exit code 1")
		return
	}
	c.state = reconcile.StateRunning
	if hasHealthcheck(c.spec) {
		c.health = reconcile.HealthStarting
	}
	c.logs = append(c.logs, c.name+": started")
}

// restarts reports whether a restart policy restarts a failed container.
func restarts(policy string) bool {
	return policy == "always" || policy == "unless-stopped" || strings.HasPrefix(policy, "on-failure")
}

func hasHealthcheck(s reconcile.ContainerSpec) bool {
	h := s.Healthcheck
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// StopContainer stops a container with exit code 0; a stopped one is
// success.
func (f *Fake) StopContainer(ctx context.Context, id string, grace *time.Duration) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "StopContainer", f.label(id))
	if err := f.begin("StopContainer", f.subjects(id)...); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("stop container %s: %w", id, notFound("no such container: %s", id))
	}
	c.stop(0)
	return nil
}

func (c *fakeContainer) stop(code int) {
	switch c.state {
	case reconcile.StateRunning, reconcile.StateRestarting, reconcile.StatePaused:
		c.state, c.exitCode = reconcile.StateExited, code
		c.logs = append(c.logs, fmt.Sprintf("%s: exited with code %d", c.name, code))
	}
}

// RemoveContainer removes a container; an absent one is success.
func (f *Fake) RemoveContainer(ctx context.Context, id string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "RemoveContainer", f.label(id))
	if err := f.begin("RemoveContainer", f.subjects(id)...); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if c := f.find(id); c != nil {
		delete(f.containers, c.id)
	}
	return nil
}

// RenameContainer renames a container. Its own name is success; another
// container's is ErrConflict.
func (f *Fake) RenameContainer(ctx context.Context, id, name string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.journal(&err, "RenameContainer", f.label(id)+" -> "+name)
	if err := f.begin("RenameContainer", f.subjects(id)...); err != nil {
		return fmt.Errorf("rename container %s to %s: %w", id, name, err)
	}
	c := f.find(id)
	if c == nil {
		return fmt.Errorf("rename container %s to %s: %w", id, name, notFound("no such container: %s", id))
	}
	if other := f.find(name); other != nil && other != c {
		return fmt.Errorf("rename container %s to %s: %w", id, name, conflict("the container name %q is already in use", name))
	}
	c.name = name
	return nil
}

// InspectContainer returns one container with ExitCode and Health exact. A
// container whose health is "starting" settles here (see Fake).
func (f *Fake) InspectContainer(ctx context.Context, id string) (reconcile.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("InspectContainer", f.subjects(id)...); err != nil {
		return reconcile.Container{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return reconcile.Container{}, fmt.Errorf("inspect container %s: %w", id, notFound("no such container: %s", id))
	}
	if c.state == reconcile.StateRunning && c.health == reconcile.HealthStarting {
		switch {
		case c.pinned != "":
			c.health = c.pinned
		case f.unhealthy[familiarRef(c.spec.Image)] || f.unhealthy[c.imageID]:
			c.health = reconcile.HealthUnhealthy
		default:
			c.health = reconcile.HealthHealthy
		}
	}
	got := parseContainer(c.id, c.name, c.spec.Image, c.imageID, c.state, maps.Clone(c.labels))
	got.ExitCode, got.Health, got.Created = c.exitCode, c.health, c.created
	return got, nil
}

// Logs returns the last n (all for n <= 0) lines the fake wrote for the
// container: one per start, crash and stop.
func (f *Fake) Logs(ctx context.Context, id string, n int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Logs", f.subjects(id)...); err != nil {
		return "", fmt.Errorf("logs of container %s: %w", id, err)
	}
	c := f.find(id)
	if c == nil {
		return "", fmt.Errorf("logs of container %s: %w", id, notFound("no such container: %s", id))
	}
	lines := c.logs
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "", nil
	}
	out := strings.Join(lines, "\n") + "\n"
	if len(out) > reconcile.MaxLogBytes {
		out = out[len(out)-reconcile.MaxLogBytes:]
	}
	return out, nil
}

package compose

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/platforms"

	"github.com/moor-dev/moor/reconcile"
)

// hostConfig maps the fields compose passes to the engine's HostConfig as
// they are (namespaces, runtime, cgroups, block IO, devices requests), as
// compose v2's getCreateConfigs and getDeployResources do.
func (m mapper) hostConfig(s *types.ServiceConfig, spec *reconcile.ContainerSpec) error {
	var errs []error
	spec.Runtime = s.Runtime
	spec.Uts = s.Uts
	spec.UsernsMode = s.UserNSMode
	spec.Cgroup = s.Cgroup
	spec.GroupAdd = sortedCopy(s.GroupAdd)
	spec.OomScoreAdj = s.OomScoreAdj
	spec.StorageOpt = cloneMap(s.StorageOpt)
	spec.MacAddress = s.MacAddress
	spec.Isolation = s.Isolation
	spec.Annotations = cloneMap(s.Annotations)
	spec.DeviceCgroupRules = cloneSlice(s.DeviceCgroupRules)
	if len(spec.DeviceCgroupRules) == 0 {
		spec.DeviceCgroupRules = nil
	}
	var err error
	spec.Ipc, err = m.namespaceMode("ipc", s.Ipc, "host", "private", "shareable", "none")
	errs = append(errs, err)
	spec.Pid, err = m.namespaceMode("pid", s.Pid, "host")
	errs = append(errs, err)
	switch s.Cgroup {
	case "", "host", "private":
	default:
		errs = append(errs, fmt.Errorf("cgroup %q: use host or private", s.Cgroup))
	}
	for _, g := range s.Gpus {
		spec.DeviceRequests = append(spec.DeviceRequests, deviceRequest(g, true))
	}
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		for _, d := range s.Deploy.Resources.Reservations.Devices {
			spec.DeviceRequests = append(spec.DeviceRequests, deviceRequest(d, false))
		}
	}
	spec.Blkio = blkio(s.BlkioConfig)
	return errors.Join(errs...)
}

// namespaceMode checks an ipc or pid mode: one of modes, container:NAME,
// or service:NAME for a service of the stack (its first replica's
// namespace, resolved when the container is created, as compose does).
func (m mapper) namespaceMode(field, mode string, modes ...string) (string, error) {
	switch {
	case mode == "" || slices.Contains(modes, mode):
		return mode, nil
	case strings.HasPrefix(mode, types.ContainerPrefix) && len(mode) > len(types.ContainerPrefix):
		return mode, nil
	case strings.HasPrefix(mode, types.ServicePrefix):
		if ref := strings.TrimPrefix(mode, types.ServicePrefix); m.project.Services[ref].Name == "" {
			return "", fmt.Errorf("%s %q: the stack has no service %q", field, mode, ref)
		}
		return mode, nil
	}
	return "", fmt.Errorf("%s %q: use %s, container:NAME or service:NAME", field, mode, strings.Join(modes, ", "))
}

// deviceRequest maps gpus (gpu: the "gpu" capability added, as compose
// does) and deploy.resources.reservations.devices.
func deviceRequest(d types.DeviceRequest, gpu bool) reconcile.DeviceRequest {
	caps := cloneSlice(d.Capabilities)
	if gpu {
		caps = append(caps, "gpu")
	}
	r := reconcile.DeviceRequest{
		Driver:       d.Driver,
		Count:        int64(d.Count),
		DeviceIDs:    cloneSlice(d.IDs),
		Capabilities: caps,
		Options:      cloneMap(d.Options),
	}
	if len(r.DeviceIDs) == 0 {
		r.DeviceIDs = nil
	}
	if len(r.Capabilities) == 0 {
		r.Capabilities = nil
	}
	return r
}

func blkio(b *types.BlkioConfig) *reconcile.Blkio {
	if b == nil {
		return nil
	}
	out := &reconcile.Blkio{Weight: b.Weight}
	for _, w := range b.WeightDevice {
		out.WeightDevice = append(out.WeightDevice, reconcile.WeightDevice{Path: w.Path, Weight: w.Weight})
	}
	throttle := func(in []types.ThrottleDevice) []reconcile.ThrottleDevice {
		var t []reconcile.ThrottleDevice
		for _, d := range in {
			t = append(t, reconcile.ThrottleDevice{Path: d.Path, Rate: uint64(d.Rate)})
		}
		return t
	}
	out.DeviceReadBps = throttle(b.DeviceReadBps)
	out.DeviceReadIOps = throttle(b.DeviceReadIOps)
	out.DeviceWriteBps = throttle(b.DeviceWriteBps)
	out.DeviceWriteIOps = throttle(b.DeviceWriteIOps)
	if out.Weight == 0 && out.WeightDevice == nil && out.DeviceReadBps == nil && out.DeviceReadIOps == nil &&
		out.DeviceWriteBps == nil && out.DeviceWriteIOps == nil {
		return nil
	}
	return out
}

// cgroupResources adds the resource fields compose maps beyond the limits
// (getDeployResources): swap, swappiness, OOM, CPU period, quota, realtime,
// count and percent, the cgroup parent.
func cgroupResources(s *types.ServiceConfig, r *reconcile.Resources) {
	r.CgroupParent = s.CgroupParent
	r.MemorySwap = int64(s.MemSwapLimit)
	r.MemorySwappiness = int64(s.MemSwappiness)
	r.OomKillDisable = s.OomKillDisable
	r.CPUCount = s.CPUCount
	r.CPUPercent = int64(s.CPUPercent * 100)
	r.CPUPeriod = s.CPUPeriod
	r.CPUQuota = s.CPUQuota
	r.CPURealtimePeriod = s.CPURTPeriod
	r.CPURealtimeRuntime = s.CPURTRuntime
}

// singleHost warns about each field a service sets that only swarm uses:
// docker compose accepts them and does nothing with them on one engine.
func (m mapper) singleHost(s *types.ServiceConfig) {
	none := func(field string) { m.warn(s, "%s has no effect on a single host", field) }
	if s.CredentialSpec != nil {
		none("credential_spec")
	}
	// ports mode is not warned about: compose-go gives every port of the
	// short syntax mode ingress, and compose publishes it as it would
	// mode host.
	d := s.Deploy
	if d == nil {
		return
	}
	if d.Mode == "global" {
		m.warn(s, "deploy.mode global runs one container on a single host")
	}
	if len(d.Labels) > 0 {
		none("deploy.labels")
	}
	if d.EndpointMode != "" {
		none("deploy.endpoint_mode")
	}
	if isSet(reflect.ValueOf(d.Placement)) {
		none("deploy.placement")
	}
	if rp := d.RestartPolicy; rp != nil {
		if rp.Delay != nil {
			none("deploy.restart_policy.delay")
		}
		if rp.Window != nil {
			none("deploy.restart_policy.window")
		}
	}
	if rc := d.RollbackConfig; rc != nil {
		for _, f := range setFields(reflect.ValueOf(*rc)) {
			none("deploy.rollback_config." + f)
		}
	}
	if res := d.Resources.Reservations; res != nil {
		if res.NanoCPUs != 0 {
			none("deploy.resources.reservations.cpus")
		}
		if res.Pids != 0 {
			none("deploy.resources.reservations.pids")
		}
		if len(res.GenericResources) > 0 {
			none("deploy.resources.reservations.generic_resources")
		}
	}
	if l := d.Resources.Limits; l != nil {
		if len(l.Devices) > 0 {
			none("deploy.resources.limits.devices")
		}
		if len(l.GenericResources) > 0 {
			none("deploy.resources.limits.generic_resources")
		}
	}
}

// platform is the service's platform, or DOCKER_DEFAULT_PLATFORM of the
// stack's variables, as compose takes it, in its normalized form
// ("linux/arm64/v8"), so that two spellings of one platform hash alike.
func (m mapper) platform(s *types.ServiceConfig) (string, error) {
	p := s.Platform
	field := "platform"
	if p == "" {
		p = m.project.Environment["DOCKER_DEFAULT_PLATFORM"]
		field = "DOCKER_DEFAULT_PLATFORM"
	}
	if p == "" {
		return "", nil
	}
	parsed, err := platforms.Parse(p)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", field, p, err)
	}
	return platforms.FormatAll(platforms.Normalize(parsed)), nil
}

// checkPlatforms refuses a stack whose services want one image for two
// platforms: on the engine, a tag names one image, of one platform.
func checkPlatforms(services map[string]*reconcile.Service) error {
	type want struct{ service, platform string }
	byImage := map[string]want{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(services)) {
		spec := services[name].Spec
		w, seen := byImage[spec.Image]
		switch {
		case !seen:
			byImage[spec.Image] = want{name, spec.Platform}
		case w.platform != spec.Platform:
			errs = append(errs, fmt.Errorf("services %s and %s want image %s for platforms %s and %s: the engine keeps one platform of a tag; use one platform, or tag the image per platform",
				w.service, name, spec.Image, orEngine(w.platform), orEngine(spec.Platform)))
		}
	}
	return errors.Join(errs...)
}

func orEngine(platform string) string {
	if platform == "" {
		return "the engine's own"
	}
	return platform
}

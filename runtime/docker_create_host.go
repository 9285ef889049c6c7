package runtime

import (
	"fmt"
	"net"
	"regexp"

	"github.com/containerd/platforms"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client/pkg/versions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/moor-dev/moor/reconcile"
)

// extraResources translates the resource fields compose maps beyond the
// limits, as compose v2's getDeployResources does.
func extraResources(spec reconcile.ContainerSpec, r *container.Resources) {
	res := spec.Resources
	r.CgroupParent = res.CgroupParent
	r.MemorySwap = res.MemorySwap
	if v := res.MemorySwappiness; v != 0 {
		r.MemorySwappiness = &v
	}
	if res.OomKillDisable {
		yes := true
		r.OomKillDisable = &yes
	}
	r.CPUCount = res.CPUCount
	r.CPUPercent = res.CPUPercent
	r.CPUPeriod = res.CPUPeriod
	r.CPUQuota = res.CPUQuota
	r.CPURealtimePeriod = res.CPURealtimePeriod
	r.CPURealtimeRuntime = res.CPURealtimeRuntime
	r.DeviceCgroupRules = spec.DeviceCgroupRules
	for _, d := range spec.DeviceRequests {
		dr := container.DeviceRequest{Driver: d.Driver, Count: int(d.Count), DeviceIDs: d.DeviceIDs, Options: d.Options}
		// compose always sends one capability set, possibly empty.
		dr.Capabilities = [][]string{d.Capabilities}
		r.DeviceRequests = append(r.DeviceRequests, dr)
	}
	if b := spec.Blkio; b != nil {
		r.BlkioWeight = b.Weight
		for _, w := range b.WeightDevice {
			r.BlkioWeightDevice = append(r.BlkioWeightDevice, &blkiodev.WeightDevice{Path: w.Path, Weight: w.Weight})
		}
		throttle := func(in []reconcile.ThrottleDevice) []*blkiodev.ThrottleDevice {
			var out []*blkiodev.ThrottleDevice
			for _, t := range in {
				out = append(out, &blkiodev.ThrottleDevice{Path: t.Path, Rate: t.Rate})
			}
			return out
		}
		r.BlkioDeviceReadBps = throttle(b.DeviceReadBps)
		r.BlkioDeviceReadIOps = throttle(b.DeviceReadIOps)
		r.BlkioDeviceWriteBps = throttle(b.DeviceWriteBps)
		r.BlkioDeviceWriteIOps = throttle(b.DeviceWriteIOps)
	}
}

// macAddress sets the service's MAC address on its primary network's
// endpoint, where compose puts it from API 1.44 on. Older engines read it
// from the container-wide config (createRequest.legacyMAC).
func macAddress(spec reconcile.ContainerSpec, ep *network.EndpointSettings, api string) error {
	if spec.MacAddress == "" || versions.LessThan(api, "1.44") {
		return nil
	}
	mac, err := net.ParseMAC(spec.MacAddress)
	if err != nil {
		return fmt.Errorf("mac_address %q: %w", spec.MacAddress, err)
	}
	ep.MacAddress = network.HardwareAddr(mac)
	return nil
}

// checkAPI refuses a spec that needs a newer engine than api, naming the
// field and the version.
func checkAPI(spec reconcile.ContainerSpec, api string) error {
	if len(spec.Annotations) > 0 && versions.LessThan(api, "1.43") {
		return needsAPI("annotations", "1.43", "24.0", api)
	}
	for _, dev := range spec.Devices {
		if isCDI(dev) && versions.LessThan(api, "1.44") {
			return needsAPI("devices "+dev.Host+" (a CDI device)", "1.44", "25.0", api)
		}
	}
	for _, m := range spec.Mounts {
		if m.Subpath != "" && versions.LessThan(api, "1.45") {
			return needsAPI("volumes.volume.subpath (on "+m.Target+")", "1.45", "26.0", api)
		}
		if (m.Recursive == "writable" || m.Recursive == "readonly") && versions.LessThan(api, "1.44") {
			return needsAPI("volumes.bind.recursive "+m.Recursive+" (on "+m.Target+")", "1.44", "25.0", api)
		}
	}
	return nil
}

// needsAPI is the error for a field the engine's API version api does not
// know.
func needsAPI(field, minAPI, engine, api string) error {
	return fmt.Errorf("%s needs Docker Engine %s or later (API %s); this engine speaks API %s", field, engine, minAPI, api)
}

// imagePlatform is the platform to create a container of spec with, as
// compose passes it, once checked that the local image (of platform
// os/arch/variant) is of it: the engine keeps one platform of a tag, and
// which one is not part of what moor observes.
func imagePlatform(spec reconcile.ContainerSpec, os, arch, variant string) (*ocispec.Platform, error) {
	if spec.Platform == "" {
		return nil, nil
	}
	want, err := platforms.Parse(spec.Platform)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", spec.Platform, err)
	}
	have := ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	if !platforms.Only(want).Match(have) {
		return nil, fmt.Errorf("platform %s: the local image %s is for %s; pull it for %s (pull_policy: always does at every run) or use the engine's platform",
			spec.Platform, spec.Image, platforms.Format(have), spec.Platform)
	}
	return &want, nil
}

// cdiName matches a fully qualified CDI device name, vendor/class=name, as
// the CDI parser compose uses accepts it.
var cdiName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?/[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?=[a-zA-Z0-9]([a-zA-Z0-9_.:-]*[a-zA-Z0-9])?$`)

// isCDI reports whether a device is a CDI device (source and target one
// qualified name), as compose v2's getDeployResources tells them.
func isCDI(dev reconcile.Device) bool {
	return dev.Host == dev.Container && cdiName.MatchString(dev.Host)
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/moor-dev/moor/reconcile"
)

// CreateContainer creates (does not start) the container name from spec and
// attaches it to every network of spec.Networks. Engines before API 1.44
// take one endpoint at create, so the first network (highest Priority, then
// name) is given at create and the others are connected after; a container
// that cannot be fully connected is removed again, so that a retry does not
// find its name taken.
func (d *Docker) CreateContainer(ctx context.Context, name string, spec reconcile.ContainerSpec, labels map[string]string) (string, error) {
	// A candidate gets no aliases, so no traffic, until it is ready.
	service := labels[reconcile.LabelService]
	if strings.HasSuffix(name, reconcile.CandidateSuffix) {
		service = ""
		spec.Networks = withoutAliases(spec.Networks)
	}
	// compose records the ID of the image a container runs, and recreates
	// a container whose image moved on: record it as compose does.
	d.call()
	img, err := d.cli.ImageInspect(ctx, spec.Image)
	if cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("create container %s: %w", name,
			classified{reconcile.ErrNotFound, fmt.Errorf("image %s not present", spec.Image)})
	}
	if err != nil {
		return "", fmt.Errorf("create container %s: inspect image %s: %w", name, spec.Image, classify(err))
	}
	labels = maps.Clone(labels)
	labels[reconcile.LabelComposeImage] = img.ID
	req, err := buildCreate(spec, labels, name, service, d.cli.ClientVersion())
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	if req.Platform, err = imagePlatform(spec, img.Os, img.Architecture, img.Variant); err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	req.Name = name
	d.call()
	var res client.ContainerCreateResult
	if req.legacyMAC != "" {
		res, err = d.createLegacyMAC(ctx, req.ContainerCreateOptions, req.legacyMAC)
	} else {
		res, err = d.cli.ContainerCreate(ctx, req.ContainerCreateOptions)
	}
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, classify(err))
	}
	for _, att := range req.connect {
		d.call()
		_, err := d.cli.NetworkConnect(ctx, att.Name, client.NetworkConnectOptions{
			Container: res.ID, EndpointConfig: req.endpoints[att.Name],
		})
		if err != nil {
			err = fmt.Errorf("create container %s: connect network %s: %w", name, att.Name, classify(err))
			if rmErr := d.RemoveContainer(context.WithoutCancel(ctx), res.ID); rmErr != nil {
				err = errors.Join(err, rmErr)
			}
			return "", err
		}
	}
	if err := d.copyFiles(ctx, res.ID, spec.Files); err != nil {
		err = fmt.Errorf("create container %s: %w", name, err)
		if rmErr := d.RemoveContainer(context.WithoutCancel(ctx), res.ID); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return "", err
	}
	return res.ID, nil
}

// createRequest is a container create plus the networks to connect after.
type createRequest struct {
	client.ContainerCreateOptions
	connect   []reconcile.NetworkAttachment
	endpoints map[string]*network.EndpointSettings
	// legacyMAC is the container-wide MAC address, for engines before API
	// 1.44 (see createLegacyMAC).
	legacyMAC string
}

// buildCreate translates every field of spec into the engine's create
// request for API version api.
func buildCreate(spec reconcile.ContainerSpec, labels map[string]string, name, service, api string) (*createRequest, error) {
	cfg := &container.Config{
		Image:      spec.Image,
		Cmd:        spec.Command,
		Entrypoint: spec.Entrypoint,
		Env:        spec.Env,
		Labels:     merge(spec.Labels, labels),
		User:       spec.User,
		WorkingDir: spec.WorkingDir,
		Hostname:   spec.Hostname,
		Domainname: spec.Domainname,
		StopSignal: spec.StopSignal,
		Tty:        spec.Tty,
		OpenStdin:  spec.StdinOpen,
		// As compose creates every container.
		AttachStdout: true,
		AttachStderr: true,
	}
	if g := spec.StopGracePeriod; g != nil {
		secs := graceSeconds(*g)
		cfg.StopTimeout = &secs
	}
	cfg.Healthcheck = healthConfig(spec.Healthcheck, versions.GreaterThanOrEqualTo(api, "1.44"))

	restart, err := restartPolicy(spec.Restart)
	if err != nil {
		return nil, err
	}
	host := &container.HostConfig{
		NetworkMode:    container.NetworkMode(spec.NetworkMode),
		RestartPolicy:  restart,
		CapAdd:         spec.CapAdd,
		CapDrop:        spec.CapDrop,
		ExtraHosts:     spec.ExtraHosts,
		DNSSearch:      spec.DNSSearch,
		DNSOptions:     spec.DNSOptions,
		Sysctls:        spec.Sysctls,
		Init:           spec.Init,
		ReadonlyRootfs: spec.ReadOnly,
		SecurityOpt:    spec.SecurityOpt,
		Privileged:     spec.Privileged,
		ShmSize:        spec.ShmSize,
		Resources:      resources(spec),
		Links:          spec.Links,
		VolumesFrom:    spec.VolumesFrom,
		Runtime:        spec.Runtime,
		IpcMode:        container.IpcMode(spec.Ipc),
		PidMode:        container.PidMode(spec.Pid),
		UTSMode:        container.UTSMode(spec.Uts),
		UsernsMode:     container.UsernsMode(spec.UsernsMode),
		CgroupnsMode:   container.CgroupnsMode(spec.Cgroup),
		GroupAdd:       spec.GroupAdd,
		OomScoreAdj:    int(spec.OomScoreAdj),
		StorageOpt:     spec.StorageOpt,
		Isolation:      container.Isolation(spec.Isolation),
		Annotations:    spec.Annotations,
	}
	if spec.Logging != nil {
		host.LogConfig = container.LogConfig{Type: spec.Logging.Driver, Config: spec.Logging.Options}
	}
	for _, s := range spec.DNS {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("dns %q: %w", s, err)
		}
		host.DNS = append(host.DNS, ip)
	}
	for _, t := range spec.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		if host.Tmpfs == nil {
			host.Tmpfs = map[string]string{}
		}
		host.Tmpfs[path] = opts
	}
	if cfg.ExposedPorts, host.PortBindings, err = ports(spec.Ports, spec.Expose); err != nil {
		return nil, err
	}
	if host.Mounts, host.Binds, err = mounts(spec.Mounts); err != nil {
		return nil, err
	}

	req := &createRequest{ContainerCreateOptions: client.ContainerCreateOptions{Config: cfg, HostConfig: host}}
	if err := checkAPI(spec, api); err != nil {
		return nil, err
	}
	if spec.MacAddress != "" && versions.LessThan(api, "1.44") {
		// The container-wide field, as compose sends it to such engines.
		if _, err := net.ParseMAC(spec.MacAddress); err != nil {
			return nil, fmt.Errorf("mac_address %q: %w", spec.MacAddress, err)
		}
		req.legacyMAC = spec.MacAddress
	} else if spec.MacAddress != "" && (spec.NetworkMode != "" || len(spec.Networks) == 0) {
		return nil, fmt.Errorf("mac_address: from API 1.44 on it is set on the service's primary network, and network_mode %s has none", spec.NetworkMode)
	}
	if spec.NetworkMode == "" && len(spec.Networks) > 0 {
		order := networkOrder(spec.Networks)
		req.endpoints = map[string]*network.EndpointSettings{}
		for _, att := range order {
			ep, err := endpoint(att, service, name)
			if err != nil {
				return nil, err
			}
			// Links, as compose gives them: on every network.
			ep.Links = spec.Links
			req.endpoints[att.Name] = ep
		}
		first := order[0].Name
		if err := macAddress(spec, req.endpoints[first], api); err != nil {
			return nil, err
		}
		host.NetworkMode = container.NetworkMode(first)
		req.NetworkingConfig = &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{first: req.endpoints[first]},
		}
		req.connect = order[1:]
	}
	return req, nil
}

// networkOrder sorts attachments as the engine should connect them: the
// highest Priority first, then by name. The first one is the container's
// primary network (its default route).
func networkOrder(atts []reconcile.NetworkAttachment) []reconcile.NetworkAttachment {
	order := append([]reconcile.NetworkAttachment(nil), atts...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Priority != order[j].Priority {
			return order[i].Priority > order[j].Priority
		}
		return order[i].Name < order[j].Name
	})
	return order
}

// withoutAliases returns a copy of atts without their aliases.
func withoutAliases(atts []reconcile.NetworkAttachment) []reconcile.NetworkAttachment {
	out := slices.Clone(atts)
	for i := range out {
		out[i].Aliases = nil
	}
	return out
}

// Expose reattaches a candidate to each of its networks, this time under its
// aliases and service name. It is still stopped (stop-first) or not yet
// reachable by name (start-first), so nobody loses a connection.
func (d *Docker) Expose(ctx context.Context, id, name string, spec reconcile.ContainerSpec, service string) error {
	if spec.NetworkMode != "" {
		return nil
	}
	for _, att := range networkOrder(spec.Networks) {
		ep, err := endpoint(att, service, name)
		if err != nil {
			return fmt.Errorf("expose container %s: %w", id, err)
		}
		ep.Links = spec.Links
		d.call()
		if _, err := d.cli.NetworkDisconnect(ctx, att.Name, client.NetworkDisconnectOptions{Container: id}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("expose container %s: disconnect network %s: %w", id, att.Name, classify(err))
		}
		d.call()
		if _, err := d.cli.NetworkConnect(ctx, att.Name, client.NetworkConnectOptions{Container: id, EndpointConfig: ep}); err != nil {
			return fmt.Errorf("expose container %s: connect network %s: %w", id, att.Name, classify(err))
		}
	}
	return nil
}

// endpoint is how a container attaches to one network: its name, the
// service's name and its aliases, as compose gives them (service "": no
// aliases).
func endpoint(att reconcile.NetworkAttachment, service, name string) (*network.EndpointSettings, error) {
	ep := &network.EndpointSettings{}
	if service != "" {
		// compose's order: the container's name, the service's, the
		// aliases.
		ep.Aliases = append([]string{name, service}, att.Aliases...)
	}
	if att.IPv4Address == "" && att.IPv6Address == "" {
		return ep, nil
	}
	ep.IPAMConfig = &network.EndpointIPAMConfig{}
	var err error
	if att.IPv4Address != "" {
		if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(att.IPv4Address); err != nil {
			return nil, fmt.Errorf("network %s: ipv4_address: %w", att.Name, err)
		}
	}
	if att.IPv6Address != "" {
		if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(att.IPv6Address); err != nil {
			return nil, fmt.Errorf("network %s: ipv6_address: %w", att.Name, err)
		}
	}
	return ep, nil
}

// restartPolicy parses "no", "always", "unless-stopped", "on-failure" and
// "on-failure:N"; "" is the engine's default, which is "no".
func restartPolicy(s string) (container.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch p.Name {
	case "": // left unset, as compose leaves it: the engine's "no"
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped, container.RestartPolicyOnFailure:
	default:
		return p, fmt.Errorf("restart policy %q: unknown", s)
	}
	if hasCount {
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || p.Name != container.RestartPolicyOnFailure {
			return p, fmt.Errorf("restart policy %q: a retry count needs on-failure:N", s)
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// healthConfig translates a healthcheck. StartInterval exists from API
// 1.44 on and is left out for older engines.
func healthConfig(h *reconcile.Healthcheck, startInterval bool) *container.HealthConfig {
	if h == nil {
		return nil
	}
	c := &container.HealthConfig{
		Test:        h.Test,
		Interval:    h.Interval,
		Timeout:     h.Timeout,
		StartPeriod: h.StartPeriod,
		Retries:     h.Retries,
	}
	if startInterval {
		c.StartInterval = h.StartInterval
	}
	return c
}

func resources(spec reconcile.ContainerSpec) container.Resources {
	r := container.Resources{
		NanoCPUs:          spec.Resources.NanoCPUs,
		Memory:            spec.Resources.MemoryBytes,
		MemoryReservation: spec.Resources.MemoryReservation,
		CPUShares:         spec.Resources.CPUShares,
		CpusetCpus:        spec.Resources.CPUSet,
	}
	if p := spec.Resources.PidsLimit; p != 0 {
		r.PidsLimit = &p
	}
	extraResources(spec, &r)
	for _, u := range spec.Ulimits {
		r.Ulimits = append(r.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	var cdiNames []string
	for _, dev := range spec.Devices {
		// A CDI device name ("vendor.com/class=name") is a request of the
		// cdi driver, as compose makes it.
		if isCDI(dev) {
			cdiNames = append(cdiNames, dev.Host)
			continue
		}
		perm := dev.Permissions
		if perm == "" {
			perm = "rwm"
		}
		r.Devices = append(r.Devices, container.DeviceMapping{
			PathOnHost: dev.Host, PathInContainer: dev.Container, CgroupPermissions: perm,
		})
	}
	if len(cdiNames) > 0 {
		r.DeviceRequests = append(r.DeviceRequests, container.DeviceRequest{Driver: "cdi", DeviceIDs: cdiNames})
	}
	return r
}

// ports translates published and exposed ports. Every published target is
// exposed too, as the engine requires.
func ports(published []reconcile.Port, expose []string) (network.PortSet, network.PortMap, error) {
	set := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range published {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.Target, proto))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d/%s: %w", p.Target, proto, err)
		}
		set[port] = struct{}{}
		// An empty HostPort lets the engine choose one.
		b := network.PortBinding{HostPort: p.Published}
		if p.HostIP != "" {
			if b.HostIP, err = netip.ParseAddr(p.HostIP); err != nil {
				return nil, nil, fmt.Errorf("port %d host_ip: %w", p.Target, err)
			}
		}
		bindings[port] = append(bindings[port], b)
	}
	for _, e := range expose {
		if !strings.Contains(e, "/") {
			e += "/tcp"
		}
		r, err := network.ParsePortRange(e)
		if err != nil {
			return nil, nil, fmt.Errorf("expose %s: %w", e, err)
		}
		for port := range r.All() {
			set[port] = struct{}{}
		}
	}
	if len(set) == 0 {
		return nil, nil, nil
	}
	if len(bindings) == 0 {
		bindings = nil
	}
	return set, bindings, nil
}

// graceSeconds is a stop timeout in whole seconds, rounded up so that a
// grace period is never cut short.
func graceSeconds(g time.Duration) int { return int(math.Ceil(g.Seconds())) }

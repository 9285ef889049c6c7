package swarm

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/moor-dev/moor/compose"
)

// Update defaults of moor's: a new task starts before its old one stops
// (as moor replaces a container on one host), and an update that fails
// is rolled back by Swarm. The compose file's update_config overrides
// each field it sets.
const (
	defaultMonitor = 5 * time.Second
)

type serviceMapper struct {
	stack    string
	project  *types.Project
	d        *Desired
	networks map[string]string // compose key -> Swarm name
	configs  map[string]string
	secrets  map[string]string
	volumes  map[string]string
	warnings *[]string
}

// errs collects the refusals of one service, each naming its field.
type errs []error

func (e *errs) refuse(prefix string, v any, allowed []string) {
	for _, f := range compose.UnknownFields(v, allowed...) {
		*e = append(*e, refused(prefix+f, hints[prefix+f]))
	}
}

func (e *errs) add(format string, a ...any) { *e = append(*e, fmt.Errorf(format, a...)) }

func (m serviceMapper) warn(service, msg string) {
	*m.warnings = append(*m.warnings, fmt.Sprintf("service %s: %s", service, msg))
}

func (m serviceMapper) service(s *types.ServiceConfig) (*Service, error) {
	var e errs
	e.refuse("", *s, serviceFields)
	if s.Image == "" {
		e.add("image is missing: Swarm runs images, it builds none")
	}
	if len(s.DependsOn) > 0 {
		m.warn(s.Name, "depends_on has no effect under Swarm (docker stack deploy ignores it too): services start in any order")
	}
	if s.PullPolicy != "" {
		m.warn(s.Name, "pull_policy has no effect under Swarm: each node pulls a missing image")
	}
	name := m.stack + "_" + s.Name
	cs := &swarm.ContainerSpec{
		Image:          s.Image,
		Command:        s.Entrypoint,
		Args:           s.Command,
		Hostname:       s.Hostname,
		Dir:            s.WorkingDir,
		User:           s.User,
		Groups:         s.GroupAdd,
		StopSignal:     s.StopSignal,
		TTY:            s.Tty,
		OpenStdin:      s.StdinOpen,
		ReadOnly:       s.ReadOnly,
		Init:           s.Init,
		Labels:         map[string]string{LabelNamespace: m.stack},
		Sysctls:        map[string]string(s.Sysctls),
		CapabilityAdd:  s.CapAdd,
		CapabilityDrop: s.CapDrop,
	}
	maps.Copy(cs.Labels, s.Labels)
	if err := userLabels("", s.Labels); err != nil {
		e.add("%w", err)
	}
	if s.Deploy != nil {
		if err := userLabels("deploy.", s.Deploy.Labels); err != nil {
			e.add("%w", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if v := s.Environment[k]; v != nil {
			cs.Env = append(cs.Env, k+"="+*v)
		} else {
			cs.Env = append(cs.Env, k)
		}
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		cs.StopGracePeriod = &d
	}
	for _, h := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[h] {
			cs.Hosts = append(cs.Hosts, ip+" "+h)
		}
	}
	if len(s.DNS) > 0 || len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		cs.DNSConfig = &swarm.DNSConfig{Search: s.DNSSearch, Options: s.DNSOpts}
		for _, a := range s.DNS {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				e.add("dns: %w", err)
				continue
			}
			cs.DNSConfig.Nameservers = append(cs.DNSConfig.Nameservers, ip)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Ulimits)) {
		u := s.Ulimits[k]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: k, Soft: soft, Hard: hard})
	}
	cs.Healthcheck = m.healthcheck(s, &e)
	cs.Mounts = m.mounts(s, &e)
	out := &Service{Name: s.Name}
	cs.Configs, out.Configs = m.configRefs(s, &e)
	cs.Secrets, out.Secrets = m.secretRefs(s, &e)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: map[string]string{}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: cs},
		EndpointSpec: m.endpoint(s, &e),
	}
	spec.TaskTemplate.Networks = m.attachments(s, &e)
	m.deploy(s, &spec, &e)
	if err := errors.Join(e...); err != nil {
		return nil, err
	}
	out.Fields = fieldDigests(&spec)
	out.Hash = hashFields(out.Fields)
	own := m.d.ownLabels(m.stack)
	own[labelService] = s.Name
	own[LabelImage] = s.Image
	own[labelHash] = out.Hash
	own[labelRevision] = m.d.Revision
	maps.Copy(spec.Labels, own)
	out.Spec = spec
	return out, nil
}

func (m serviceMapper) healthcheck(s *types.ServiceConfig, e *errs) *container.HealthConfig {
	hc := s.HealthCheck
	if hc == nil {
		return nil
	}
	e.refuse("healthcheck.", *hc, healthcheckFields)
	if hc.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{Test: hc.Test}
	if hc.Interval != nil {
		out.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		out.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		out.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.StartInterval != nil {
		out.StartInterval = time.Duration(*hc.StartInterval)
	}
	if hc.Retries != nil {
		out.Retries = int(*hc.Retries)
	}
	return out
}

func (m serviceMapper) endpoint(s *types.ServiceConfig, e *errs) *swarm.EndpointSpec {
	ep := &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	if s.Deploy != nil && s.Deploy.EndpointMode != "" {
		switch s.Deploy.EndpointMode {
		case "vip", "dnsrr":
			ep.Mode = swarm.ResolutionMode(s.Deploy.EndpointMode)
		default:
			e.add("deploy.endpoint_mode %q is not one of vip, dnsrr", s.Deploy.EndpointMode)
		}
	}
	for _, p := range s.Ports {
		e.refuse("ports.", p, portFields)
		pc := swarm.PortConfig{TargetPort: p.Target, Protocol: network.IPProtocol(p.Protocol), PublishMode: swarm.PortConfigPublishModeIngress, Name: p.Name}
		if pc.Protocol == "" {
			pc.Protocol = network.TCP
		}
		switch p.Mode {
		case "", "ingress":
		case "host":
			pc.PublishMode = swarm.PortConfigPublishModeHost
		default:
			e.add("ports: mode %q is not one of ingress, host", p.Mode)
		}
		if p.Published != "" {
			n, err := strconv.ParseUint(p.Published, 10, 16)
			if err != nil {
				e.add("ports: published %q: Swarm publishes one port per entry, not a range", p.Published)
				continue
			}
			pc.PublishedPort = uint32(n)
		}
		ep.Ports = append(ep.Ports, pc)
	}
	return ep
}

func (m serviceMapper) attachments(s *types.ServiceConfig, e *errs) []swarm.NetworkAttachmentConfig {
	var out []swarm.NetworkAttachmentConfig
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		name, ok := m.networks[key]
		if !ok {
			e.add("networks: network %s is not declared", key)
			continue
		}
		a := swarm.NetworkAttachmentConfig{Target: name}
		if n := s.Networks[key]; n != nil {
			e.refuse("networks."+key+".", *n, attachmentFields)
			a.Aliases = n.Aliases
		}
		// Every task answers to its service's name, as docker stack
		// deploy sets it.
		a.Aliases = append([]string{s.Name}, a.Aliases...)
		out = append(out, a)
	}
	return out
}

func (m serviceMapper) mounts(s *types.ServiceConfig, e *errs) []mount.Mount {
	var out []mount.Mount
	for _, t := range s.Tmpfs {
		out = append(out, mount.Mount{Type: mount.TypeTmpfs, Target: t})
	}
	for _, v := range s.Volumes {
		e.refuse("volumes.", v, volumeFields)
		mt := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly, Consistency: mount.Consistency(v.Consistency)}
		switch v.Type {
		case types.VolumeTypeVolume:
			mt.Type = mount.TypeVolume
			if v.Source != "" {
				name, ok := m.volumes[v.Source]
				if !ok {
					e.add("volumes: volume %s is not declared", v.Source)
					continue
				}
				mt.Source = name
			}
			// moor's labels too: a volume Swarm creates for the service is
			// then moor's to prune (prune.volumes), and only then.
			vo := &mount.VolumeOptions{Labels: map[string]string{}}
			if vol, ok := m.project.Volumes[v.Source]; ok && !bool(vol.External) {
				maps.Copy(vo.Labels, vol.Labels)
				if vol.Driver != "" || len(vol.DriverOpts) > 0 {
					vo.DriverConfig = &mount.Driver{Name: vol.Driver, Options: vol.DriverOpts}
				}
			}
			if v.Volume != nil {
				e.refuse("volumes.volume.", *v.Volume, volumeOptFields)
				vo.NoCopy = v.Volume.NoCopy
				maps.Copy(vo.Labels, v.Volume.Labels)
			}
			if err := userLabels("volumes.volume.", vo.Labels); err != nil {
				e.add("%w", err)
			}
			maps.Copy(vo.Labels, m.d.ownLabels(m.stack))
			mt.VolumeOptions = vo
		case types.VolumeTypeBind:
			mt.Type = mount.TypeBind
			if !path.IsAbs(v.Source) || strings.HasPrefix(v.Source, m.project.WorkingDir) {
				e.add("volumes: bind %s: a file of the repository is not on every node of a swarm; use a config, a secret or a volume", v.Source)
				continue
			}
			mt.Source = v.Source
			if v.Bind != nil {
				e.refuse("volumes.bind.", *v.Bind, bindFields)
				if v.Bind.Propagation != "" {
					mt.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
				}
			}
		case types.VolumeTypeTmpfs:
			mt.Type = mount.TypeTmpfs
			if v.Tmpfs != nil {
				e.refuse("volumes.tmpfs.", *v.Tmpfs, tmpfsFields)
				mt.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size), Mode: os.FileMode(v.Tmpfs.Mode)}
			}
		default:
			e.add("volumes: type %q is %w", v.Type, ErrUnsupported)
			continue
		}
		out = append(out, mt)
	}
	return out
}

func (m serviceMapper) configRefs(s *types.ServiceConfig, e *errs) ([]*swarm.ConfigReference, []string) {
	var refs []*swarm.ConfigReference
	var names []string
	for _, r := range s.Configs {
		// A config with no target is mounted at /NAME, as compose does.
		if name, f, ok := fileRef("configs", types.FileReferenceConfig(r), m.configs, "/"+r.Source, e); ok {
			refs = append(refs, &swarm.ConfigReference{ConfigName: name, File: f})
			names = append(names, name)
		}
	}
	return refs, names
}

func (m serviceMapper) secretRefs(s *types.ServiceConfig, e *errs) ([]*swarm.SecretReference, []string) {
	var refs []*swarm.SecretReference
	var names []string
	for _, r := range s.Secrets {
		// A secret with no target is /run/secrets/NAME: Swarm takes a
		// relative name there.
		if name, f, ok := fileRef("secrets", types.FileReferenceConfig(r), m.secrets, r.Source, e); ok {
			refs = append(refs, &swarm.SecretReference{SecretName: name, File: (*swarm.SecretReferenceFileTarget)(f)})
			names = append(names, name)
		}
	}
	return refs, names
}

// fileRef resolves one entry of a service's configs: or secrets: (kind):
// the Swarm object the stack declared for it, and the file its tasks see
// (at target when the entry names none). A problem is added to e.
func fileRef(kind string, r types.FileReferenceConfig, declared map[string]string, target string, e *errs) (string, *swarm.ConfigReferenceFileTarget, bool) {
	e.refuse(kind+".", r, fileRefFields)
	name, ok := declared[r.Source]
	if !ok {
		e.add("%s: %s %s is not declared", kind, kind[:len(kind)-1], r.Source)
		return "", nil, false
	}
	if r.Target != "" {
		target = r.Target
	}
	f, err := fileTarget(target, r, 0o444)
	if err != nil {
		e.add("%s: %s: %w", kind, r.Source, err)
		return "", nil, false
	}
	return name, f, true
}

func fileTarget(target string, r types.FileReferenceConfig, mode uint32) (*swarm.ConfigReferenceFileTarget, error) {
	f := &swarm.ConfigReferenceFileTarget{Name: target, UID: "0", GID: "0", Mode: os.FileMode(mode)}
	if r.UID != "" {
		f.UID = r.UID
	}
	if r.GID != "" {
		f.GID = r.GID
	}
	if r.Mode != nil {
		if *r.Mode < 0 || *r.Mode > 0o7777 {
			return nil, fmt.Errorf("mode %o is not a file mode", *r.Mode)
		}
		f.Mode = os.FileMode(uint32(*r.Mode))
	}
	return f, nil
}

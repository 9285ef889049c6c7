package compose

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/reconcile"
)

// mapper maps the services of one loaded project.
type mapper struct {
	sd      StackDir
	project *types.Project
	// repo and budget are for the content of binds, configs and secrets.
	repo   *repo
	budget *budget
	// host maps paths of the repository onto the stack directories.
	host hostDirs
	// files collects what the stack's directory must hold beside the
	// stack's own directory: binds from elsewhere in the source, and
	// directories binds need.
	files *stackFiles
	// warnings collects what the stack's services ask that moor accepts
	// without effect (Stack.Warnings).
	warnings *[]string
	// written is the stack's compose file as written, for messages.
	written written
	// sops decrypts the files sops encrypted.
	sops *sopsFiles
}

// warn records a warning about service s.
func (m mapper) warn(s *types.ServiceConfig, format string, args ...any) {
	*m.warnings = append(*m.warnings, "service "+s.Name+": "+fmt.Sprintf(format, args...))
}

// service maps one compose service onto reconcile.Service. Every problem
// of the service is reported, not the first one only.
func (m mapper) service(s *types.ServiceConfig) (*reconcile.Service, error) {
	errs := []error{checkService(s), checkEntries(s, m.written)}
	pull, err := pullPolicy(s)
	errs = append(errs, err)
	replicas, err := m.replicas(s)
	errs = append(errs, err)
	build, err := m.build(s)
	errs = append(errs, err)
	if err != nil && s.Image == "" {
		// The build's error says what is wrong; a stand-in image keeps
		// the service's other problems in view without "image is
		// required".
		c := *s
		c.Image = "build-failed"
		s = &c
	}
	spec, err := m.spec(withBuildImage(s, build))
	errs = append(errs, err)
	update, err := m.updateConfig(s, spec)
	errs = append(errs, err)
	m.singleHost(s)
	composed, err := m.composeHash(*s)
	errs = append(errs, err)
	if s.ContainerName != "" && replicas > 1 {
		errs = append(errs, fmt.Errorf("service %s: container_name %q with %d replicas: a name is held by one container; drop container_name, or the replicas", s.Name, s.ContainerName, replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	svc := &reconcile.Service{
		Name:          s.Name,
		ContainerName: s.ContainerName,
		Replicas:      replicas,
		PullPolicy:    pull,
		Update:        update,
		Spec:          spec,
		Hash:          spec.Hash(),
		Compose:       composed,
		Build:         build,
	}
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		if svc.DependsOn == nil {
			svc.DependsOn = map[string]reconcile.Dependency{}
		}
		d := s.DependsOn[dep]
		cond := d.Condition
		if cond == "" {
			cond = reconcile.ConditionStarted
		}
		svc.DependsOn[dep] = reconcile.Dependency{Condition: cond, Required: d.Required, Restart: d.Restart}
	}
	return svc, nil
}

// replicas returns the replicas of a service (scale, else deploy.replicas,
// else 1), at most Limits.Replicas: every replica is a container the plan
// creates and tracks.
func (m mapper) replicas(s *types.ServiceConfig) (int, error) {
	n := s.GetScale()
	field := "deploy.replicas"
	if s.Scale != nil {
		field = "scale"
	}
	switch {
	case n < 0:
		return 0, fmt.Errorf("service %s: %s %d is negative", s.Name, field, n)
	case n > m.budget.lim.Replicas:
		return 0, overLimit("service %s: %s %d is more than the limit of %d (max_replicas)", s.Name, field, n, m.budget.lim.Replicas)
	}
	return n, nil
}

// updateConfig maps deploy.update_config. rollback_config has nothing to
// tune in moor: a rollback renames the kept old containers back and starts
// them, all at once.
func (m mapper) updateConfig(s *types.ServiceConfig, spec reconcile.ContainerSpec) (reconcile.UpdateConfig, error) {
	if s.Deploy == nil || s.Deploy.UpdateConfig == nil {
		return reconcile.UpdateConfig{}, nil
	}
	uc := s.Deploy.UpdateConfig
	u := reconcile.UpdateConfig{
		Order:           uc.Order,
		Delay:           time.Duration(uc.Delay),
		Monitor:         time.Duration(uc.Monitor),
		FailureAction:   uc.FailureAction,
		MaxFailureRatio: float64(uc.MaxFailureRatio),
	}
	if uc.Parallelism != nil {
		if *uc.Parallelism > math.MaxInt32 {
			return u, fmt.Errorf("service %s: deploy.update_config.parallelism %d is too large", s.Name, *uc.Parallelism)
		}
		u.Parallelism = int(*uc.Parallelism)
	}
	if why := reconcile.StartFirstConflict(spec); u.Order == reconcile.OrderStartFirst && why != "" {
		// docker compose runs the file, recreating stop-first: so does
		// moor, and says why.
		m.warn(s, "deploy.update_config.order start-first cannot work with %s: replaced stop-first", why)
		u.Order = reconcile.OrderStopFirst
	}
	if err := u.Check(spec); err != nil {
		return u, fmt.Errorf("service %s: deploy.update_config.%w", s.Name, err)
	}
	return u, nil
}

// pullPolicy maps pull_policy. A service with a build section follows
// compose v2, in moor's content-addressed terms: compose builds on up when
// the image is missing (missing, if_not_present, never: never only
// forbids pulls) or always (build); moor builds when no image of the
// build's hash is present, which yields the same image as building again
// would, so all of them are PullBuild. always makes compose pull image:
// from a registry instead of building it: moor refuses it rather than run
// a registry's image in place of the repository's build.
func pullPolicy(s *types.ServiceConfig) (string, error) {
	if s.Build != nil {
		switch s.PullPolicy {
		case "", types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyBuild, types.PullPolicyNever:
			return reconcile.PullBuild, nil
		}
		return "", fmt.Errorf("service %s: pull_policy %q with build: compose would pull image: from a registry instead of building it; drop pull_policy to build it on the host, or drop build: to pull it: %w", s.Name, s.PullPolicy, ErrUnsupported)
	}
	switch s.PullPolicy {
	case types.PullPolicyBuild:
		return "", fmt.Errorf("service %s: pull_policy build needs a build section", s.Name)
	case "", types.PullPolicyMissing, types.PullPolicyIfNotPresent:
		return reconcile.PullMissing, nil
	case types.PullPolicyAlways:
		return reconcile.PullAlways, nil
	case types.PullPolicyNever:
		return reconcile.PullNever, nil
	}
	return "", fmt.Errorf("service %s: pull_policy %q is %w (use missing, always or never)", s.Name, s.PullPolicy, ErrUnsupported)
}

// withBuildImage is s with the image its containers run: the build's.
func withBuildImage(s *types.ServiceConfig, b *reconcile.BuildSpec) *types.ServiceConfig {
	if b == nil {
		return s
	}
	c := *s
	c.Image = b.Image
	return &c
}

// spec builds the normalized container spec of a service.
func (m mapper) spec(s *types.ServiceConfig) (reconcile.ContainerSpec, error) {
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", s.Name, err))
		}
	}
	image, err := normalizeImage(s.Image)
	fail(err)
	spec := reconcile.ContainerSpec{
		Image:         image,
		Command:       cloneSlice(s.Command),
		Entrypoint:    cloneSlice(s.Entrypoint),
		Env:           environment(s.Environment),
		Labels:        cloneMap(s.Labels),
		User:          s.User,
		WorkingDir:    s.WorkingDir,
		Hostname:      s.Hostname,
		Domainname:    s.DomainName,
		StopSignal:    s.StopSignal,
		CapAdd:        sortedCopy(s.CapAdd),
		CapDrop:       sortedCopy(s.CapDrop),
		ExtraHosts:    sortedCopy(s.ExtraHosts.AsList(":")),
		DNS:           cloneSlice(s.DNS), // order is the resolver's order
		DNSSearch:     cloneSlice(s.DNSSearch),
		DNSOptions:    sortedCopy(s.DNSOpts),
		Sysctls:       cloneMap(s.Sysctls),
		Init:          s.Init,
		ReadOnly:      s.ReadOnly,
		SecurityOpt:   sortedCopy(s.SecurityOpt),
		Privileged:    s.Privileged,
		Tmpfs:         sortedCopy(s.Tmpfs),
		ShmSize:       int64(s.ShmSize),
		Tty:           s.Tty,
		StdinOpen:     s.StdinOpen,
		Links:         sortedCopy(s.Links),
		ExternalLinks: sortedCopy(s.ExternalLinks),
	}
	fail(checkUserLabels(spec.Labels))
	for _, link := range s.Links {
		if target, _, _ := strings.Cut(link, ":"); m.project.Services[target].Name == "" {
			fail(fmt.Errorf("links %q: the stack has no service %q", link, target))
		}
	}
	spec.VolumesFrom, err = m.volumesFrom(s)
	fail(err)
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		spec.StopGracePeriod = &d
	}
	spec.Ports = ports(s.Ports)
	spec.Expose, err = expose(s.Expose)
	fail(err)
	spec.Mounts, err = m.mounts(s)
	fail(err)
	spec.Files, err = m.inlineFiles(s)
	fail(err)
	for _, f := range spec.Files {
		if _, clash := slices.BinarySearchFunc(spec.Mounts, f.Target, func(mt reconcile.Mount, t string) int { return cmp.Compare(mt.Target, t) }); clash {
			fail(fmt.Errorf("two mounts on %s", f.Target))
		}
	}
	spec.NetworkMode, spec.Networks, err = m.networks(s)
	fail(err)
	spec.Restart, err = m.restart(s)
	fail(err)
	spec.Healthcheck = healthcheck(s.HealthCheck)
	spec.Ulimits = ulimits(s.Ulimits)
	if s.Logging != nil {
		spec.Logging = &reconcile.Logging{Driver: s.Logging.Driver, Options: cloneMap(s.Logging.Options)}
	}
	for _, d := range s.Devices {
		spec.Devices = append(spec.Devices, reconcile.Device{Host: d.Source, Container: d.Target, Permissions: d.Permissions})
	}
	slices.SortFunc(spec.Devices, func(a, b reconcile.Device) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Host, b.Host))
	})
	spec.Resources, err = resources(s)
	fail(err)
	cgroupResources(s, &spec.Resources)
	spec.Platform, err = m.platform(s)
	fail(err)
	spec.PostStart, err = hooks("post_start", s.PostStart)
	fail(err)
	spec.PreStop, err = hooks("pre_stop", s.PreStop)
	fail(err)
	fail(m.hostConfig(s, &spec))
	return spec, errors.Join(errs...)
}

// environment renders the resolved environment as sorted KEY=VALUE. A
// variable without a value (environment: [FOO] with FOO unset) is dropped,
// as compose does.
func environment(env types.MappingWithEquals) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		}
	}
	return out
}

// checkUserLabels rejects labels in the namespaces moor and compose own:
// they are moor's ownership record (reconcile/labels.go).
func checkUserLabels(labels map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, reserved := range []string{"moor.", "com.docker.compose."} {
			if strings.HasPrefix(k, reserved) {
				errs = append(errs, fmt.Errorf("label %q: the %s namespace is reserved for moor", k, strings.TrimSuffix(reserved, ".")))
			}
		}
	}
	return errors.Join(errs...)
}

// restart is the restart policy as compose's getRestartPolicy gives it:
// restart:, replaced by deploy.restart_policy when there is one.
func (m mapper) restart(s *types.ServiceConfig) (string, error) {
	r := s.Restart
	switch {
	case r == "" || r == types.RestartPolicyNo || r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped || r == types.RestartPolicyOnFailure:
	case strings.HasPrefix(r, "on-failure:"):
		n, err := strconv.Atoi(strings.TrimPrefix(r, "on-failure:"))
		if err != nil || n < 0 {
			return "", fmt.Errorf("restart %q: the retry count must be a non-negative number", r)
		}
	default:
		return "", fmt.Errorf("restart %q: use no, always, unless-stopped or on-failure[:N]", r)
	}
	if s.Deploy == nil || s.Deploy.RestartPolicy == nil {
		return r, nil
	}
	rp := s.Deploy.RestartPolicy
	var fromDeploy string
	// compose maps the condition as mapRestartPolicyCondition does: the
	// swarm names and the engine's own.
	switch rp.Condition {
	case "":
		// No condition is no policy: compose passes the engine an empty
		// one (the engine's "no").
	case "any", types.RestartPolicyAlways:
		fromDeploy = types.RestartPolicyAlways
	case "none", types.RestartPolicyNo:
		fromDeploy = types.RestartPolicyNo
	case types.RestartPolicyUnlessStopped:
		fromDeploy = types.RestartPolicyUnlessStopped
	case types.RestartPolicyOnFailure:
		fromDeploy = types.RestartPolicyOnFailure
		if rp.MaxAttempts != nil {
			fromDeploy += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
		}
	default:
		return "", fmt.Errorf("deploy.restart_policy.condition %q: use none, on-failure, any or unless-stopped", rp.Condition)
	}
	if rp.MaxAttempts != nil && rp.Condition != types.RestartPolicyOnFailure {
		return "", fmt.Errorf("deploy.restart_policy.max_attempts needs condition on-failure: %w for condition %q", ErrUnsupported, rp.Condition)
	}
	if r != "" && r != fromDeploy {
		m.warn(s, "restart %q is replaced by deploy.restart_policy (%s), as compose replaces it: keep one", r, cmp.Or(fromDeploy, "none"))
	}
	return fromDeploy, nil
}

func healthcheck(hc *types.HealthCheckConfig) *reconcile.Healthcheck {
	if hc == nil {
		return nil
	}
	if hc.Disable {
		return &reconcile.Healthcheck{Test: []string{"NONE"}}
	}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	h := &reconcile.Healthcheck{
		Test:          cloneSlice(hc.Test),
		Interval:      dur(hc.Interval),
		Timeout:       dur(hc.Timeout),
		StartPeriod:   dur(hc.StartPeriod),
		StartInterval: dur(hc.StartInterval),
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	return h
}

func ulimits(u map[string]*types.UlimitsConfig) []reconcile.Ulimit {
	var out []reconcile.Ulimit
	for _, name := range slices.Sorted(maps.Keys(u)) {
		l := u[name]
		if l == nil {
			continue
		}
		soft, hard := int64(l.Soft), int64(l.Hard)
		if l.Single != 0 {
			soft, hard = int64(l.Single), int64(l.Single)
		}
		out = append(out, reconcile.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	return out
}

// resources merges the service-level limits (cpus, mem_limit, ...) with
// deploy.resources; the two must agree where both are set.
func resources(s *types.ServiceConfig) (reconcile.Resources, error) {
	r := reconcile.Resources{
		NanoCPUs:          nanoCPUs(float64(s.CPUS)),
		MemoryBytes:       int64(s.MemLimit),
		MemoryReservation: int64(s.MemReservation),
		PidsLimit:         s.PidsLimit,
		CPUShares:         s.CPUShares,
		CPUSet:            s.CPUSet,
	}
	if s.Deploy == nil {
		return r, nil
	}
	var errs []error
	merge := func(dst *int64, v int64, service, deploy string) {
		switch {
		case v == 0:
		case *dst == 0 || *dst == v:
			*dst = v
		default:
			errs = append(errs, fmt.Errorf("%s and %s disagree: keep one", service, deploy))
		}
	}
	if l := s.Deploy.Resources.Limits; l != nil {
		merge(&r.NanoCPUs, nanoCPUs(float64(l.NanoCPUs)), "cpus", "deploy.resources.limits.cpus")
		merge(&r.MemoryBytes, int64(l.MemoryBytes), "mem_limit", "deploy.resources.limits.memory")
		merge(&r.PidsLimit, l.Pids, "pids_limit", "deploy.resources.limits.pids")
	}
	if res := s.Deploy.Resources.Reservations; res != nil {
		merge(&r.MemoryReservation, int64(res.MemoryBytes), "mem_reservation", "deploy.resources.reservations.memory")
	}
	return r, errors.Join(errs...)
}

// nanoCPUs converts compose's float32 CPU count through its shortest
// decimal form, so that 0.1 becomes 100000000 and not 100000001.
func nanoCPUs(cpus float64) int64 {
	if cpus == 0 {
		return 0
	}
	f, err := strconv.ParseFloat(strconv.FormatFloat(cpus, 'g', -1, 32), 64)
	if err != nil {
		f = cpus
	}
	return int64(math.Round(f * 1e9))
}

// volumesFrom maps volumes_from as compose applies it: "SERVICE[:MODE]"
// names the stack's service's first container, "container:NAME[:MODE]" a
// container. compose mounts them read-write whatever the mode says; moor
// does the same, and says so.
func (m mapper) volumesFrom(s *types.ServiceConfig) ([]string, error) {
	var out []string
	var errs []error
	for i, from := range s.VolumesFrom {
		parts := strings.Split(from, ":")
		var ref string
		switch {
		case parts[0] == "container" && len(parts) > 1 && parts[1] != "":
			ref, parts = "container:"+parts[1], parts[2:]
		case parts[0] != "container" && m.project.Services[parts[0]].Name != "":
			ref, parts = "service:"+parts[0], parts[1:]
		default:
			errs = append(errs, fmt.Errorf("volumes_from[%d] %q: the stack has no service %q (write container:NAME for a container of its own)", i, from, parts[0]))
			continue
		}
		if len(parts) > 0 && parts[0] == "ro" {
			m.warn(s, "volumes_from[%d] %q: docker compose mounts the volumes read-write whatever the mode says, and so does moor", i, from)
		}
		out = append(out, ref)
	}
	return out, errors.Join(errs...)
}

package compose

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ErrUnsupported marks a compose field or value that moor does not honour.
// moor rejects it rather than ignoring it: see the package documentation.
var ErrUnsupported = errors.New("not supported by moor")

// serviceFields are the YAML fields of a service that moor maps into the
// container spec or the service, or that the loader has already consumed.
// A set field of types.ServiceConfig missing here is rejected.
var serviceFields = set(
	// mapped into reconcile.ContainerSpec (spec.go, mounts.go)
	"image", "command", "entrypoint", "environment", "labels",
	"user", "working_dir", "hostname", "domainname", "stop_signal", "stop_grace_period",
	"ports", "expose", "volumes", "tmpfs", "configs", "secrets",
	"network_mode", "networks", "restart", "healthcheck",
	"container_name", "links", "external_links", "volumes_from",
	"cap_add", "cap_drop", "extra_hosts", "dns", "dns_search", "dns_opt",
	"sysctls", "ulimits", "logging", "init", "read_only", "security_opt",
	"privileged", "devices", "shm_size", "tty", "stdin_open",
	"cpus", "mem_limit", "mem_reservation", "pids_limit", "cpu_shares", "cpuset",
	// mapped into reconcile.ContainerSpec (hostconfig.go)
	"platform", "runtime", "ipc", "pid", "uts", "userns_mode", "cgroup", "cgroup_parent",
	"group_add", "memswap_limit", "mem_swappiness", "oom_kill_disable", "oom_score_adj",
	"cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
	"blkio_config", "device_cgroup_rules", "storage_opt", "mac_address", "isolation", "gpus", "annotations",
	"volumes_from",
	// mapped into reconcile.ContainerSpec (hooks.go), each hook checked
	// there
	"post_start", "pre_stop",
	// swarm only: accepted with a warning, as compose ignores it (singleHost)
	"credential_spec",
	// mapped into reconcile.Service
	"scale", "deploy", "depends_on", "pull_policy",
	// consumed by the loader: env_file and label_file are merged into
	// environment and labels, extends is resolved, profiles select services
	"env_file", "label_file", "extends", "profiles", "name",
	// irrelevant to a deployed container: attach only selects the logs
	// `docker compose up` prints, develop only drives `docker compose watch`
	"attach", "develop",
	// mapped into reconcile.BuildSpec (build.go), each sub-field checked
	// there
	"build",
)

// deployFields are the deploy sub-fields moor honours.
var deployFields = set(
	"replicas", "resources", "restart_policy", "mode",
	// update_config drives replacements (reconcile.UpdateConfig);
	// rollback_config is accepted with nothing to tune: a rollback restores
	// the kept old containers all at once.
	"update_config", "rollback_config",
	// swarm only: accepted with a warning (singleHost)
	"labels", "placement", "endpoint_mode",
)

var (
	// devices and generic_resources of limits, and cpus, pids and
	// generic_resources of reservations, are swarm's: accepted with a
	// warning (singleHost).
	limitFields         = set("cpus", "memory", "pids", "devices", "generic_resources")
	reservationFields   = set("memory", "devices", "cpus", "pids", "generic_resources")
	restartPolicyFields = set("condition", "max_attempts", "delay", "window")
	resourcesFields     = set("limits", "reservations")
	attachmentFields    = set("aliases", "ipv4_address", "ipv6_address", "priority")
	portFields          = set("target", "published", "host_ip", "protocol",
		// mode (ingress/host) only matters to swarm; name and app_protocol
		// are documentation for humans and tools.
		"mode", "name", "app_protocol")
	volumeFields      = set("type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency")
	volumeBindFields  = set("propagation", "create_host_path", "selinux", "recursive")
	volumeVolFields   = set("nocopy", "subpath", "labels")
	volumeTmpfsFields = set("size", "mode")
	// uid, gid and mode are honoured for configs and secrets given
	// inline, and warned about for those from a file, as compose does.
	fileRefFields     = set("source", "target", "uid", "gid", "mode")
	healthcheckFields = set("test", "timeout", "interval", "retries", "start_period", "start_interval", "disable")
)

// checkService rejects every set field of the service that moor does not map;
// checkEntries does it for the entries of its lists.
func checkService(s *types.ServiceConfig) error {
	errs := []error{rejectFields(s.Name, "", reflect.ValueOf(*s), serviceFields)}
	if d := s.Deploy; d != nil {
		errs = append(errs, rejectFields(s.Name, "deploy.", reflect.ValueOf(*d), deployFields))
		if d.Mode != "" && d.Mode != "replicated" && d.Mode != "global" {
			errs = append(errs, fmt.Errorf("service %s: deploy.mode %q is %w", s.Name, d.Mode, ErrUnsupported))
		}
		errs = append(errs, rejectFields(s.Name, "deploy.resources.", reflect.ValueOf(d.Resources), resourcesFields))
		if l := d.Resources.Limits; l != nil {
			errs = append(errs, rejectFields(s.Name, "deploy.resources.limits.", reflect.ValueOf(*l), limitFields))
		}
		if r := d.Resources.Reservations; r != nil {
			errs = append(errs, rejectFields(s.Name, "deploy.resources.reservations.", reflect.ValueOf(*r), reservationFields))
		}
		if rp := d.RestartPolicy; rp != nil {
			errs = append(errs, rejectFields(s.Name, "deploy.restart_policy.", reflect.ValueOf(*rp), restartPolicyFields))
		}
	}
	if hc := s.HealthCheck; hc != nil {
		errs = append(errs, rejectFields(s.Name, "healthcheck.", reflect.ValueOf(*hc), healthcheckFields))
	}
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		if n := s.Networks[key]; n != nil {
			errs = append(errs, rejectFields(s.Name, "networks."+key+".", reflect.ValueOf(*n), attachmentFields))
		}
	}
	return errors.Join(errs...)
}

// rejectFields returns an error for every field of the struct v that is set
// and whose YAML name is not in allowed. Embedded inline structs are walked;
// x- extensions are always allowed.
func rejectFields(service, prefix string, v reflect.Value, allowed map[string]bool) error {
	var errs []error
	for _, name := range unknownFields(v, allowed) {
		errs = append(errs, fmt.Errorf("service %s: %w", service, unsupportedField(prefix+name)))
	}
	return errors.Join(errs...)
}

// setFields returns the YAML names of the set fields of the struct v, in
// their order; x- extensions are left out.
func setFields(v reflect.Value) []string {
	var out []string
	t := v.Type()
	for i := range t.NumField() {
		name, _ := yamlName(t.Field(i))
		if name == "-" || strings.HasPrefix(name, "#") || !isSet(v.Field(i)) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// yamlName returns the YAML name of a struct field (its json name, then its
// Go name, when it has no yaml tag) and whether it is inlined.
func yamlName(f reflect.StructField) (string, bool) {
	for _, key := range []string{"yaml", "json"} {
		tag, ok := f.Tag.Lookup(key)
		if !ok {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := strings.Contains(","+opts+",", ",inline,")
		if name == "" && !inline {
			name = strings.ToLower(f.Name)
		}
		return name, inline
	}
	return strings.ToLower(f.Name), f.Anonymous
}

// isSet reports whether a field holds a value: empty slices and maps count
// as unset, like compose's omitempty.
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	default:
		return !v.IsZero()
	}
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

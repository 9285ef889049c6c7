package compose

import (
	"fmt"
	"reflect"
	"strings"
)

// hints say what to do instead of a field moor refuses, by its path as
// written under a service: "ipc", "deploy.placement", and for a field of a
// list entry its list ("volumes.bind.selinux").
var hints = map[string]string{
	"log_driver":                            "use logging: {driver: ...}",
	"log_opt":                               "use logging: {options: ...}",
	"volumes_from":                          "declare a named volume and mount it in both services",
	"cpu_quota":                             "use cpus",
	"cpu_period":                            "use cpus",
	"cpu_count":                             "use cpus",
	"cpu_percent":                           "use cpus",
	"mem_swappiness":                        "remove it: the engine's default applies",
	"memswap_limit":                         "remove it, or set mem_limit",
	"platform":                              "remove it: the engine pulls the image for its own platform",
	"runtime":                               "remove it, or make the runtime the engine's default",
	"gpus":                                  "pass the GPU's device files with devices",
	"group_add":                             "run as a user of the group (user: UID:GID), or add the user to the group in the image",
	"pid":                                   "remove it: the container gets a process namespace of its own",
	"ipc":                                   "remove it: the container gets an IPC namespace of its own",
	"mac_address":                           "remove it: the engine assigns one",
	"userns_mode":                           "remove it: the engine's setting applies",
	"cgroup_parent":                         "remove it: the engine's cgroup parent applies",
	"oom_score_adj":                         "remove it, or set mem_limit",
	"oom_kill_disable":                      "remove it, or set mem_limit",
	"storage_opt":                           "remove it: the engine's storage options apply",
	"blkio_config":                          "remove it",
	"credential_spec":                       "remove it: it exists for Windows containers only",
	"isolation":                             "remove it: it exists for Windows containers only",
	"deploy.placement":                      "remove it: placement only means something in swarm",
	"deploy.endpoint_mode":                  "remove it: endpoint_mode only means something in swarm",
	"deploy.labels":                         "use labels: deploy.labels go on swarm services, which moor does not create",
	"deploy.resources.reservations.cpus":    "use cpu_shares to weigh CPU, or cpus to cap it",
	"deploy.resources.reservations.devices": "pass the devices with devices",
	"deploy.resources.reservations.generic_resources": "remove it: generic resources only mean something in swarm",
	"deploy.restart_policy.delay":                     "remove it: the engine's restart back-off applies",
	"deploy.restart_policy.window":                    "remove it: the engine's restart back-off applies",
	"networks.mac_address":                            "remove it: the engine assigns one",
	"networks.link_local_ips":                         "remove it",
	"networks.driver_opts":                            "set the options on the top-level network",
	"volumes.bind.selinux":                            `drop ":z"/":Z" and label the host directory once (chcon -Rt container_file_t DIR)`,
	"volumes.volume.subpath":                          "mount the whole volume, or a bind of the directory",
	"configs.uid":                                     "give the file its owner in the image, or drop uid",
	"configs.gid":                                     "give the file its group in the image, or drop gid",
	"configs.mode":                                    "give the file its mode in git, or drop mode",
	"secrets.uid":                                     "give the file its owner in the image, or drop uid",
	"secrets.gid":                                     "give the file its group in the image, or drop gid",
	"secrets.mode":                                    "give the file its mode in git, or drop mode",
}

// unsupportedField is the error for a set field that moor does not honour,
// path being where it is under the service, with a hint when there is one.
// The error is ErrUnsupported.
func unsupportedField(path string) error {
	if h := hintFor(path); h != "" {
		return fmt.Errorf("field %q is %w: %s", path, ErrUnsupported, h)
	}
	return fmt.Errorf("field %q is %w", path, ErrUnsupported)
}

// hintFor finds the hint of a path, its network name taken out
// ("networks.back.mac_address" is "networks.mac_address").
func hintFor(path string) string {
	if h, ok := hints[path]; ok {
		return h
	}
	if rest, ok := strings.CutPrefix(path, "networks."); ok {
		if _, field, ok := strings.Cut(rest, "."); ok {
			return hints["networks."+field]
		}
	}
	return ""
}

// unknownFields returns the YAML names of the fields of the struct v that
// are set and not in allowed. Embedded inline structs are walked; x-
// extensions are always allowed.
func unknownFields(v reflect.Value, allowed map[string]bool) []string {
	var out []string
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		switch {
		case name == "-" || strings.HasPrefix(name, "#"):
			continue
		case f.Anonymous && inline:
			out = append(out, unknownFields(v.Field(i), allowed)...)
			continue
		case allowed[name] || !isSet(v.Field(i)):
			continue
		}
		out = append(out, name)
	}
	return out
}

package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
)

// Hash is the config hash of the spec: sha256 over its canonical JSON, with
// bind sources that carry a Content digest replaced by that digest. Fields
// are omitted when empty, so a field added to ContainerSpec later does not
// change the hash of specs that do not use it; TestHashGolden pins the value.
func (s ContainerSpec) Hash() string {
	b, err := json.Marshal(s.hashable())
	if err != nil {
		// ContainerSpec holds only strings, numbers, bools, slices and maps.
		panic("reconcile: marshal container spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// hashable returns the spec as hashed: bind sources that carry a Content
// digest are blanked, and so is Mount.Legacy.
func (s ContainerSpec) hashable() ContainerSpec {
	c := s
	if len(s.Mounts) > 0 {
		c.Mounts = make([]Mount, len(s.Mounts))
		for i, m := range s.Mounts {
			if m.Content != "" {
				m.Source = ""
			}
			m.Legacy = false
			c.Mounts[i] = m
		}
	}
	return c
}

// composeField names ContainerSpec fields the way a compose file does, for
// causes such as "config changed: environment, ports".
var composeField = map[string]string{
	"Image": "image", "Command": "command", "Entrypoint": "entrypoint",
	"Env": "environment", "Labels": "labels", "User": "user",
	"WorkingDir": "working_dir", "Hostname": "hostname", "Domainname": "domainname",
	"StopSignal": "stop_signal", "StopGracePeriod": "stop_grace_period",
	"Ports": "ports", "Expose": "expose", "Mounts": "volumes",
	"NetworkMode": "network_mode", "Networks": "networks", "Restart": "restart",
	"Links": "links", "ExternalLinks": "external_links", "VolumesFrom": "volumes_from",
	"Healthcheck": "healthcheck", "CapAdd": "cap_add", "CapDrop": "cap_drop",
	"ExtraHosts": "extra_hosts", "DNS": "dns", "DNSSearch": "dns_search",
	"DNSOptions": "dns_opt", "Sysctls": "sysctls", "Ulimits": "ulimits",
	"Logging": "logging", "Init": "init", "ReadOnly": "read_only",
	"SecurityOpt": "security_opt", "Privileged": "privileged", "Devices": "devices",
	"Tmpfs": "tmpfs", "Resources": "resources", "ShmSize": "shm_size",
	"Tty": "tty", "StdinOpen": "stdin_open",
	"Platform": "platform", "Runtime": "runtime", "Ipc": "ipc", "Pid": "pid",
	"Uts": "uts", "UsernsMode": "userns_mode", "Cgroup": "cgroup",
	"GroupAdd": "group_add", "OomScoreAdj": "oom_score_adj",
	"StorageOpt": "storage_opt", "MacAddress": "mac_address",
	"Isolation": "isolation", "DeviceCgroupRules": "device_cgroup_rules",
	"DeviceRequests": "gpus", "Blkio": "blkio_config", "Files": "configs",
	"Annotations": "annotations", "PostStart": "post_start", "PreStop": "pre_stop",
}

// ComposeFieldName is the compose field a ContainerSpec field is written
// as ("Env": "environment").
func ComposeFieldName(specField string) string {
	if name := composeField[specField]; name != "" {
		return name
	}
	return strings.ToLower(specField)
}

// FieldJSON is the JSON of each field of the spec the hash covers that is
// set, by its compose name ("environment", "volumes").
func (s ContainerSpec) FieldJSON() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	b, err := json.Marshal(s.hashable())
	if err != nil {
		panic("reconcile: marshal container spec: " + err.Error())
	}
	if err := json.Unmarshal(b, &m); err != nil {
		panic("reconcile: unmarshal container spec: " + err.Error())
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[ComposeFieldName(k)] = v
	}
	return out
}

// FieldDigests summarizes the spec per field, as "name=digest" pairs sorted
// by name and joined by commas, where digest is the first 8 hex digits of
// the sha256 of the field's JSON. Only fields that are set appear. Stored in
// LabelConfigFields, it lets the planner say which fields changed without an
// inspect or a copy of the old spec.
func (s ContainerSpec) FieldDigests() string {
	m := s.FieldJSON()
	pairs := make([]string, 0, len(m))
	for name, v := range m {
		sum := sha256.Sum256(v)
		pairs = append(pairs, name+"="+hex.EncodeToString(sum[:4]))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// ChangedFields compares two FieldDigests values and returns the names of
// the fields that differ, sorted. An empty old value (a container created
// before the label existed, or by hand) yields nil: the caller says only
// "config changed".
func ChangedFields(old, new string) []string {
	if old == "" {
		return nil
	}
	parse := func(s string) map[string]string {
		m := map[string]string{}
		for _, p := range strings.Split(s, ",") {
			if k, v, ok := strings.Cut(p, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	a, b := parse(old), parse(new)
	var changed []string
	for k, v := range a {
		if b[k] != v {
			changed = append(changed, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

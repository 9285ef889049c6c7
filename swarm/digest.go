package swarm

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// fieldDigests digests each compared part of a service spec, under the
// compose name of the field it comes from. The same function reads the
// desired spec and the one Swarm stores (after observe has put network
// names in place of their IDs), so a plan compares like with like: a
// difference is a change in git or by hand, and its cause names the
// fields. Values are normalized first: an empty list, map or struct and
// a missing one are the same, and so are a config's reference by ID and
// by name.
func fieldDigests(s *swarm.ServiceSpec) map[string]string {
	tt := s.TaskTemplate
	cs := tt.ContainerSpec
	if cs == nil {
		cs = &swarm.ContainerSpec{}
	}
	configs := make([]swarm.ConfigReference, 0, len(cs.Configs))
	for _, c := range cs.Configs {
		cc := *c
		cc.ConfigID = ""
		configs = append(configs, cc)
	}
	secrets := make([]swarm.SecretReference, 0, len(cs.Secrets))
	for _, c := range cs.Secrets {
		cc := *c
		cc.SecretID = ""
		secrets = append(secrets, cc)
	}
	labels := map[string]string{}
	for k, v := range s.Labels {
		if !ownLabel(k) {
			labels[k] = v
		}
	}
	parts := map[string]any{
		"image":                  cs.Image,
		"entrypoint":             cs.Command,
		"command":                cs.Args,
		"environment":            cs.Env,
		"labels":                 cs.Labels,
		"user":                   []any{cs.User, cs.Groups},
		"working_dir":            cs.Dir,
		"hostname":               cs.Hostname,
		"stop_signal":            []any{cs.StopSignal, cs.StopGracePeriod},
		"healthcheck":            cs.Healthcheck,
		"volumes":                cs.Mounts,
		"configs":                configs,
		"secrets":                secrets,
		"capabilities":           []any{cs.CapabilityAdd, cs.CapabilityDrop},
		"extra_hosts":            cs.Hosts,
		"dns":                    cs.DNSConfig,
		"sysctls":                cs.Sysctls,
		"ulimits":                cs.Ulimits,
		"init":                   []any{cs.Init, cs.ReadOnly, cs.TTY, cs.OpenStdin},
		"networks":               tt.Networks,
		"ports":                  s.EndpointSpec,
		"deploy.mode":            s.Mode,
		"deploy.labels":          labels,
		"deploy.update_config":   s.UpdateConfig,
		"deploy.rollback_config": s.RollbackConfig,
		"deploy.resources":       tt.Resources,
		"deploy.restart_policy":  tt.RestartPolicy,
		"deploy.placement":       tt.Placement,
	}
	out := make(map[string]string, len(parts))
	for k, v := range parts {
		out[k] = normalized(v)
	}
	return out
}

// ownLabel reports whether a service label is one moor or docker stack
// deploy sets, which the compose file's deploy.labels do not.
func ownLabel(k string) bool {
	switch k {
	case LabelNamespace, LabelImage, labelStack, labelService, labelSource, labelOwner, labelRevision, labelHash:
		return true
	}
	return false
}

// normalized is v as canonical JSON with every empty value left out.
func normalized(v any) string {
	data, _ := json.Marshal(v)
	var x any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if d.Decode(&x) != nil {
		return string(data)
	}
	x = prune(x)
	if x == nil {
		return ""
	}
	out, _ := json.Marshal(x)
	return string(out)
}

func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if p := prune(e); p == nil {
				delete(v, k)
			} else {
				v[k] = p
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		out := v[:0]
		for _, e := range v {
			p := prune(e)
			if p == nil {
				p = map[string]any{} // keep positions
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case json.Number:
		if v.String() == "0" {
			return nil
		}
	case nil:
		return nil
	}
	return x
}

// hashFields digests the field digests: the service's config hash.
func hashFields(fields map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
		b.WriteByte('\n')
	}
	return digestOf([]byte(b.String()))
}

// changed lists the fields whose digests differ, sorted.
func changed(want, have map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if want[k] != have[k] {
			out = append(out, k)
		}
	}
	return out
}

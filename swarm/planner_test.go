package swarm_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	mswarm "github.com/moby/moby/api/types/swarm"

	"github.com/moor-dev/moor/swarm"
)

const appCompose = `
services:
  web:
    image: app:1
    environment: {VERSION: "1"}
    configs: [site]
    deploy: {replicas: 2}
configs:
  site: {content: "v1"}
`

// observedAs is what Observe would find after d was applied: each
// service's spec as desired, with the IDs Swarm gives.
func observedAs(d *swarm.Desired) *swarm.Observed {
	o := &swarm.Observed{}
	for _, sn := range []string{"app", "db"} {
		st, ok := d.Stacks[sn]
		if !ok {
			continue
		}
		own := swarm.Ownership{Stack: sn, Source: d.Source, Owner: d.Owner}
		for _, name := range []string{"web", "pg"} {
			if s, ok := st.Services[name]; ok {
				o.Services = append(o.Services, swarm.ObservedService{ID: "id-" + s.Spec.Name, Spec: clone(s.Spec), Owner: own})
			}
		}
		for name := range st.Networks {
			o.Networks = append(o.Networks, swarm.ObservedObject{ID: "id-" + name, Name: name, Owner: own})
		}
		for name := range st.Configs {
			o.Configs = append(o.Configs, swarm.ObservedObject{ID: "id-" + name, Name: name, Owner: own})
		}
	}
	return o
}

func clone(s mswarm.ServiceSpec) mswarm.ServiceSpec {
	c := *s.TaskTemplate.ContainerSpec
	c.Env = append([]string(nil), c.Env...)
	s.TaskTemplate.ContainerSpec = &c
	s.Labels = maps.Clone(s.Labels)
	if r := s.Mode.Replicated; r != nil {
		n := *r.Replicas
		s.Mode.Replicated = &mswarm.ReplicatedService{Replicas: &n}
	}
	return s
}

func TestPlanGolden(t *testing.T) {
	v1 := load(t, "app", map[string]string{"compose.yaml": appCompose})
	v2 := load(t, "app", map[string]string{"compose.yaml": strings.NewReplacer("app:1", "app:2", `"v1"`, `"v2"`).Replace(appCompose)})
	for _, tc := range []struct {
		name string
		d    *swarm.Desired
		o    func() *swarm.Observed
		held map[string]string
		want string
	}{
		{"empty swarm", v1, func() *swarm.Observed { return &swarm.Observed{} }, nil, `
create network app_default (missing)
create config app_site-3bfc269594ef (missing)
create service app_web (missing)
`},
		{"converged", v1, func() *swarm.Observed { return observedAs(v1) }, nil, ``},
		{"new image and config", v2, func() *swarm.Observed { return observedAs(v1) }, nil, `
create config app_site-fb04dcb6970e (missing)
update service app_web (config changed: configs, image) [start-first, rollback on failure]
remove config app_site-3bfc269594ef (no longer used)
`},
		{"held", v2, func() *swarm.Observed { return observedAs(v1) }, map[string]string{"app/web": "main@aaaaaaa failed: rolled back"}, `
create config app_site-fb04dcb6970e (missing)
held app/web (main@aaaaaaa failed: rolled back)
`},
		{"changed by hand", v1, func() *swarm.Observed {
			o := observedAs(v1)
			o.Services[0].Spec.TaskTemplate.ContainerSpec.Env = []string{"VERSION=hand"}
			one := uint64(1)
			o.Services[0].Spec.Mode.Replicated.Replicas = &one
			return o
		}, nil, `
update service app_web (changed by hand: deploy.mode, environment) [start-first, rollback on failure]
`},
		{"stack removed from git", load(t, "db", map[string]string{"compose.yaml": "services:\n  pg: {image: pg:1}\n"}), func() *swarm.Observed {
			return observedAs(v1)
		}, nil, `
create network db_default (missing)
create service db_pg (missing)
remove service app_web (stack removed from git)
remove config app_site-3bfc269594ef (stack removed from git)
remove network app_default (stack removed from git)
`},
		{"not moor's", v1, func() *swarm.Observed {
			o := observedAs(v1)
			o.Services[0].Owner = swarm.Ownership{Stack: "app"} // docker stack deploy's
			return o
		}, nil, `
conflict app (service app_web is not moor's (deployed by docker stack deploy or by hand))
`},
		{"another instance's stack", v1, func() *swarm.Observed {
			o := observedAs(v1)
			o.Services = append(o.Services, swarm.ObservedService{ID: "y", Spec: mswarm.ServiceSpec{Annotations: mswarm.Annotations{Name: "other_web"}},
				Owner: swarm.Ownership{Stack: "other", Source: "swarmsrc", Owner: "owner-2"}})
			o.Networks = append(o.Networks, swarm.ObservedObject{ID: "z", Name: "ingress"})
			return o
		}, nil, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := swarm.MakePlan(tc.d, tc.o(), tc.held).String()
			if diff := cmp.Diff(strings.TrimPrefix(tc.want, "\n"), got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanBrokenStackKeepsItsObjects: a stack that does not load is left
// as it runs: nothing of it is removed.
func TestPlanBrokenStackKeepsItsObjects(t *testing.T) {
	v1 := load(t, "app", map[string]string{"compose.yaml": appCompose})
	o := observedAs(v1)
	broken := load(t, "app", map[string]string{"compose.yaml": "services:\n  web: {image: x, privileged: true}\n"})
	p := swarm.MakePlan(broken, o, nil)
	if len(p.Ops) != 0 || p.Broken["app"] == "" {
		t.Errorf("plan of a broken stack: want no ops and the stack broken:\n%s", p)
	}
}

// TestPlanPrunesVolumesOnlyWhenAsked: this node's volumes of moor's stack
// removed from git go under prune.volumes, after its services; never
// without it, never another owner's.
func TestPlanPrunesVolumesOnlyWhenAsked(t *testing.T) {
	d := load(t, "db", map[string]string{"compose.yaml": "services:\n  pg: {image: pg:1}\n"})
	obs := func() *swarm.Observed {
		o := &swarm.Observed{}
		own := swarm.Ownership{Stack: "app", Source: "swarmsrc", Owner: "owner-1"}
		o.Services = []swarm.ObservedService{{ID: "s", Spec: mswarm.ServiceSpec{Annotations: mswarm.Annotations{Name: "app_web"}}, Owner: own}}
		o.Volumes = []swarm.ObservedObject{
			{ID: "app_data", Name: "app_data", Owner: own},
			{ID: "app_other", Name: "app_other", Owner: swarm.Ownership{Stack: "app"}}, // docker stack deploy's
		}
		return o
	}
	if got := swarm.MakePlan(d, obs(), nil).String(); strings.Contains(got, "volume") {
		t.Errorf("without prune.volumes the plan removes a volume:\n%s", got)
	}
	d.PruneVolumes = true
	p := swarm.MakePlan(d, obs(), nil)
	want := `create network db_default (missing)
create service db_pg (missing)
remove service app_web (stack removed from git)
remove volume app_data (stack removed from git, prune.volumes)
`
	if diff := cmp.Diff(want, p.String()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if last := p.Ops[len(p.Ops)-1]; !slices.Equal(last.Needs, []string{"app_web"}) {
		t.Errorf("the volume's removal needs %v, want its stack's service app_web", last.Needs)
	}
}

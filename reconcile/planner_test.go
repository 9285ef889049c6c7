package reconcile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	rev1 = "main@sha1:1111111111111111111111111111111111111111"
	rev2 = "main@sha1:2222222222222222222222222222222222222222"
)

func service(name, image string, env ...string) *Service {
	s := &Service{Name: name, Replicas: 1, PullPolicy: PullMissing,
		Spec: ContainerSpec{Image: image, Env: env, Restart: "always"}}
	s.Hash = s.Spec.Hash()
	return s
}

func stack(name string, svcs ...*Service) *Stack {
	st := &Stack{Name: name, Services: map[string]*Service{},
		Networks: map[string]*NetworkSpec{"default": {Key: "default", Name: name + "_default"}},
		Volumes:  map[string]*VolumeSpec{}}
	for _, s := range svcs {
		st.Services[s.Name] = s
	}
	return st
}

func desired(stacks ...*Stack) *Desired {
	d := &Desired{Source: "prod", Revision: rev2, Stacks: map[string]*Stack{}, Broken: map[string]error{}}
	for _, s := range stacks {
		d.Stacks[s.Name] = s
	}
	return d
}

// running returns the container that replica n of svc would be after a
// successful create from rev.
func running(stack string, svc *Service, n int, rev string) Container {
	return Container{
		ID: "id-" + ContainerName(stack, svc.Name, n), Name: ContainerName(stack, svc.Name, n),
		Stack: stack, Service: svc.Name, Number: n, Source: "prod", Revision: rev,
		ConfigHash: svc.Hash, Image: svc.Spec.Image, ImageID: "sha256:" + svc.Spec.Image,
		State: StateRunning, Labels: map[string]string{LabelConfigFields: svc.Spec.FieldDigests()},
	}
}

func observed(cs ...Container) *Observed {
	o := &Observed{Containers: cs, Images: map[string]string{}}
	seen := map[string]bool{}
	for _, c := range cs {
		o.Images[c.Image] = c.ImageID
		if !seen[c.Stack] {
			seen[c.Stack] = true
			o.Networks = append(o.Networks, Network{Name: c.Stack + "_default", Stack: c.Stack, Source: c.Source})
		}
	}
	return o
}

func TestPlanGolden(t *testing.T) {
	api := service("api", "app:1", "A=1")
	apiEnv := service("api", "app:1", "A=2")
	apiImage := service("api", "app:2", "A=1")
	db := service("db", "db:1")
	job := service("job", "app:1")
	job.Spec.Restart = "no"
	job.Hash = job.Spec.Hash()
	three := service("api", "app:1", "A=1")
	three.Replicas = 3

	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "first deploy",
			d:    desired(stack("web", api, db)),
			o:    &Observed{Images: map[string]string{"app:1": "sha256:a"}},
			want: `
create-network web/network/default (missing)
pull db:1 (not present, wanted by web/db)
create web/api/1 (missing)
create web/db/1 (missing)`,
		},
		{
			name: "converged",
			d:    desired(stack("web", api, db)),
			o:    observed(running("web", api, 1, rev1), running("web", db, 1, rev1)),
			want: ``,
		},
		{
			name: "env changed: only that service",
			d:    desired(stack("web", apiEnv, db)),
			o:    observed(running("web", api, 1, rev1), running("web", db, 1, rev1)),
			want: `replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "image reference changed",
			d:    desired(stack("web", apiImage)),
			o: func() *Observed {
				o := observed(running("web", api, 1, rev1))
				o.Images["app:2"] = "sha256:b"
				return o
			}(),
			want: `replace web/api/1 (config changed: image) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "same tag, new image id after a pull",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				o := observed(running("web", api, 1, rev1))
				o.Images["app:1"] = "sha256:newer"
				return o
			}(),
			want: `replace web/api/1 (image app:1 updated: app:1 -> newer) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "stopped by hand is started",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				c := running("web", api, 1, rev1)
				c.State, c.ExitCode = StateExited, 137
				return observed(c)
			}(),
			want: `start web/api/1 (exited with code 137)`,
		},
		{
			// Removed by hand, the engine not done yet: starting it
			// fails (no such container); its destroy event brings the
			// run that creates it again.
			name: "a container being removed is left to go",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				c := running("web", api, 1, rev1)
				c.State = StateRemoving
				return observed(c)
			}(),
			want: ``,
		},
		{
			name: "finished job is complete, failed job is started",
			d:    desired(stack("web", job, db)),
			o: func() *Observed {
				c := running("web", job, 1, rev1)
				c.State, c.ExitCode = StateExited, 0
				d := running("web", db, 1, rev1)
				return observed(c, d)
			}(),
			want: ``,
		},
		{
			name: "service removed from git",
			d:    desired(stack("web", api)),
			o:    observed(running("web", api, 1, rev1), running("web", db, 1, rev1)),
			want: `remove web/db/1 (service removed from git)`,
		},
		{
			name: "stack removed from git; other sources and stacks untouched",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				other := running("shop", db, 1, rev1)
				other.Source = "other-source"
				return observed(running("web", api, 1, rev1), running("blog", db, 1, rev1), other)
			}(),
			want: `
remove blog/db/1 (stack removed from git)
remove-network blog/network/blog_default (stack removed from git)`,
		},
		{
			name: "broken stack is left as it runs",
			d: func() *Desired {
				d := desired(stack("web", api))
				d.Broken["blog"] = errors.New("compose.yaml: line 3: bad indentation")
				return d
			}(),
			o:    observed(running("web", api, 1, rev1), running("blog", db, 1, rev1)),
			want: `broken blog (compose.yaml: line 3: bad indentation)`,
		},
		{
			name: "blocked service is left as it runs",
			d:    desired(stack("web", service("api", "app:9", "A=1"))),
			o:    observed(running("web", api, 1, rev1)),
			c:    Constraints{FailedPulls: map[string]string{"app:9": "pull app:9: manifest unknown"}},
			want: `blocked web/api (pull app:9: manifest unknown)`,
		},
		{
			name: "an image that must not be pulled and is not there blocks its service",
			d: func() *Desired {
				s := service("api", "app:9", "A=1")
				s.PullPolicy = PullNever
				s.Hash = s.Spec.Hash()
				return desired(stack("web", s))
			}(),
			o:    observed(running("web", api, 1, rev1)),
			want: `blocked web/api (image app:9 is not present and pull_policy is never)`,
		},
		{
			name: "held service is left as it runs",
			d:    desired(stack("web", apiEnv, db)),
			o:    observed(running("web", api, 1, rev1), running("web", db, 1, rev1)),
			c:    Constraints{Held: map[string]string{"web/api": "main@2222222 failed: unhealthy"}},
			want: `held web/api (main@2222222 failed: unhealthy)`,
		},
		{
			name: "an explicit apply retries a held service and says so",
			d:    desired(stack("web", apiEnv, db)),
			o:    observed(running("web", api, 1, rev1), running("web", db, 1, rev1)),
			c:    Constraints{Held: map[string]string{"web/api": "main@2222222 failed: unhealthy"}, Explicit: true},
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
note: web/api is retried now; a controller run holds it: main@2222222 failed: unhealthy`,
		},
		{
			name: "reported drift is not applied",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				c := running("web", api, 1, rev2)
				c.State, c.ExitCode = StateExited, 137
				return observed(c)
			}(),
			c:    Constraints{ReportDrift: true},
			want: `drift start web/api/1 (exited with code 137)`,
		},
		{
			name: "an explicit apply repairs reported drift",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				c := running("web", api, 1, rev2)
				c.State, c.ExitCode = StateExited, 137
				return observed(c)
			}(),
			c: Constraints{ReportDrift: true, Explicit: true},
			want: `
start web/api/1 (exited with code 137)
note: the host drifted from the revision it was converged to; this apply repairs it (a controller run only reports it: drift: report)`,
		},
		{
			name: "scale up and down",
			d:    desired(stack("web", three)),
			o: observed(running("web", api, 1, rev1), running("web", api, 2, rev1),
				running("web", api, 4, rev1)),
			want: `
create web/api/3 (missing)
remove web/api/4 (scaled to 3)`,
		},
		{
			name: "interrupted replacement: retired without a new container is restored",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				c := running("web", api, 1, rev1)
				c.Name += RetiredSuffix
				c.Retired = true
				c.State = StateExited
				return observed(c)
			}(),
			want: `restore web/api/1 (interrupted replacement: new container missing)`,
		},
		{
			name: "interrupted replacement: new one runs, retired is removed, candidate too",
			d:    desired(stack("web", apiEnv)),
			o: func() *Observed {
				old := running("web", api, 1, rev1)
				old.Name += RetiredSuffix
				old.Retired = true
				old.State = StateExited
				cand := running("web", apiEnv, 2, rev2)
				cand.Name = ContainerName("web", "api", 2) + CandidateSuffix
				cand.State = StateCreated
				return observed(running("web", apiEnv, 1, rev2), old, cand)
			}(),
			want: `
remove web/api/web-api-1-retired (replacement finished)
remove web/api/web-api-2-candidate (leftover of an interrupted replacement)`,
		},
		{
			name: "interrupted replacement: restored then replaced in one plan",
			d:    desired(stack("web", apiEnv)),
			o: func() *Observed {
				old := running("web", api, 1, rev1)
				old.Name += RetiredSuffix
				old.Retired = true
				old.State = StateExited
				return observed(old)
			}(),
			want: `
restore web/api/1 (interrupted replacement: new container missing)
replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "a container of an unknown name in a service is removed",
			d:    desired(stack("web", api)),
			o: func() *Observed {
				odd := running("web", api, 1, rev1)
				odd.Name, odd.ID = "web_api_1", "id-odd"
				return observed(running("web", api, 1, rev1), odd)
			}(),
			want: `remove web/api/web_api_1 (unexpected name web_api_1)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(tt.d, tt.o, tt.c).String()
			want := strings.TrimPrefix(tt.want, "\n")
			if want != "" {
				want += "\n"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanIgnoresUnlabelled(t *testing.T) {
	api := service("api", "app:1")
	o := observed(running("web", api, 1, rev1))
	o.Containers = append(o.Containers, Container{ID: "x", Name: "web-api-2", State: StateRunning})
	if p := MakePlan(desired(stack("web", api)), o, Constraints{}); !p.Empty() {
		t.Fatalf("unlabelled container planned for:\n%s", p)
	}
}

func TestPlanDeterministic(t *testing.T) {
	var svcs []*Service
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		svcs = append(svcs, service(n, "img:"+n))
	}
	first := MakePlan(desired(stack("x", svcs...), stack("y", svcs...)), &Observed{}, Constraints{}).String()
	for i := 0; i < 20; i++ {
		if got := MakePlan(desired(stack("x", svcs...), stack("y", svcs...)), &Observed{}, Constraints{}).String(); got != first {
			t.Fatalf("plan %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

// TestPlanPruneVolumes: the volumes of a stack removed from git stay,
// unless the source prunes them; another source's volumes always stay.
func TestPlanPruneVolumes(t *testing.T) {
	db := service("db", "db:1")
	obs := observed(running("blog", db, 1, rev1))
	obs.Volumes = []Volume{
		{Name: "blog_data", Stack: "blog", Source: "prod"},
		{Name: "blog_shared", Stack: "blog", Source: "staging"},
	}
	for _, prune := range []bool{false, true} {
		d := desired(stack("web", service("api", "app:1")))
		d.PruneVolumes = prune
		var got []string
		for _, op := range MakePlan(d, obs, Constraints{}).Ops {
			if op.Stack == "blog" {
				got = append(got, op.String())
			}
		}
		want := []string{
			"remove blog/db/1 (stack removed from git)",
			"remove-network blog/network/blog_default (stack removed from git)",
		}
		if prune {
			want = append(want, "remove-volume blog/volume/blog_data (stack removed from git, volumes pruned)")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("prune=%v (-want +got):\n%s", prune, diff)
		}
	}
}

// TestPlanOwnership: an instance plans only for what carries its owner
// label. Another instance's containers make a stack it wants a conflict
// and are never planned for, nor are its stacks removed; a container whose
// moor labels come from its image is nobody's; containers without an owner
// (made before owners were recorded) are adopted only when the instance
// says so.
func TestPlanOwnership(t *testing.T) {
	api, db := service("api", "app:1"), service("db", "db:1")
	mine := func(c Container) Container { c.Owner = "me"; return c }
	theirs := func(c Container) Container { c.Owner = "them"; return c }
	d := func() *Desired {
		d := desired(stack("web", api))
		d.Owner = "me"
		return d
	}
	tests := []struct {
		name string
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "another instance's stack beside mine: left alone",
			o: func() *Observed {
				o := observed(mine(running("web", api, 1, rev1)), theirs(running("blog", db, 1, rev1)))
				for i := range o.Networks {
					o.Networks[i].Owner = map[string]string{"web": "me", "blog": "them"}[o.Networks[i].Stack]
				}
				return o
			}(),
			want: ``,
		},
		{
			name: "another instance's containers in a stack I want: a conflict",
			o:    observed(theirs(running("web", api, 1, rev1))),
			want: `conflict web (container web-api-1 belongs to another moor instance (owner them); it is never touched: stop that instance, or give this one its identity)`,
		},
		{
			name: "moor's labels from an image: nobody's",
			o: func() *Observed {
				c := running("web", api, 1, rev1)
				c.ImageLabeled = true
				return observed(c)
			}(),
			c:    Constraints{AdoptUnowned: true},
			want: `conflict web (container web-api-1 carries moor's labels from its image, not from moor; it is never touched)`,
		},
		{
			name: "unowned, adopted by the instance that made them",
			o:    observed(running("web", api, 1, rev1), running("blog", db, 1, rev1)),
			c:    Constraints{AdoptUnowned: true},
			want: `
remove blog/db/1 (stack removed from git)
remove-network blog/network/blog_default (stack removed from git)`,
		},
		{
			name: "unowned, not adopted by a new instance",
			o:    observed(running("blog", db, 1, rev1)),
			want: `
create-network web/network/default (missing)
pull app:1 (not present, wanted by web/api)
create web/api/1 (missing)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(d(), tt.o, tt.c).String()
			want := strings.TrimPrefix(tt.want, "\n")
			if want != "" {
				want += "\n"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

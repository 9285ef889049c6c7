package reconcile

import (
	"testing"
)

// built returns svc turned into a service built from hash.
func builtService(name, hash string) *Service {
	b := &BuildSpec{Image: BuildImage("web-"+name, hash), Tags: []string{"web-" + name + ":latest"}, Hash: hash,
		Root: "/snap", Context: "web/app", Dockerfile: "Dockerfile"}
	s := service(name, b.Image)
	s.PullPolicy, s.Build = PullBuild, b
	return s
}

const (
	hashA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestPlanBuild(t *testing.T) {
	apiA, apiB := builtService("api", hashA), builtService("api", hashB)
	withBuilt := func(o *Observed, svc *Service) *Observed {
		id := "sha256:" + svc.Spec.Image
		o.Images[svc.Spec.Image] = id
		if o.BuildHashes == nil {
			o.BuildHashes = map[string]string{}
		}
		o.BuildHashes[id] = svc.Build.Hash
		return o
	}
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "no image: build before the create",
			d:    desired(stack("web", apiA)),
			o:    observed(),
			want: `
create-network web/network/default (missing)
    1 create-network web_default
build web-api:moor-aaaaaaaaaaaaaaaa (no image of this build, wanted by web/api)
    1 build web-api:moor-aaaaaaaaaaaaaaaa from web/app (Dockerfile)
create web/api/1 (missing)
    after web-api:moor-aaaaaaaaaaaaaaaa, web/network/default
    1 create web-api-1
    2 start web-api-1
    3 wait web-api-1 ready (running)`,
		},
		{
			name: "built before: nothing to do",
			d:    desired(stack("web", apiA)),
			o:    withBuilt(observed(running("web", apiA, 1, rev1)), apiA),
			want: "",
		},
		{
			name: "the build changed: build, then replace",
			d:    desired(stack("web", apiB)),
			o:    withBuilt(observed(running("web", apiA, 1, rev1)), apiA),
			want: `
build web-api:moor-bbbbbbbbbbbbbbbb (context or settings changed, wanted by web/api)
replace web/api/1 (config changed: image) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "a tag without the build's label is no build of it",
			d:    desired(stack("web", apiA)),
			o: func() *Observed {
				o := observed(running("web", apiA, 1, rev1))
				o.BuildHashes = map[string]string{"sha256:" + apiA.Spec.Image: hashB}
				return o
			}(),
			want: "build web-api:moor-aaaaaaaaaaaaaaaa (no image of this build, wanted by web/api)",
		},
		{
			name: "a held build is not run",
			d:    desired(stack("web", apiB)),
			o:    withBuilt(observed(running("web", apiA, 1, rev1)), apiA),
			c:    Constraints{Held: map[string]string{"web/api": "build failed"}},
			want: "held web/api (build failed)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MakePlan(tt.d, tt.o, tt.c)
			assertPlan(t, p, tt.want)
			if tt.name == "the build changed: build, then replace" {
				for _, op := range p.Ops {
					if op.Kind == OpReplace && (len(op.Needs) == 0 || op.Needs[0] != apiB.Spec.Image) {
						t.Errorf("the replace does not need the build: %v", op.Needs)
					}
				}
			}
		})
	}
}

// A build service with pull_policy never is built, never blocked: never
// forbids pulls, as in compose.
func TestPlanBuildIsNotBlockedByNever(t *testing.T) {
	api := builtService("api", hashA)
	api.PullPolicy = PullNever
	p := MakePlan(desired(stack("web", api)), observed(), Constraints{})
	if len(p.Blocked) > 0 {
		t.Fatalf("blocked: %v", p.Blocked)
	}
}

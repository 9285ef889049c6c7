package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	digestOld = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestNew = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestPlanImageUpdate(t *testing.T) {
	const tag = "reg:5000/app:1"
	app := service("app", tag)
	app.Replicas = 2
	pinned := service("pinned", "reg:5000/pin@"+digestOld)
	never := service("never", "reg:5000/local:1")
	never.PullPolicy = PullNever
	d := func() *Desired { return desired(stack("web", app, pinned, never)) }
	// The host runs what a pull of digestOld gave: the tag, and the image
	// known by its repo digest.
	host := func() *Observed {
		o := observed(running("web", app, 1, rev2), running("web", app, 2, rev2), running("web", pinned, 1, rev2), running("web", never, 1, rev2))
		for _, c := range o.Containers {
			if c.Service != "pinned" {
				o.Images[strings.TrimSuffix(c.Image, ":1")+"@"+digestOld] = c.ImageID
			}
		}
		return o
	}
	tests := []struct {
		name string
		o    func() *Observed
		c    Constraints
		want string
	}{
		{
			name: "the tag moved: pull it first, then replace every replica under the service's rollout",
			o: func() *Observed {
				o := host()
				o.Registry = map[string]string{tag: digestNew, "reg:5000/local:1": digestNew}
				return o
			},
			want: `
pull reg:5000/app:1 (tag moved in the registry to sha256:bbbbbbbbbbbb, wanted by web/app)
replace web/app/1 (image updated: reg:5000/app:1 sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb) [start-first, batch 1/2, rollback on failure]
replace web/app/2 (image updated: reg:5000/app:1 sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb) [start-first, batch 2/2, rollback on failure]`,
		},
		{
			name: "the registry names what runs",
			o: func() *Observed {
				o := host()
				o.Registry = map[string]string{tag: digestOld}
				return o
			},
		},
		{
			name: "no registry check: the repository alone decides",
			o:    host,
		},
		{
			name: "pulled already, not rolled out: no second pull",
			o: func() *Observed {
				o := host()
				o.Images[tag] = "sha256:newer"
				o.Images["reg:5000/app@"+digestNew] = "sha256:newer"
				o.Registry = map[string]string{tag: digestNew}
				return o
			},
			want: `
replace web/app/1 (image updated: reg:5000/app:1 sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb) [start-first, batch 1/2, rollback on failure]
replace web/app/2 (image updated: reg:5000/app:1 sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb) [start-first, batch 2/2, rollback on failure]`,
		},
		{
			name: "held after a failed update: kept as it runs",
			o: func() *Observed {
				o := host()
				o.Registry = map[string]string{tag: digestNew}
				return o
			},
			c:    Constraints{Held: map[string]string{"web/app": "the update to sha256:bbbbbbbbbbbb failed"}},
			want: `held web/app (the update to sha256:bbbbbbbbbbbb failed)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(d(), tt.o(), tt.c).String()
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

func TestImageUpdates(t *testing.T) {
	const tag = "reg:5000/app:1"
	app, db := service("app", tag), service("db", "db:1")
	built := service("img", "web-img:moor-build-1")
	built.PullPolicy, built.Build = PullBuild, &BuildSpec{Image: built.Spec.Image}
	d := desired(stack("web", app, db, built))
	o := observed(running("web", app, 1, rev2), running("web", db, 1, rev2), running("web", built, 1, rev2))
	o.Images["reg:5000/app@"+digestOld] = o.Containers[0].ImageID
	o.Registry = map[string]string{tag: digestNew, "db:1": o.Images["db:1"], built.Spec.Image: digestNew}
	o.Images["db@"+o.Images["db:1"]] = o.Images["db:1"] // db runs what the registry names
	want := []ImageUpdate{{Stack: "web", Service: "app", Image: tag, From: digestOld, To: digestNew}}
	if diff := cmp.Diff(want, ImageUpdates(d, o)); diff != "" {
		t.Errorf("ImageUpdates (-want +got):\n%s", diff)
	}
	o.Registry = nil
	if got := ImageUpdates(d, o); len(got) != 0 {
		t.Errorf("ImageUpdates without a registry check: %v, want none", got)
	}
}

func TestRepoOf(t *testing.T) {
	for ref, want := range map[string]string{
		"app:1":                   "app",
		"reg:5000/team/app:1.2":   "reg:5000/team/app",
		"reg:5000/app":            "reg:5000/app",
		"app@" + digestOld:        "",
		"reg:5000/app:1@sha256:x": "",
	} {
		if got, _ := repoOf(ref); got != want {
			t.Errorf("repoOf(%q) = %q, want %q", ref, got, want)
		}
	}
}

package compose

import (
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// bindVariants is one service per way of writing a bind: the short syntax,
// the long one without a bind block, and bind blocks with and without
// create_host_path.
const bindVariants = `services:
  short:
    image: app:1
    volumes: ["./conf:/conf:ro", "/srv/moor-bind-short:/srv"]
  long:
    image: app:1
    volumes:
      - {type: bind, source: ./conf, target: /conf}
  propagation:
    image: app:1
    volumes:
      - {type: bind, source: /srv/moor-bind-propagation, target: /srv, bind: {propagation: rslave}}
  selinux:
    image: app:1
    volumes:
      - {type: bind, source: /srv/moor-bind-selinux, target: /srv, bind: {selinux: z}}
  create:
    image: app:1
    volumes:
      - {type: bind, source: /srv/moor-bind-create, target: /srv, bind: {create_host_path: true}}
  nocreate:
    image: app:1
    volumes:
      - {type: bind, source: ./conf, target: /conf, bind: {create_host_path: false, selinux: Z}}
`

// TestComposeHashOfBinds: for every way of writing a bind, the
// com.docker.compose.config-hash moor computes is the one docker compose
// computes for the same files in the same directory, so `docker compose up
// -d` leaves moor's containers alone.
func TestComposeHashOfBinds(t *testing.T) {
	st, sd := mustLoadWeb(t, map[string]string{"web/compose.yaml": bindVariants, "web/conf/a": "a"}, Options{})
	out := testkit.Compose(t, sd.Dir, "config", "--hash", "*")
	want := map[string]string{}
	for line := range strings.Lines(out) {
		if name, hash, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			want[name] = hash
		}
	}
	if len(want) != len(st.Services) {
		t.Fatalf("docker compose hashed %d services, moor loaded %d:\n%s", len(want), len(st.Services), out)
	}
	for name, svc := range st.Services {
		if got := svc.Compose.Hash; got != want[name] {
			t.Errorf("service %s: moor's compose hash %s, docker compose's %s", name, got, want[name])
		}
	}
}

// TestBindCreatesHostPathOnlyWhenCompose: as in docker compose v2.40.3, a
// bind block without create_host_path does not create a missing host path
// (compose binds it through the mount API), while the short syntax and an
// explicit create_host_path: true do.
func TestBindCreatesHostPathOnlyWhenCompose(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": bindVariants, "web/conf/a": "a"}, Options{})
	for _, tc := range []struct {
		service, target string
		create, legacy  bool
	}{
		{"short", "/srv", true, true},
		{"propagation", "/srv", false, false},
		{"selinux", "/srv", false, false},
		{"create", "/srv", true, true},
	} {
		var found bool
		for _, m := range st.Services[tc.service].Spec.Mounts {
			if m.Target != tc.target {
				continue
			}
			found = true
			if m.CreateHostPath != tc.create || m.Legacy != tc.legacy {
				t.Errorf("service %s: bind %s has create_host_path %t, legacy bind %t; want %t, %t",
					tc.service, tc.target, m.CreateHostPath, m.Legacy, tc.create, tc.legacy)
			}
		}
		if !found {
			t.Errorf("service %s: no mount at %s", tc.service, tc.target)
		}
	}
}

// TestInterpolatedDependsOnFlagRefused: docker compose v2.40.3 refuses an
// interpolated depends_on.required (the schema wants a boolean,
// interpolation gives a string); so does moor, naming the field. (restart
// takes a string too.)
func TestInterpolatedDependsOnFlagRefused(t *testing.T) {
	for _, flag := range []string{"required"} {
		t.Run(flag, func(t *testing.T) {
			files := map[string]string{"web/compose.yaml": `services:
  app:
    image: app:1
    depends_on:
      db: {condition: service_started, ` + flag + `: "${FLAG:-true}"}
  db:
    image: app:1
`}
			_, sd, err := loadWeb(t, files, Options{})
			want := `field "depends_on.db.` + flag + `": must be a boolean`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("LoadStack: %v, want an error with %s", err, want)
			}
			if out, err := testkit.ComposeErr(t, sd.Dir, "config", "--quiet"); err == nil || !strings.Contains(out, "must be a boolean") {
				t.Errorf("docker compose config accepts what moor refuses: %v\n%s", err, out)
			}
		})
	}
}

// TestNonFiniteNamesTheField: an unquoted .inf or .nan, which compose-go
// cannot validate, is refused with the field at fault and what to do.
func TestNonFiniteNamesTheField(t *testing.T) {
	for _, v := range []string{".inf", "-.Inf", ".NaN"} {
		files := map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n    labels: [a=b]\n    environment:\n      A: \"1\"\n      LIMIT: " + v + "\n"}
		_, _, err := loadWeb(t, files, Options{})
		want := `field "services.app.environment.LIMIT" is an unquoted .inf or .nan`
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "quote it") {
			t.Errorf("%s: LoadStack: %v, want an error with %s", v, err, want)
		}
	}
	files := map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n    environment:\n      LIMIT: \".inf\"\n"}
	if _, _, err := loadWeb(t, files, Options{}); err != nil {
		t.Errorf("quoted .inf: LoadStack: %v", err)
	}
}

// TestManyNodesLoad: a file of more YAML nodes than compose-go's own cap
// (100,000), within moor's size limit, loads, as docker compose v2.40.3
// loads it. (compose-go takes seconds over such a file, whatever its
// version.)
func TestManyNodesLoad(t *testing.T) {
	pad := strings.Repeat("a, ", 100_100)
	files := map[string]string{"web/compose.yaml": "x-pad: [" + pad + "a]\nservices:\n  app:\n    image: app:1\n"}
	if _, _, err := loadWeb(t, files, Options{}); err != nil {
		t.Fatalf("LoadStack: %v", err)
	}
}

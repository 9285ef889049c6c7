package compose

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/secrets"
)

// fleetLoad loads files for host and returns, by stack, where it was
// loaded from (its Dir) or "broken: ERROR".
func fleetLoad(t *testing.T, files map[string]string, host *Host) (map[string]string, error) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	d, err := Load(t.Context(), root, Options{Host: host})
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for name, st := range d.Stacks {
		got[name] = st.Dir
	}
	for name, err := range d.Broken {
		got[name] = "broken: " + err.Error()
	}
	return got, nil
}

func TestFleetSelection(t *testing.T) {
	web := &Host{Name: "a", Labels: map[string]string{"role": "web", "region": "eu"}}
	db := &Host{Name: "b", Labels: map[string]string{"role": "db"}}
	plain := stackFile("")
	for _, tt := range []struct {
		name  string
		files map[string]string
		host  *Host
		want  map[string]string
	}{
		{"shared stacks run everywhere", map[string]string{"app/compose.yaml": plain}, db,
			map[string]string{"app": "app"}},
		{"the host's own directory", map[string]string{
			"app/compose.yaml":           plain,
			"hosts/a/cache/compose.yaml": plain,
			"hosts/b/store/compose.yaml": plain,
		}, web, map[string]string{"app": "app", "cache": "hosts/a/cache"}},
		{"groups by label", map[string]string{
			"groups/role=web/proxy/compose.yaml": plain,
			"groups/role=db/pg/compose.yaml":     plain,
			"groups/region=eu/geo/compose.yaml":  plain,
			"groups/README.md":                   "not a directory",
		}, web, map[string]string{"proxy": "groups/role=web/proxy", "geo": "groups/region=eu/geo"}},
		{"no group of the other host is read", map[string]string{
			"groups/role=web/proxy/compose.yaml": plain,
			"groups/role=db/pg/compose.yaml":     plain,
		}, db, map[string]string{"pg": "groups/role=db/pg"}},
		{"another host's broken stack is never parsed", map[string]string{
			"app/compose.yaml":              plain,
			"hosts/b/bad/compose.yaml":      "services: [",
			"groups/role=db/x/compose.yaml": "services: [",
		}, web, map[string]string{"app": "app"}},
		{"a stack named hosts is a stack", map[string]string{
			"hosts/compose.yaml": plain,
		}, web, map[string]string{"hosts": "hosts"}},
		{"x-moor.hosts", map[string]string{
			"app/compose.yaml":  stackFile("x-moor:\n  hosts: [a, c]\n"),
			"only/compose.yaml": stackFile("x-moor:\n  hosts: [b]\n"),
		}, web, map[string]string{"app": "app"}},
		{"x-moor.host_labels needs every label", map[string]string{
			"one/compose.yaml":  stackFile("x-moor:\n  host_labels: {role: web}\n"),
			"both/compose.yaml": stackFile("x-moor:\n  host_labels: {role: web, region: us}\n"),
			"none/compose.yaml": stackFile("x-moor:\n  host_labels: {tier: gold}\n"),
		}, web, map[string]string{"one": "one"}},
		{"x-moor hosts and host_labels both hold", map[string]string{
			"yes/compose.yaml": stackFile("x-moor:\n  hosts: [a]\n  host_labels: {role: web}\n"),
			"no/compose.yaml":  stackFile("x-moor:\n  hosts: [a]\n  host_labels: {role: db}\n"),
		}, web, map[string]string{"yes": "yes"}},
		{"x-moor in the host's own directory", map[string]string{
			"hosts/a/x/compose.yaml": stackFile("x-moor:\n  host_labels: {role: db}\n"),
		}, web, map[string]string{}},
		{"given twice refuses both", map[string]string{
			"app/compose.yaml":                 plain,
			"hosts/a/app/compose.yaml":         plain,
			"groups/role=web/app/compose.yaml": plain,
			"other/compose.yaml":               plain,
		}, web, map[string]string{
			"app":   "broken: stack app (app/compose.yaml): given 3 times for host a (app/compose.yaml, groups/role=web/app/compose.yaml, hosts/a/app/compose.yaml): a stack is given once per host; none of them is deployed until the others are removed",
			"other": "other",
		}},
		{"a needed stack not for this host", map[string]string{
			"front/compose.yaml": stackFile("x-moor:\n  depends_on: [db]\n"),
			"db/compose.yaml":    stackFile("x-moor:\n  hosts: [b]\n"),
		}, web, map[string]string{
			"front": "broken: stack front (front/compose.yaml): x-moor.depends_on: needs stack db, which is not for host a (x-moor.hosts names b, not a): it is left as it runs",
		}},
		{"a needed stack of the host's directory", map[string]string{
			"front/compose.yaml":      stackFile("x-moor:\n  depends_on: [db]\n"),
			"hosts/a/db/compose.yaml": plain,
		}, web, map[string]string{"front": "front", "db": "hosts/a/db"}},
		{"without a host, fleet directories are not read", map[string]string{
			"app/compose.yaml":       stackFile("x-moor:\n  hosts: [b]\n"),
			"hosts/a/x/compose.yaml": plain,
		}, nil, map[string]string{"app": "app"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fleetLoad(t, tt.files, tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stacks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFleetLayoutRefused(t *testing.T) {
	web := &Host{Name: "a", Labels: map[string]string{"role": "web"}}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a group not named KEY=VALUE", map[string]string{"groups/web/x/compose.yaml": stackFile("")},
			"groups/web: a group's directory is named LABEL=VALUE (groups/role=web)"},
		{"a bad label in a group's name", map[string]string{"groups/role=w b/x/compose.yaml": stackFile("")},
			`groups/role=w b: label role: value "w b": want letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"a host directory holding a compose file", map[string]string{"hosts/a/compose.yaml": stackFile("")},
			"hosts/a holds compose.yaml: a host's or group's directory holds stack directories (hosts/a/STACK/compose.yaml)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fleetLoad(t, tt.files, web)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestFleetSelectorRefused(t *testing.T) {
	for _, tt := range []struct{ name, xmoor, want string }{
		{"hosts a string", "x-moor:\n  hosts: a", `x-moor.hosts: must be a list of host names, not a string`},
		{"hosts empty", "x-moor:\n  hosts: []", `x-moor.hosts: empty: no host would run the stack; name its hosts or remove the key`},
		{"hosts null", "x-moor:\n  hosts:", `x-moor.hosts: empty: no host would run the stack; name its hosts or remove the key`},
		{"a host a number", "x-moor:\n  hosts: [a, 3]", `x-moor.hosts[1]: must be a host name, not a number`},
		{"a bad host name", "x-moor:\n  hosts: [\"a b\"]", `x-moor.hosts[0]: "a b" is not a host name: want letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"a host twice", "x-moor:\n  hosts: [a, a]", `x-moor.hosts[1] "a": listed twice`},
		{"host_labels a list", "x-moor:\n  host_labels: [role=web]", `x-moor.host_labels: must be a mapping of label: value (role: web), not a list`},
		{"host_labels empty", "x-moor:\n  host_labels: {}", `x-moor.host_labels: empty: remove the key, or give the labels the hosts must carry (role: web)`},
		{"a label value a number", "x-moor:\n  host_labels: {tier: 1}", `x-moor.host_labels.tier: must be a string, not a number (quote it)`},
		{"a bad label", "x-moor:\n  host_labels: {role: \"a/b\"}", `x-moor.host_labels.role: label role: value "a/b": want letters, digits, '_', '.' and '-', starting with a letter or digit`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := "broken: stack web (web/compose.yaml): " + tt.want
			for _, host := range []*Host{{Name: "a"}, nil} {
				got, err := fleetLoad(t, map[string]string{"web/compose.yaml": stackFile(tt.xmoor)}, host)
				if err != nil {
					t.Fatal(err)
				}
				if got["web"] != want {
					t.Errorf("host %v:\n got %s\nwant %s", host, got["web"], want)
				}
			}
		})
	}
}

// envOf loads files for host and returns the environment of web's app.
func envOf(t *testing.T, files map[string]string, host *Host, vars map[string]string) (map[string]string, error) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	d, err := Load(t.Context(), root, Options{Host: host, Variables: vars})
	if err != nil {
		return nil, err
	}
	if err := d.Broken["web"]; err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range d.Stacks["web"].Services["app"].Spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env, nil
}

const varsStack = `services:
  app:
    image: app:1
    environment:
      NAME: ${MOOR_HOST_NAME}
      ROLE: ${MOOR_HOST_LABEL_ROLE}
      ZONE: ${MOOR_HOST_LABEL_CLOUD_ZONE}
      A: ${A}
      B: ${B}
      C: ${C}
      D: ${D}
      E: ${E}
`

func TestFleetVariablesPrecedence(t *testing.T) {
	host := &Host{Name: "a", Labels: map[string]string{"role": "web", "cloud-zone": "z1", "region": "eu"}}
	files := map[string]string{
		"web/compose.yaml":               varsStack,
		"web/.env":                       "A=stack\nB=stack\nC=stack\nD=stack\nE=stack\nMOOR_HOST_NAME=spoofed\n",
		"groups/role=web/variables.env":  "B=group-role\nC=group-role\nD=group-role\n",
		"groups/region=eu/variables.env": "B=group-role\nE=group-region\n",
		"groups/role=db/variables.env":   "B=never read\n",
		"hosts/a/variables.env":          "C=host\nD=host\n",
		"hosts/b/variables.env":          "C=never read\n",
	}
	got, err := envOf(t, files, host, map[string]string{"D": "source"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"NAME": "a", "ROLE": "web", "ZONE": "z1",
		"A": "stack", "B": "group-role", "C": "host", "D": "source", "E": "group-region",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestFleetVariablesGroupsDisagree(t *testing.T) {
	host := &Host{Name: "a", Labels: map[string]string{"role": "web", "region": "eu"}}
	files := map[string]string{
		"web/compose.yaml":               varsStack,
		"groups/role=web/variables.env":  "B=one\n",
		"groups/region=eu/variables.env": "B=two\n",
	}
	_, err := envOf(t, files, host, nil)
	want := `stack web (web/compose.yaml): variable B is set differently by "groups/region=eu/variables.env" and "groups/role=web/variables.env": the host is in both groups; set it in one of them, or in hosts/a/variables.env`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestFleetVariablesBadFile(t *testing.T) {
	host := &Host{Name: "a"}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"web/compose.yaml": varsStack})
	if err := os.MkdirAll(filepath.Join(root, "hosts", "a", "variables.env"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := Load(t.Context(), root, Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	msg := ""
	if err := d.Broken["web"]; err != nil {
		msg = err.Error()
	}
	if !strings.HasPrefix(msg, `stack web (web/compose.yaml): variables file "hosts/a/variables.env": `) {
		t.Errorf("error: %q", msg)
	}
	if names := slices.Sorted(maps.Keys(d.Stacks)); len(names) != 0 {
		t.Errorf("loaded %v", names)
	}
}

// TestFleetOtherHostsFilesRefused: a stack of the host reading a file of
// another host's directory is refused, by a symlink or a path.
func TestFleetOtherHostsFilesRefused(t *testing.T) {
	host := &Host{Name: "a", Labels: map[string]string{"role": "web"}}
	files := map[string]string{
		"web/compose.yaml":        "services:\n  app:\n    image: app:1\n    env_file: ../hosts/b/app.env\n",
		"hosts/b/app.env":         "X=1\n",
		"ok/compose.yaml":         "services:\n  app:\n    image: app:1\n    env_file: [../hosts/a/app.env, ../groups/role=web/app.env]\n",
		"hosts/a/app.env":         "X=1\n",
		"groups/role=web/app.env": "Y=1\n",
		"group/compose.yaml":      "services:\n  app:\n    image: app:1\n    env_file: ../groups/role=db/app.env\n",
		"groups/role=db/app.env":  "Y=1\n",
	}
	got, err := fleetLoad(t, files, host)
	if err != nil {
		t.Fatal(err)
	}
	if got["ok"] != "ok" {
		t.Errorf("ok: %s", got["ok"])
	}
	for _, name := range []string{"web", "group"} {
		if !strings.Contains(got[name], ErrOtherHost.Error()) {
			t.Errorf("%s: %s", name, got[name])
		}
	}
}

// TestFleetVariablesSOPS: a host's variables.env encrypted with sops is
// decrypted as a stack's .env is: its values reach the stack, marked as
// secret and redacted; without keys the stack is refused.
func TestFleetVariablesSOPS(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".sops.yaml":            "creation_rules:\n  - path_regex: variables\\.env$\n    age: " + k.AgeRecipient + "\n",
		"web/compose.yaml":      "services:\n  app:\n    image: app:1\n    environment:\n      TOKEN: ${TOKEN}\n",
		"hosts/a/variables.env": k.Encrypt(t, "variables.env", "TOKEN=tok-fleet-123\n"),
	})
	d, err := Load(t.Context(), root, Options{Host: &Host{Name: "a"}, Secrets: Secrets{Keys: keys, Dir: "/dev/shm/moor-test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err != nil {
		t.Fatal(err)
	}
	st := d.Stacks["web"]
	if env := st.Services["app"].Spec.Env; !slices.Contains(env, "TOKEN=tok-fleet-123") {
		t.Errorf("environment: %v", env)
	}
	if !slices.Contains(st.Redact, "tok-fleet-123") || !st.Sensitive() {
		t.Errorf("the decrypted value is not marked secret: Redact %v", st.Redact)
	}
	d, err = Load(t.Context(), root, Options{Host: &Host{Name: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err == nil || !strings.Contains(err.Error(), `variables file "hosts/a/variables.env": sops`) {
		t.Errorf("without keys: %v", err)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateSwarm: moor validate --runtime swarm checks the stacks as a
// swarm source maps them: a field Swarm does not run is an error naming
// it, one docker stack deploy ignores is a warning.
func TestValidateSwarm(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"web/compose.yaml": "services:\n  api:\n    image: app:1\n    depends_on: [db]\n  db:\n    image: pg:1\n    deploy: {placement: {constraints: [node.role == manager]}}\n",
		"job/compose.yaml": "services:\n  run:\n    image: app:1\n    container_name: run\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"validate", "--runtime", "swarm", dir}, &stdout, &stderr)
	want := `error job: stack job (job/compose.yaml): service run: field "container_name" is not supported by moor's swarm runtime: Swarm names a service's tasks itself
ok    web (api, db)
warn  web: service api: depends_on has no effect under Swarm (docker stack deploy ignores it too): services start in any order
`
	if code != 1 || stdout.String() != want {
		t.Errorf("moor validate --runtime swarm exited %d:\n%s%s\nwant 1:\n%s", code, stdout.String(), stderr.String(), want)
	}
	stdout.Reset()
	if code := run(t.Context(), []string{"validate", "--runtime", "nomad", dir}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), `--runtime "nomad": want docker or swarm`) {
		t.Errorf("--runtime nomad: exit %d, %s", code, stderr.String())
	}
}

// TestValidateSwarmHost: a swarm is a host of a fleet as a machine is:
// `moor validate --runtime swarm --host` loads the stacks its identity
// selects (its hosts/ and groups/ directories, x-moor.hosts and
// host_labels) and no other, and says what of x-moor it does not do.
func TestValidateSwarmHost(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"shared/compose.yaml":              "services:\n  api:\n    image: app:1\n",
		"eu-only/compose.yaml":             "x-moor: {host_labels: {region: eu}, depends_on: [shared]}\nservices:\n  api:\n    image: app:1\n",
		"hosts/swarm-eu/edge/compose.yaml": "services:\n  proxy:\n    image: proxy:1\n",
		"hosts/swarm-us/edge/compose.yaml": "services:\n  proxy:\n    image: proxy:1\n    container_name: refused-if-loaded\n",
		"groups/region=eu/db/compose.yaml": "services:\n  pg:\n    image: pg:${MOOR_HOST_LABEL_REGION}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		host, labels string
		want, not    []string
	}{
		{"swarm-eu", "region=eu", []string{"ok    db (pg)", "ok    edge (proxy)", "ok    eu-only (api)", "ok    shared (api)",
			"warn  eu-only: x-moor.depends_on has no effect under moor's swarm runtime"}, []string{"container_name"}},
		{"swarm-us", "region=us", []string{"ok    shared (api)", `error edge: stack edge (hosts/swarm-us/edge/compose.yaml): service proxy: field "container_name"`}, []string{"ok    db", "ok    eu-only"}},
	} {
		var stdout, stderr bytes.Buffer
		run(t.Context(), []string{"validate", "--runtime", "swarm", "--host", tt.host, "--labels", tt.labels, dir}, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("host %s: output lacks %q:\n%s", tt.host, w, out)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(out, n) {
				t.Errorf("host %s: output has %q:\n%s", tt.host, n, out)
			}
		}
	}
}

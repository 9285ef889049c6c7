package config

import (
	"strings"
	"testing"
)

func TestRuntime(t *testing.T) {
	for in, want := range map[string]string{"": "", "docker": RuntimeDocker, "swarm": RuntimeSwarm} {
		src := "sources:\n  - {name: prod, repo: /srv/deploy}\n"
		if in != "" {
			src = "sources:\n  - {name: prod, repo: /srv/deploy, runtime: " + in + "}\n"
		}
		c, err := Parse([]byte(src), "moor.yaml", Defaults{})
		if err != nil || c.Sources[0].Runtime != want {
			t.Errorf("runtime %q: got %v, %v; want %q", in, c, err, want)
		}
	}
	_, err := Parse([]byte("sources:\n  - name: prod\n    repo: /srv/deploy\n    runtime: kubernetes\n"), "moor.yaml", Defaults{})
	if want := `moor.yaml:4: sources[0].runtime: "kubernetes" is not one of docker, swarm`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("runtime kubernetes: %v; want %s", err, want)
	}
}

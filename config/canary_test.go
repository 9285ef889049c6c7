package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCanaryConfig: the peers' URLs are kept without a trailing slash and
// the peers' source defaults to the source's own name.
func TestCanaryConfig(t *testing.T) {
	in := "sources:\n  - name: prod\n    repo: /srv/git/deploy\n    canary:\n      peers:\n        edge-1: http://10.0.0.5:9100/\n        edge-2: https://edge-2.example.com\n      token_file: /etc/moor/peer-token\n"
	cfg, err := Parse([]byte(in), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	want := Canary{Peers: map[string]string{"edge-1": "http://10.0.0.5:9100", "edge-2": "https://edge-2.example.com"},
		TokenFile: "/etc/moor/peer-token", Source: "prod"}
	if diff := cmp.Diff(want, cfg.Sources[0].Canary); diff != "" {
		t.Errorf("canary (-want +got):\n%s", diff)
	}
	// The forge alone: no peers needed.
	in = "sources:\n  - name: prod\n    repo: https://github.com/ops/deploy.git\n    commit_status: {provider: github, token_file: /t}\n    canary: {forge: true}\n"
	if cfg, err = Parse([]byte(in), "moor.yaml", Defaults{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Canary{Forge: true, Source: "prod"}, cfg.Sources[0].Canary); diff != "" {
		t.Errorf("canary from the forge (-want +got):\n%s", diff)
	}
	cfg, err = Parse([]byte("sources:\n  - name: prod\n    repo: /srv/git/deploy\n"), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Canary{}, cfg.Sources[0].Canary); diff != "" {
		t.Errorf("no canary block (-want +got):\n%s", diff)
	}
}

// TestCanaryConfigErrors: each mistake names its line and field; a token
// written inline is refused without being repeated.
func TestCanaryConfigErrors(t *testing.T) {
	const head = "sources:\n  - name: prod\n    repo: /srv/git/deploy\n    canary:\n"
	for _, tt := range []struct{ block, want string }{
		{"      token_file: /t\n", "moor.yaml:5: sources[0].canary.peers: missing"},
		{"      peers:\n        edge-1: 10.0.0.5:9100\n", `moor.yaml:6: sources[0].canary.peers.edge-1: "10.0.0.5:9100": want an http:// or https:// URL`},
		{"      peers:\n        edge-1: http://\n", `moor.yaml:6: sources[0].canary.peers.edge-1: "http://": names no host`},
		{"      peers:\n        edge-1: http://u:hunter2@10.0.0.5:9100\n", `moor.yaml:6: sources[0].canary.peers.edge-1: "http://u:xxxxx@10.0.0.5:9100": credentials are not written in a URL`},
		{"      peers:\n        edge-1: http://10.0.0.5:9100/?x=1\n", `moor.yaml:6: sources[0].canary.peers.edge-1: "http://10.0.0.5:9100/?x=1": want no query or fragment`},
		{"      peers:\n        \"edge 1\": http://10.0.0.5:9100\n", `moor.yaml:6: sources[0].canary.peers.edge 1: "edge 1" is not a host name`},
		{"      peers:\n        edge-1: \"\"\n", `moor.yaml:6: sources[0].canary.peers.edge-1: missing: the peer's moor address`},
		{"      peers: {edge-1: http://a:9100}\n      source: Prod\n", `moor.yaml:6: sources[0].canary.source: "Prod" is not a source name`},
		{"      peers: {edge-1: http://a:9100}\n      token: hunter2\n", `moor.yaml:6: sources[0].canary.token: secrets are not written in the config file: use token_file`},
		{"      peers: {edge-1: http://a:9100}\n      timeout: 5s\n", `moor.yaml:6: unknown key "timeout" in sources[0].canary`},
		{"      peers: [http://a:9100]\n", `moor.yaml:5: sources[0].canary.peers: want a mapping, got a list`},
		{"      forge: true\n", `moor.yaml:5: sources[0].canary.forge: needs the source's commit_status`},
		{"      forge: yes please\n", `moor.yaml:5: sources[0].canary.forge: want true or false`},
	} {
		_, err := Parse([]byte(head+tt.block), "moor.yaml", Defaults{})
		if err == nil {
			t.Errorf("Parse of\n%s succeeded, want %s", tt.block, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("Parse of\n%s:\n got  %v\n want %s...", tt.block, err, tt.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

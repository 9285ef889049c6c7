package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSourcePolicies(t *testing.T) {
	c, err := Parse([]byte(`
sources:
  - name: prod
    repo: /srv/deploy.git
    drift: report
    prune: {volumes: true}
    verify:
      mode: head
      openpgp_keys: [/etc/moor/alice.asc, /etc/moor/bob.asc]
      ssh_allowed_signers: /etc/moor/allowed_signers
      allow_history_rewrite: true
  - name: plain
    repo: /srv/other.git
`), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	prod, plain := c.Sources[0], c.Sources[1]
	if prod.Drift != DriftReport || !prod.PruneVolumes {
		t.Errorf("prod: drift %q, prune volumes %v", prod.Drift, prod.PruneVolumes)
	}
	want := Verify{Mode: VerifyHead, OpenPGPKeys: []string{"/etc/moor/alice.asc", "/etc/moor/bob.asc"},
		SSHAllowedSigners: "/etc/moor/allowed_signers", AllowHistoryRewrite: true}
	if diff := cmp.Diff(want, prod.Verify); diff != "" {
		t.Errorf("verify (-want +got):\n%s", diff)
	}
	if plain.Drift != DriftRepair || plain.PruneVolumes || plain.Verify.Mode != "" {
		t.Errorf("defaults: drift %q, prune %v, verify %+v", plain.Drift, plain.PruneVolumes, plain.Verify)
	}
}

func TestSourcePolicyErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"drift: fix", `moor.yaml:5: sources[0].drift: "fix" is not one of repair, report`},
		{"prune: {networks: true}", `unknown key "networks" in sources[0].prune`},
		{"verify: {mode: all, openpgp_keys: [k.asc]}", `sources[0].verify.mode: "all" is not a mode: use head`},
		{"verify: {mode: head}", "sources[0].verify: mode head needs openpgp_keys or ssh_allowed_signers"},
		{"verify: {openpgp_keys: [k.asc]}", "sources[0].verify.mode: missing"},
		{"verify: {mode: head, keys: [k.asc]}", `unknown key "keys" in sources[0].verify`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte("sources:\n  - name: prod\n    repo: /srv/deploy.git\n    ref: main\n    "+tt.yaml+"\n"), "moor.yaml", Defaults{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.yaml, err, tt.want)
		}
	}
}

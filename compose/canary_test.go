package compose

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

func TestStackCanaryLoad(t *testing.T) {
	for _, tt := range []struct {
		name, xmoor string
		want        *reconcile.Canary
	}{
		{"none", "", nil},
		{"depends_on only", "x-moor:\n  depends_on: []\n", nil},
		{"null", "x-moor:\n  canary:\n", nil},
		{"hosts, sorted", "x-moor:\n  canary:\n    hosts: [edge-2, edge-1]\n", &reconcile.Canary{Hosts: []string{"edge-1", "edge-2"}}},
		{"with a timeout", "x-moor:\n  canary: {hosts: [c1.example.com], timeout: 30m}\n", &reconcile.Canary{Hosts: []string{"c1.example.com"}, Timeout: 30 * time.Minute}},
		{"interpolated", "x-moor:\n  canary:\n    hosts: [\"${CANARY:-edge-9}\"]\n", &reconcile.Canary{Hosts: []string{"edge-9"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": stackFile(tt.xmoor)}, Options{})
			if diff := cmp.Diff(tt.want, st.Canary); diff != "" {
				t.Errorf("Canary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStackCanaryRefused(t *testing.T) {
	const at = "stack web (web/compose.yaml): "
	for _, tt := range []struct{ name, xmoor, want string }{
		{"a list", "x-moor:\n  canary: [edge-1]", `x-moor.canary: must be a mapping (hosts: [HOST, ...], timeout: DURATION), not a list`},
		{"unknown key", "x-moor:\n  canary: {hosts: [edge-1], wait: 5m}", `x-moor.canary: unknown key "wait": moor knows hosts and timeout`},
		{"no hosts", "x-moor:\n  canary: {timeout: 5m}", `x-moor.canary.hosts: missing: name the canary hosts (hosts: [HOST, ...])`},
		{"empty hosts", "x-moor:\n  canary: {hosts: []}", `x-moor.canary.hosts: is empty: name at least one canary host`},
		{"hosts a string", "x-moor:\n  canary: {hosts: edge-1}", `x-moor.canary.hosts: must be a list of host names, not a string`},
		{"a number", "x-moor:\n  canary: {hosts: [edge-1, 7]}", `x-moor.canary.hosts[1]: must be a host name, not a number`},
		{"a bad name", "x-moor:\n  canary: {hosts: [edge-1, \"edge 2\"]}", `x-moor.canary.hosts[1] "edge 2": not a host name: want letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"twice", "x-moor:\n  canary: {hosts: [edge-1, edge-1]}", `x-moor.canary.hosts[1] "edge-1": listed twice`},
		{"bad timeout", "x-moor:\n  canary: {hosts: [edge-1], timeout: soon}", `x-moor.canary.timeout "soon": not a duration (want e.g. 30m or 2h)`},
		{"timeout a number", "x-moor:\n  canary: {hosts: [edge-1], timeout: 30}", `x-moor.canary.timeout: must be a duration such as 30m, not a number`},
		{"negative timeout", "x-moor:\n  canary: {hosts: [edge-1], timeout: -5m}", `x-moor.canary.timeout "-5m": must be positive`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": stackFile(tt.xmoor)}, Options{})
			if err == nil || err.Error() != at+tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, at+tt.want)
			}
		})
	}
}

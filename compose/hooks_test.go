package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

// TestHooksMapped: post_start and pre_stop map every field of a hook, as
// compose's runHook passes them to the exec: the command as a list (a
// string is split as compose-go splits it), user, privileged, working_dir
// and the environment, sorted, a variable without a value alone.
func TestHooksMapped(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  app:
    image: app:1
    post_start:
      - command: ["/testapp", "mark", "/data/started"]
        user: "1000:1000"
        privileged: true
        working_dir: /data
        environment:
          MARK: started
          A: "1"
      - command: /testapp mark "two words"
    pre_stop:
      - command: ["/testapp", "drain"]
        environment: [B=2, UNSET]
`}, Options{})
	spec := st.Services["app"].Spec
	wantStart := []reconcile.Hook{
		{Command: []string{"/testapp", "mark", "/data/started"}, User: "1000:1000", Privileged: true, WorkingDir: "/data", Env: []string{"A=1", "MARK=started"}},
		{Command: []string{"/testapp", "mark", "two words"}},
	}
	if d := cmp.Diff(wantStart, spec.PostStart); d != "" {
		t.Errorf("post_start (-want +got):\n%s", d)
	}
	wantStop := []reconcile.Hook{{Command: []string{"/testapp", "drain"}, Env: []string{"B=2", "UNSET"}}}
	if d := cmp.Diff(wantStop, spec.PreStop); d != "" {
		t.Errorf("pre_stop (-want +got):\n%s", d)
	}
}

// TestHookChangeReplaces: compose's config hash covers post_start and
// pre_stop (ServiceHash marshals the whole service), so docker compose
// recreates a container whose hooks changed; moor's hash covers them too,
// and the cause names the field. A service without hooks keeps its hash
// (TestHashGolden pins it).
func TestHookChangeReplaces(t *testing.T) {
	load := func(extra string) *reconcile.Service {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n" + extra}, Options{})
		return st.Services["app"]
	}
	none := load("")
	for _, tt := range []struct{ field, yaml string }{
		{"post_start", "    post_start: [{command: [/testapp, mark, /data/a]}]\n"},
		{"pre_stop", "    pre_stop: [{command: [/testapp, mark, /data/a]}]\n"},
	} {
		with := load(tt.yaml)
		if with.Hash == none.Hash {
			t.Errorf("%s: the hash ignores the hook", tt.field)
		}
		if with.Compose.Hash == none.Compose.Hash {
			t.Errorf("%s: compose's hash ignores the hook", tt.field)
		}
		got := reconcile.ChangedFields(none.Spec.FieldDigests(), with.Spec.FieldDigests())
		if d := cmp.Diff([]string{tt.field}, got); d != "" {
			t.Errorf("%s: changed fields (-want +got):\n%s", tt.field, d)
		}
		other := load(strings.Replace(tt.yaml, "/data/a", "/data/b", 1))
		if other.Hash == with.Hash {
			t.Errorf("%s: the hash ignores the hook's command", tt.field)
		}
	}
	if none.Spec.PostStart != nil || none.Spec.PreStop != nil || strings.Contains(none.Spec.FieldDigests(), "post_start") {
		t.Errorf("a service without hooks has %+v %+v", none.Spec.PostStart, none.Spec.PreStop)
	}
}

// TestHookErrorsNameTheField: a hook without a command, with a bad value
// or an unknown field is refused, each error naming the service and the
// hook's field.
func TestHookErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"post_start: [{command: [/a]}, {command: []}]", "service app: post_start[1].command is empty"},
		{"pre_stop: [{command: []}]", "service app: pre_stop[0].command is empty"},
		{"post_start: [{command: ''}]", "service app: post_start[0].command is empty"},
		{"post_start: [{user: root}]", "services.app.post_start.0 missing property 'command'"},
		{"post_start: [{command: [/a], privileged: maybe}]", `service app: field "post_start[0].privileged": invalid boolean: maybe`},
		{"pre_stop: [{command: [/a], shell: true}]", `service app: field "pre_stop.0.shell" is not a compose field`},
	} {
		_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n    " + tt.yaml + "\n"}, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to name %q", tt.yaml, err, tt.want)
		}
	}
}

package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// vpnStack is the VPN sidecar pattern: app shares vpn's network namespace
// (network_mode: service:vpn), which compose-go turns into a depends_on.
func vpnStack(vpnEnv string) (*Stack, *Service, *Service) {
	vpn := service("vpn", "vpn:1", vpnEnv)
	app := service("app", "app:1")
	app.Spec.NetworkMode = "service:vpn"
	app.Hash = app.Spec.Hash()
	app.DependsOn = map[string]Dependency{"vpn": {Condition: ConditionStarted, Required: true}}
	app.Compose = ComposeService{Template: `{"network_mode":"container:` + RefPrefix + `vpn"}`, Refs: []string{"vpn"}}
	return stack("web", vpn, app), vpn, app
}

// sharing is app's container, created when vpn's ran as vpnID.
func sharing(app *Service, vpnID string) Container {
	c := running("web", app, 1, rev1)
	c.ComposeHash = app.Compose.HashWith(map[string]string{"vpn": vpnID})
	return c
}

func TestPlanSharedNamespace(t *testing.T) {
	st, vpn, app := vpnStack("A=1")
	st2, _, _ := vpnStack("A=2")
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		want string
	}{
		{
			name: "first deploy: app joins vpn's container, after it",
			d:    desired(st),
			o:    &Observed{Images: map[string]string{"app:1": "sha256:a", "vpn:1": "sha256:v"}},
			want: `
create-network web/network/default (missing)
    1 create-network web_default
create web/app/1 (missing)
    after web/network/default
    after vpn is started
    1 create web-app-1
    2 start web-app-1
    3 wait web-app-1 ready (running)
create web/vpn/1 (missing)
    after web/network/default
    1 create web-vpn-1
    2 start web-vpn-1
    3 wait web-vpn-1 ready (running)`,
		},
		{
			name: "converged",
			d:    desired(st),
			o:    observed(running("web", vpn, 1, rev1), sharing(app, "id-web-vpn-1")),
			want: ``,
		},
		{
			name: "vpn replaced: app is replaced after it, stop-first",
			d:    desired(st2),
			o:    observed(running("web", vpn, 1, rev1), sharing(app, "id-web-vpn-1")),
			want: `
replace web/app/1 (shares the network namespace of vpn, whose container is replaced) [stop-first, batch 1/1, rollback on failure]
replace web/vpn/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "vpn recreated behind moor's back: app follows",
			d:    desired(st),
			o:    observed(running("web", vpn, 1, rev1), sharing(app, "id-of-an-older-vpn")),
			want: `replace web/app/1 (shares the network namespace of vpn, whose container changed) [stop-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "vpn restarted after app: app's network is gone, it is replaced",
			d:    desired(st),
			o: func() *Observed {
				c := sharing(app, "id-web-vpn-1")
				c.StaleNamespace = true
				return observed(running("web", vpn, 1, rev1), c)
			}(),
			want: `replace web/app/1 (the container whose network namespace it shares restarted after it: its network is gone) [stop-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "vpn stopped: started, and app replaced after it",
			d:    desired(st),
			o: func() *Observed {
				c := running("web", vpn, 1, rev1)
				c.State, c.ExitCode = StateExited, 1
				return observed(c, sharing(app, "id-web-vpn-1"))
			}(),
			want: `
replace web/app/1 (shares the network namespace of vpn, whose container is started) [stop-first, batch 1/1, rollback on failure]
start web/vpn/1 (exited with code 1)`,
		},
		{
			name: "vpn missing: created, and app with it",
			d:    desired(st),
			o:    observed(sharing(app, "id-web-vpn-1")),
			want: `
pull vpn:1 (not present, wanted by web/vpn)
replace web/app/1 (shares the network namespace of vpn, whose container is created) [stop-first, batch 1/1, rollback on failure]
create web/vpn/1 (missing)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertPlan(t, MakePlan(tt.d, tt.o, Constraints{}), tt.want) })
	}
}

// TestCreateSharesTheProvidersNamespace: the container is created in the
// namespace of the provider's first replica, and compose's hash is taken
// from that container's ID when the step runs.
func TestCreateSharesTheProvidersNamespace(t *testing.T) {
	st, _, _ := vpnStack("A=1")
	p := MakePlan(desired(st), &Observed{Images: map[string]string{"app:1": "a", "vpn:1": "v"}}, Constraints{})
	for _, op := range p.Ops {
		if op.Service != "app" {
			continue
		}
		create := op.Steps[0]
		if create.Spec.NetworkMode != "container:web-vpn-1" {
			t.Errorf("network mode %q, want container:web-vpn-1", create.Spec.NetworkMode)
		}
		if st.Services["app"].Spec.NetworkMode != "service:vpn" {
			t.Errorf("the desired spec was changed: %q", st.Services["app"].Spec.NetworkMode)
		}
		if diff := cmp.Diff(map[string]string{"vpn": "web-vpn-1"}, create.ComposeRefs); diff != "" {
			t.Errorf("compose refs (-want +got):\n%s", diff)
		}
		if create.Labels[LabelComposeConfigHash] != "" {
			t.Errorf("a hash before the provider's ID is known: %q", create.Labels[LabelComposeConfigHash])
		}
		return
	}
	t.Fatalf("no op creates app:\n%s", p)
}

func TestHashWith(t *testing.T) {
	c := ComposeService{Template: `{"network_mode":"container:` + RefPrefix + `vpn"}`, Refs: []string{"vpn"}}
	a, b := c.HashWith(map[string]string{"vpn": "1111"}), c.HashWith(map[string]string{"vpn": "2222"})
	if a == "" || a == b {
		t.Errorf("hash with two provider IDs: %q, %q; want two different hashes", a, b)
	}
	if got := c.HashWith(nil); got != "" {
		t.Errorf("hash without the provider's ID = %q, want none", got)
	}
	if got := (ComposeService{Hash: "h"}).HashWith(nil); got != "h" {
		t.Errorf("a plain hash = %q, want it unchanged", got)
	}
}

func TestPlanContainerName(t *testing.T) {
	proxy := service("proxy", "proxy:1", "A=1")
	proxy.ContainerName = "edge"
	proxy2 := service("proxy", "proxy:1", "A=2")
	proxy2.ContainerName = "edge"
	named := func(svc *Service) Container {
		c := running("web", svc, 1, rev1)
		c.Name, c.ID = "edge", "id-edge"
		return c
	}
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		want string
	}{
		{
			name: "first deploy uses the name",
			d:    desired(stack("web", proxy)),
			o:    &Observed{Images: map[string]string{"proxy:1": "p"}},
			want: `
create-network web/network/default (missing)
    1 create-network web_default
create web/proxy/1 (missing)
    after web/network/default
    1 create edge
    2 start edge
    3 wait edge ready (running)`,
		},
		{
			name: "converged under its name",
			d:    desired(stack("web", proxy)),
			o:    observed(named(proxy)),
		},
		{
			name: "replaced under a temporary name, renamed into place",
			d:    desired(stack("web", proxy2)),
			o:    observed(named(proxy)),
			want: `
replace web/proxy/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
    1 create edge-candidate                              undo: remove edge-candidate
    2 start edge-candidate
    3 wait edge-candidate ready (running 2s without a restart)
    4 expose edge-candidate
    5 stop edge                                          undo: start edge
    6 rename edge -> edge-retired                        undo: rename edge-retired -> edge
    7 rename edge-candidate -> edge                      undo: remove edge
    8 remove edge-retired`,
		},
		{
			name: "container_name set on a running service: replaced under the new name",
			d:    desired(stack("web", proxy)),
			o:    observed(running("web", service("proxy", "proxy:1", "A=1"), 1, rev1)),
			want: `
replace web/proxy/1 (container name changed: web-proxy-1 -> edge) [start-first, batch 1/1, rollback on failure]
    1 create edge-candidate                              undo: remove edge-candidate
    2 start edge-candidate
    3 wait edge-candidate ready (running 2s without a restart)
    4 expose edge-candidate
    5 stop web-proxy-1                                   undo: start web-proxy-1
    6 rename web-proxy-1 -> web-proxy-1-retired          undo: rename web-proxy-1-retired -> web-proxy-1
    7 rename edge-candidate -> edge                      undo: remove edge
    8 remove web-proxy-1-retired`,
		},
		{
			name: "container_name dropped, a container of the default name already there",
			d:    desired(stack("web", service("proxy", "proxy:1", "A=1"))),
			o:    observed(named(proxy), running("web", service("proxy", "proxy:1", "A=1"), 1, rev1)),
			want: `remove web/proxy/edge (unexpected name edge)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertPlan(t, MakePlan(tt.d, tt.o, Constraints{}), tt.want) })
	}
}

// TestLinksResolvePerReplica: compose's links, for every replica of the
// linked service, under the alias, SERVICE-N and STACK-SERVICE-N.
func TestLinksResolvePerReplica(t *testing.T) {
	db := service("db", "db:1")
	db.Replicas = 2
	app := service("app", "app:1")
	app.Replicas = 2
	app.Spec.Links = []string{"db:database"}
	app.Spec.ExternalLinks = []string{"legacy", "other:alias"}
	app.Hash = app.Spec.Hash()
	p := MakePlan(desired(stack("web", db, app)), &Observed{Images: map[string]string{"app:1": "a", "db:1": "d"}}, Constraints{})
	got := map[string][]string{}
	for _, op := range p.Ops {
		if op.Service == "app" {
			got[op.Steps[0].Name] = op.Steps[0].Spec.Links
		}
	}
	want := map[string][]string{
		"web-app-1": {"web-db-1:database", "web-db-1:db-1", "web-db-1:web-db-1", "web-db-2:database", "web-db-2:db-1", "web-db-2:web-db-1", "legacy:legacy", "other:alias"},
		"web-app-2": {"web-db-1:database", "web-db-1:db-2", "web-db-1:web-db-2", "web-db-2:database", "web-db-2:db-2", "web-db-2:web-db-2", "legacy:legacy", "other:alias"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

// TestPlanRestartsDependents: depends_on restart: true restarts the
// dependent's running replicas after its dependency is replaced, as
// compose does; without it, or when the dependent changes anyway, not.
func TestPlanRestartsDependents(t *testing.T) {
	db, db2 := service("db", "db:1", "A=1"), service("db", "db:1", "A=2")
	app := func(restart bool, env ...string) *Service {
		s := service("app", "app:1", env...)
		s.Replicas = 2
		s.DependsOn = map[string]Dependency{"db": {Condition: ConditionStarted, Required: true, Restart: restart}}
		return s
	}
	on, off, changed := app(true), app(false), app(true, "B=1")
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		want string
	}{
		{
			name: "db replaced: app restarted after it",
			d:    desired(stack("web", db2, on)),
			o:    observed(running("web", db, 1, rev1), running("web", on, 1, rev1), running("web", on, 2, rev1)),
			want: `
restart web/app/1 (depends on db with restart: true, which is replaced)
    after db is started
    1 stop web-app-1                                     undo: start web-app-1
    2 start web-app-1
    3 wait web-app-1 ready (running)
restart web/app/2 (depends on db with restart: true, which is replaced)
    after db is started
    1 stop web-app-2                                     undo: start web-app-2
    2 start web-app-2
    3 wait web-app-2 ready (running)
replace web/db/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
    1 create web-db-1-candidate                          undo: remove web-db-1-candidate
    2 start web-db-1-candidate
    3 wait web-db-1-candidate ready (running 2s without a restart)
    4 expose web-db-1-candidate
    5 stop web-db-1                                      undo: start web-db-1
    6 rename web-db-1 -> web-db-1-retired                undo: rename web-db-1-retired -> web-db-1
    7 rename web-db-1-candidate -> web-db-1              undo: remove web-db-1
    8 remove web-db-1-retired`,
		},
		{
			name: "without restart: true, app runs on",
			d:    desired(stack("web", db2, off)),
			o:    observed(running("web", db, 1, rev1), running("web", off, 1, rev1), running("web", off, 2, rev1)),
			want: `replace web/db/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "app replaced anyway, and a stopped replica started: no restart on top",
			d:    desired(stack("web", db2, changed)),
			o: func() *Observed {
				stopped := running("web", changed, 2, rev1)
				stopped.State, stopped.ExitCode = StateExited, 1
				return observed(running("web", db, 1, rev1), running("web", on, 1, rev1), stopped)
			}(),
			want: `
replace web/app/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
start web/app/2 (exited with code 1)
replace web/db/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "db only started: nothing to restart",
			d:    desired(stack("web", db, on)),
			o: func() *Observed {
				c := running("web", db, 1, rev1)
				c.State = StateExited
				return observed(c, running("web", on, 1, rev1), running("web", on, 2, rev1))
			}(),
			want: `start web/db/1 (exited with code 0)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertPlan(t, MakePlan(tt.d, tt.o, Constraints{}), tt.want) })
	}
}

// assertPlan compares p with want, a golden plan that starts with a newline
// when it has more than one line; with step lines (indented), with the
// plan's Detail.
func assertPlan(t *testing.T, p *Plan, want string) {
	t.Helper()
	got := p.String()
	if strings.Contains(want, "\n    ") {
		got = p.Detail()
	}
	want = strings.TrimPrefix(want, "\n")
	if want != "" {
		want += "\n"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan mismatch (-want +got):\n%s", diff)
	}
}

// TestPlanVolumesFrom: a service with volumes_from another is created
// after it from its first replica's volumes, and replaced when that
// replica's container is, as compose does (its hash covers the ID).
func TestPlanVolumesFrom(t *testing.T) {
	mk := func(dbEnv string) (*Stack, *Service, *Service) {
		db := service("db", "db:1", dbEnv)
		backup := service("backup", "backup:1")
		backup.Spec.VolumesFrom = []string{"service:db", "container:legacy"}
		backup.Hash = backup.Spec.Hash()
		backup.DependsOn = map[string]Dependency{"db": {Condition: ConditionStarted, Required: true}}
		backup.Compose = ComposeService{Template: `{"volumes_from":["` + RefPrefix + `db","legacy"]}`, Refs: []string{"db"}}
		return stack("web", db, backup), db, backup
	}
	st, db, backup := mk("A=1")
	st2, _, _ := mk("A=2")
	using := func(dbID string) Container {
		c := running("web", backup, 1, rev1)
		c.ComposeHash = backup.Compose.HashWith(map[string]string{"db": dbID})
		return c
	}
	assertPlan(t, MakePlan(desired(st), observed(running("web", db, 1, rev1), using("id-web-db-1")), Constraints{}), ``)
	assertPlan(t, MakePlan(desired(st2), observed(running("web", db, 1, rev1), using("id-web-db-1")), Constraints{}), `
replace web/backup/1 (uses the volumes of db, whose container is replaced) [start-first, batch 1/1, rollback on failure]
replace web/db/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`)
	assertPlan(t, MakePlan(desired(st), observed(running("web", db, 1, rev1), using("id-of-an-older-db")), Constraints{}),
		`replace web/backup/1 (uses the volumes of db, whose container changed) [start-first, batch 1/1, rollback on failure]`)

	p := MakePlan(desired(st), &Observed{Images: map[string]string{"backup:1": "b", "db:1": "d"}}, Constraints{})
	for _, op := range p.Ops {
		if op.Service == "backup" {
			if got := op.Steps[0].Spec.VolumesFrom; !cmp.Equal(got, []string{"web-db-1", "legacy"}) {
				t.Errorf("volumes_from at create %q, want [web-db-1 legacy]", got)
			}
			return
		}
	}
	t.Fatalf("no op creates backup:\n%s", p)
}

// TestPlanSharedIPCAndPID: ipc and pid service:X join X's first replica's
// namespaces, and follow its container like network_mode does.
func TestPlanSharedIPCAndPID(t *testing.T) {
	mk := func(appEnv string) (*Stack, *Service, *Service) {
		app := service("app", "app:1", appEnv)
		debug := service("debug", "debug:1")
		debug.Spec.Ipc, debug.Spec.Pid = "service:app", "service:app"
		debug.Hash = debug.Spec.Hash()
		debug.DependsOn = map[string]Dependency{"app": {Condition: ConditionStarted, Required: true}}
		debug.Compose = ComposeService{Template: `{"ipc":"container:` + RefPrefix + `app","pid":"container:` + RefPrefix + `app"}`, Refs: []string{"app"}}
		return stack("web", app, debug), app, debug
	}
	st, app, debug := mk("A=1")
	st2, _, _ := mk("A=2")
	sharing := running("web", debug, 1, rev1)
	sharing.ComposeHash = debug.Compose.HashWith(map[string]string{"app": "id-web-app-1"})
	assertPlan(t, MakePlan(desired(st), observed(running("web", app, 1, rev1), sharing), Constraints{}), ``)
	assertPlan(t, MakePlan(desired(st2), observed(running("web", app, 1, rev1), sharing), Constraints{}), `
replace web/app/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
replace web/debug/1 (shares the IPC namespace of app and shares the PID namespace of app, whose container is replaced) [start-first, batch 1/1, rollback on failure]`)
	p := MakePlan(desired(st), &Observed{Images: map[string]string{"app:1": "a", "debug:1": "d"}}, Constraints{})
	for _, op := range p.Ops {
		if op.Service == "debug" {
			if s := op.Steps[0].Spec; s.Ipc != "container:web-app-1" || s.Pid != "container:web-app-1" {
				t.Errorf("ipc %q, pid %q at create; want container:web-app-1", s.Ipc, s.Pid)
			}
			return
		}
	}
	t.Fatalf("no op creates debug:\n%s", p)
}

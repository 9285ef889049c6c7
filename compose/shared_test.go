package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

func TestContainerName(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  proxy:
    image: proxy:1
    container_name: edge
`}, Options{})
	svc := st.Services["proxy"]
	if svc.ContainerName != "edge" || svc.ReplicaName("web", 1) != "edge" {
		t.Errorf("container name %q, replica 1 named %q; want edge", svc.ContainerName, svc.ReplicaName("web", 1))
	}

	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": `
services:
  proxy:
    image: proxy:1
    container_name: edge
    deploy:
      replicas: 2
`}, Options{})
	if err == nil || !strings.Contains(err.Error(), "container_name") || !strings.Contains(err.Error(), "proxy") {
		t.Errorf("two replicas of one name: %v", err)
	}
}

func TestSharedNetworkNamespace(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  vpn:
    image: vpn:1
    ports: ["8080:8080"]
  app:
    image: app:1
    network_mode: service:vpn
`}, Options{})
	app := st.Services["app"]
	if app.Spec.NetworkMode != "service:vpn" || len(app.Spec.Networks) != 0 {
		t.Errorf("network mode %q, networks %v; want service:vpn and none", app.Spec.NetworkMode, app.Spec.Networks)
	}
	if dep, ok := app.DependsOn["vpn"]; !ok || !dep.Required || dep.Condition != reconcile.ConditionStarted {
		t.Errorf("depends_on %v, want vpn started, as compose adds it", app.DependsOn)
	}
	if app.Compose.Hash != "" || !strings.Contains(app.Compose.Template, reconcile.RefPrefix+"vpn") || !cmp.Equal(app.Compose.Refs, []string{"vpn"}) {
		t.Errorf("compose hash %+v, want a template referring to vpn", app.Compose)
	}
	if st.Services["vpn"].Compose.Hash == "" {
		t.Error("vpn has no compose hash")
	}

	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": `
services:
  app:
    image: app:1
    network_mode: service:nothere
`}, Options{})
	if err == nil || !strings.Contains(err.Error(), `nothere`) {
		t.Errorf("a namespace of no service: %v", err)
	}
}

func TestLinks(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  db:
    image: db:1
  app:
    image: app:1
    links: ["db:database"]
    external_links: ["legacy_db:olddb"]
`}, Options{})
	app := st.Services["app"]
	if !cmp.Equal(app.Spec.Links, []string{"db:database"}) || !cmp.Equal(app.Spec.ExternalLinks, []string{"legacy_db:olddb"}) {
		t.Errorf("links %v, external links %v", app.Spec.Links, app.Spec.ExternalLinks)
	}
	if _, ok := app.DependsOn["db"]; !ok {
		t.Errorf("depends_on %v, want db, as compose adds it", app.DependsOn)
	}
	before := app.Hash
	st2, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  db:
    image: db:1
  app:
    image: app:1
    links: ["db:otheralias"]
    external_links: ["legacy_db:olddb"]
`}, Options{})
	if st2.Services["app"].Hash == before {
		t.Error("a changed link alias does not change the config hash")
	}
}

func TestVolumesFrom(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  db:
    image: db:1
    volumes: [/var/lib/db]
  backup:
    image: backup:1
    volumes_from: ["db:ro", "container:legacy-data:rw"]
`}, Options{})
	backup := st.Services["backup"]
	if want := []string{"service:db", "container:legacy-data"}; !cmp.Equal(backup.Spec.VolumesFrom, want) {
		t.Errorf("volumes_from %q, want %q", backup.Spec.VolumesFrom, want)
	}
	if !cmp.Equal(backup.Compose.Refs, []string{"db"}) || !strings.Contains(backup.Compose.Template, `"volumes_from":["`+reconcile.RefPrefix+`db","legacy-data"]`) {
		t.Errorf("compose hash %+v, want a template with db's ID and the container's name, as compose resolves them", backup.Compose)
	}
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], `service backup: volumes_from[0] "db:ro": docker compose mounts the volumes read-write`) {
		t.Errorf("warnings %q, want one about db:ro", st.Warnings)
	}
}

func TestSharedIPCAndPIDNamespaces(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  app:
    image: app:1
    ipc: shareable
  debug:
    image: debug:1
    ipc: service:app
    pid: service:app
`}, Options{})
	debug := st.Services["debug"]
	if debug.Spec.Ipc != "service:app" || debug.Spec.Pid != "service:app" {
		t.Errorf("ipc %q, pid %q; want service:app", debug.Spec.Ipc, debug.Spec.Pid)
	}
	if !cmp.Equal(debug.Compose.Refs, []string{"app"}) ||
		!strings.Contains(debug.Compose.Template, `"ipc":"container:`+reconcile.RefPrefix+`app"`) ||
		!strings.Contains(debug.Compose.Template, `"pid":"container:`+reconcile.RefPrefix+`app"`) {
		t.Errorf("compose hash %+v, want a template with app's ID for ipc and pid", debug.Compose)
	}
	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": `
services:
  debug:
    image: debug:1
    pid: service:nothere
`}, Options{})
	if err == nil || !strings.Contains(err.Error(), "nothere") {
		t.Errorf("pid of a service that does not exist: %v", err)
	}
}

package compose

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

func TestLoadStackRejects(t *testing.T) {
	tests := []struct {
		name    string
		service string // YAML lines under services.api (indented 4)
		extra   string // top-level YAML
		files   map[string]string
		want    []string // substrings of the error
	}{
		{name: "log_driver", service: "log_driver: syslog", want: []string{"log_driver"}},
		{name: "ipc unknown", service: "ipc: sideways", want: []string{`ipc "sideways": use host, private, shareable, none, container:NAME or service:NAME`}},
		{name: "pid unknown", service: "pid: private", want: []string{`pid "private": use host, container:NAME or service:NAME`}},
		{name: "deploy.mode job", service: "deploy:\n      mode: replicated-job", want: []string{`deploy.mode "replicated-job" is not supported`}},
		{name: "restart_policy condition", service: "deploy:\n      restart_policy:\n        condition: sometimes", want: []string{`deploy.restart_policy.condition "sometimes": use none, on-failure, any or unless-stopped`}},
		{name: "use_api_socket", service: "use_api_socket: true", want: []string{`field "use_api_socket" is not supported by moor: bind /var/run/docker.sock explicitly`}},
		{name: "pull_policy build without build", service: "pull_policy: build", want: []string{"service api: pull_policy build needs a build section"}},
		{name: "build pull_policy always", service: "build: .\n    pull_policy: always", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{`service api: pull_policy "always" with build`, "drop pull_policy"}},
		{name: "build ssh", service: "build:\n      context: .\n      ssh: [default]", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{`service api: field "build.ssh" needs BuildKit`}},
		{name: "build secrets", service: "build:\n      context: .\n      secrets: [tok]", extra: "secrets:\n  tok:\n    file: ./tok\n", files: map[string]string{"web/Dockerfile": "FROM scratch\n", "web/tok": "x"}, want: []string{`field "build.secrets" needs BuildKit`}},
		{name: "build cache_to", service: "build:\n      context: .\n      cache_to: [type=local,dest=/tmp/c]", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{`field "build.cache_to"`}},
		{name: "build platforms", service: "build:\n      context: .\n      platforms: [linux/amd64, linux/arm64]", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{`field "build.platforms" needs BuildKit`}},
		{name: "build git context", service: "build: https://github.com/moor-dev/app.git", want: []string{`build.context "https://github.com/moor-dev/app.git": a URL, git or service context is not supported`}},
		{name: "build context outside", service: "build: ../../outside", want: []string{"build.context", "is outside the repository"}},
		{name: "build dockerfile missing", service: "build: .", want: []string{"service api: build.dockerfile web/Dockerfile: not found"}},
		{name: "build moor label", service: "build:\n      context: .\n      labels: {moor.stack: other}", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{`service api: build.labels: label "moor.stack": the moor namespace is reserved`}},
		{name: "build image digest", service: "image: app@sha256:0000000000000000000000000000000000000000000000000000000000000000\n    build: .", files: map[string]string{"web/Dockerfile": "FROM scratch\n"}, want: []string{"with a digest cannot name a build"}},
		{name: "pull_policy daily", service: "pull_policy: daily", want: []string{`service api: pull_policy "daily" is not supported`}},
		{name: "pull_policy every", service: "pull_policy: every_12h", want: []string{`pull_policy "every_12h"`}},
		{name: "update order", service: "deploy:\n      update_config:\n        order: sideways", want: []string{"order"}},
		{name: "failure_action", service: "deploy:\n      update_config:\n        failure_action: explode", want: []string{`service api: deploy.update_config.failure_action "explode": use rollback, pause or continue`}},
		{name: "network mac_address", service: "networks:\n      default:\n        mac_address: 02:42:ac:11:00:02", want: []string{`field "networks.default.mac_address" is not supported by moor: use the service's mac_address`}},
		{name: "image volume", service: "volumes:\n      - type: image\n        source: img:1\n        target: /i", want: []string{`field "volumes.type" "image" is not supported by moor (it needs Docker Engine 28, API 1.48): bake the content`}},
		{name: "npipe", service: "volumes:\n      - type: npipe\n        source: //./pipe/x\n        target: //./pipe/x", want: []string{`"volumes.type" "npipe" is not supported`}},
		{name: "moor label", service: "labels: {moor.stack: other}", want: []string{`label "moor.stack"`}},
		{name: "compose label", service: "labels: {com.docker.compose.project: x}", want: []string{`label "com.docker.compose.project"`}},
		{name: "external secret", service: "secrets: [tok]", extra: "secrets:\n  tok:\n    external: true\n", want: []string{"secret tok: external secrets exist only in swarm"}},
		{name: "config from an unset variable", service: "configs: [c]", extra: "configs:\n  c:\n    environment: FOO\n", want: []string{"service api: config c: variable FOO is set neither in the stack's .env nor in the configured variables"}},
		{name: "inline config read_only", service: "read_only: true\n    configs: [c]", extra: "configs:\n  c:\n    content: hello\n", want: []string{"config c: a config given inline is written into the container, and read_only forbids it"}},
		{name: "inline secret on a mount", service: "volumes: ['/a:/run/secrets/s']\n    secrets: [s]", extra: "secrets:\n  s:\n    environment: S\n", files: map[string]string{"web/.env": "S=x\n"}, want: []string{"two mounts on /run/secrets/s"}},
		{name: "config driver", service: "configs: [c]", extra: "configs:\n  c:\n    file: ./c.txt\n    template_driver: golang\n", files: map[string]string{"web/c.txt": "c"}, want: []string{"config c: drivers exist only in swarm"}},
		{name: "two mounts on one target", service: "volumes: ['/a:/c']\n    configs:\n      - source: c\n        target: /c", extra: "configs:\n  c:\n    file: ./c.txt\n", files: map[string]string{"web/c.txt": "c"}, want: []string{"two mounts on /c"}},
		{name: "no image", service: "environment: [A=1]", want: []string{`service "api" has neither an image nor a build context`}},
		{name: "bad image", service: "image: UPPER/Case", want: []string{`image "UPPER/Case"`}},
		{name: "jobs", extra: "jobs:\n  once:\n    image: x:1\n    triggers:\n      manual: true\n", want: []string{`additional properties 'jobs' not allowed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.service
			if !strings.Contains(svc, "image:") && tt.name != "no image" {
				svc = "image: app:1\n    " + svc
			}
			yaml := "services:\n  api:\n    " + svc + "\n"
			yaml += tt.extra
			files := map[string]string{"web/compose.yaml": yaml}
			for k, v := range tt.files {
				files[k] = v
			}
			_, _, err := loadWeb(t, files, Options{})
			if err == nil {
				t.Fatalf("LoadStack succeeded, want an error\n%s", yaml)
			}
			msg := err.Error()
			for _, w := range append([]string{"stack web (web/compose.yaml): "}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

func TestUnsupportedIsErrUnsupported(t *testing.T) {
	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: a:1\n    use_api_socket: true\n"}, Options{})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func TestLoadStackSyntaxErrorsNameTheFile(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"invalid yaml", "services:\n  api:\n    image: [unclosed\n", "compose.yaml"},
		{"unknown field", "services:\n  api:\n    image: a:1\n    imagez: b\n", "imagez"},
		{"wrong type", "services:\n  api:\n    image: a:1\n    ports: 80\n", "ports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sd, err := loadWeb(t, map[string]string{"web/compose.yaml": tt.yaml}, Options{})
			if err == nil {
				t.Fatal("LoadStack succeeded, want an error")
			}
			for _, w := range []string{"stack web (web/compose.yaml)", tt.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// The file as the repository names it, not where the snapshot is.
			if strings.Contains(err.Error(), sd.File) {
				t.Errorf("error %q names the absolute path %s", err, sd.File)
			}
		})
	}
}

// TestAllowListsNameRealFields keeps the allow-lists honest: a name that is
// not a YAML field of its compose-go struct (a typo, a renamed field) would
// silently allow nothing.
func TestAllowListsNameRealFields(t *testing.T) {
	tests := []struct {
		name    string
		typ     reflect.Type
		allowed map[string]bool
	}{
		{"service", reflect.TypeFor[types.ServiceConfig](), serviceFields},
		{"deploy", reflect.TypeFor[types.DeployConfig](), deployFields},
		{"resources", reflect.TypeFor[types.Resources](), resourcesFields},
		{"limits", reflect.TypeFor[types.Resource](), limitFields},
		{"reservations", reflect.TypeFor[types.Resource](), reservationFields},
		{"restart_policy", reflect.TypeFor[types.RestartPolicy](), restartPolicyFields},
		{"network attachment", reflect.TypeFor[types.ServiceNetworkConfig](), attachmentFields},
		{"port", reflect.TypeFor[types.ServicePortConfig](), portFields},
		{"volume", reflect.TypeFor[types.ServiceVolumeConfig](), volumeFields},
		{"volume bind", reflect.TypeFor[types.ServiceVolumeBind](), volumeBindFields},
		{"volume volume", reflect.TypeFor[types.ServiceVolumeVolume](), volumeVolFields},
		{"volume tmpfs", reflect.TypeFor[types.ServiceVolumeTmpfs](), volumeTmpfsFields},
		{"file reference", reflect.TypeFor[types.FileReferenceConfig](), fileRefFields},
		{"healthcheck", reflect.TypeFor[types.HealthCheckConfig](), healthcheckFields},
		{"hook", reflect.TypeFor[types.ServiceHook](), hookFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := map[string]bool{}
			collectNames(tt.typ, have)
			for name := range tt.allowed {
				if !have[name] {
					t.Errorf("allowed field %q is not a field of %s", name, tt.typ)
				}
			}
		})
	}
}

func collectNames(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		if f.Anonymous && inline {
			collectNames(f.Type, into)
			continue
		}
		into[name] = true
	}
}

// TestRefusedHintsAreReachable: every hint names a field the schema lets
// through to the allow-list check, so it can be shown.
func TestRefusedHintsAreReachable(t *testing.T) {
	yaml := map[string]string{
		"log_driver":              "log_driver: syslog",
		"log_opt":                 "log_opt: {a: b}",
		"use_api_socket":          "use_api_socket: true",
		"provider":                "provider: {type: x}",
		"volumes.image":           "volumes:\n      - type: image\n        source: img:1\n        target: /i\n        image:\n          subpath: x",
		"networks.mac_address":    "networks:\n      default:\n        mac_address: 02:42:ac:11:00:02",
		"networks.link_local_ips": "networks:\n      default:\n        link_local_ips: [169.254.8.8]",
		"networks.driver_opts":    "networks:\n      default:\n        driver_opts: {a: b}",
	}
	for field, hint := range hints {
		t.Run(field, func(t *testing.T) {
			svc, ok := yaml[field]
			if !ok {
				t.Fatalf("no YAML for the hint of %s", field)
			}
			extra := "  db:\n    image: db:1\n"
			_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: app:1\n    " + svc + "\n" + extra}, Options{})
			if err == nil || !strings.Contains(err.Error(), hint) {
				t.Errorf("err = %v, want the hint %q", err, hint)
			}
		})
	}
}

// TestStartFirstThatCannotWork: compose runs a file whose update_config
// asks start-first for a service that cannot run twice at once (it
// recreates stop-first); moor runs it stop-first too, and warns.
func TestStartFirstThatCannotWork(t *testing.T) {
	for _, tt := range []struct{ service, extra, why string }{
		{"ports: ['8080:80']", "", "published host port 8080: the new container could not bind it while the old one runs"},
		{"networks:\n      back:\n        ipv4_address: 172.30.0.10", "networks:\n  back:\n    ipam:\n      config:\n        - subnet: 172.30.0.0/16\n", "a fixed address on network web_back: two containers cannot hold it"},
		{"mac_address: 02:42:ac:11:00:02", "", "mac_address: two containers cannot hold one MAC address on a network"},
	} {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: app:1\n    " + tt.service +
			"\n    deploy:\n      update_config:\n        order: start-first\n" + tt.extra}, Options{})
		if got := st.Services["api"].Update.Order; got != reconcile.OrderStopFirst {
			t.Errorf("%s: order %q, want stop-first", tt.service, got)
		}
		want := []string{"service api: deploy.update_config.order start-first cannot work with " + tt.why + ": replaced stop-first"}
		if !cmp.Equal(st.Warnings, want) {
			t.Errorf("%s: warnings %q, want %q", tt.service, st.Warnings, want)
		}
	}
}

// TestRestartAsComposeGivesIt: deploy.restart_policy replaces restart, as
// compose's getRestartPolicy does, and no condition is no policy.
func TestRestartAsComposeGivesIt(t *testing.T) {
	for _, tt := range []struct{ service, want, warning string }{
		{"restart: always\n    deploy:\n      restart_policy:\n        condition: none", "no", `service api: restart "always" is replaced by deploy.restart_policy (no), as compose replaces it: keep one`},
		{"deploy:\n      restart_policy:\n        delay: 5s", "", "service api: deploy.restart_policy.delay has no effect on a single host"},
		{"deploy:\n      restart_policy:\n        condition: unless-stopped", "unless-stopped", ""},
		{"deploy:\n      restart_policy:\n        condition: on-failure\n        max_attempts: 3", "on-failure:3", ""},
	} {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: app:1\n    " + tt.service + "\n"}, Options{})
		if got := st.Services["api"].Spec.Restart; got != tt.want {
			t.Errorf("%s: restart %q, want %q", tt.service, got, tt.want)
		}
		if tt.warning != "" && !slices.Contains(st.Warnings, tt.warning) {
			t.Errorf("%s: warnings %q, want %q", tt.service, st.Warnings, tt.warning)
		}
	}
}

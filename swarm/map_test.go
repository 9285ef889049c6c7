package swarm_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/secrets"
	"github.com/moor-dev/moor/swarm"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMapGolden pins the Swarm spec of a service that sets every field
// the swarm runtime maps: a change in the mapping shows here, field by
// field, before it reaches a swarm.
func TestMapGolden(t *testing.T) {
	d := load(t, "shop", map[string]string{
		"compose.yaml": `
services:
  api:
    image: registry.example/api:1.2
    entrypoint: ["/api"]
    command: ["serve", "--port", "8080"]
    environment: {B: "2", A: "1", EMPTY: ""}
    labels: {team: shop}
    user: "1000:1000"
    group_add: ["50"]
    working_dir: /srv
    hostname: api
    stop_signal: SIGINT
    stop_grace_period: 20s
    read_only: true
    init: true
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    extra_hosts: ["db.local=10.0.0.5"]
    dns: [10.0.0.53]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    tmpfs: [/tmp]
    ports: ["8080:8080", {target: 9090, published: "9090", mode: host, protocol: udp}]
    networks: {back: {aliases: [backend]}}
    volumes: [data:/data, /var/log:/host-log:ro]
    configs: [{source: conf, target: /etc/api.yaml, mode: 0440}]
    secrets: [{source: key, uid: "1000"}]
    healthcheck: {test: ["CMD", "/api", "health"], interval: 5s, timeout: 2s, retries: 3, start_period: 10s}
    deploy:
      replicas: 3
      labels: {tier: backend}
      endpoint_mode: vip
      update_config: {parallelism: 2, delay: 5s, order: stop-first, failure_action: pause}
      rollback_config: {parallelism: 0}
      restart_policy: {condition: on-failure, max_attempts: 3, delay: 1s, window: 30s}
      resources: {limits: {cpus: "0.5", memory: 256M, pids: 100}, reservations: {cpus: "0.25", memory: 128M}}
      placement: {constraints: [node.role == manager], preferences: [{spread: node.labels.zone}], max_replicas_per_node: 2}
networks:
  back: {driver: overlay, attachable: true, labels: {purpose: backend}}
volumes:
  data: {labels: {keep: "yes"}}
configs:
  conf: {content: "port: 8080"}
secrets:
  key: {file: ./key.txt}
`,
		"key.txt": "k3y",
	})
	if len(d.Broken) > 0 {
		t.Fatalf("broken: %v", d.Broken)
	}
	got, err := json.MarshalIndent(d.Stacks["shop"], "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "shop.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))); diff != "" {
		t.Errorf("mapped stack (-golden +got); rerun with -update if intended:\n%s", diff)
	}
}

// TestMapRefuses checks that every field the swarm runtime does not map
// refuses its stack with a message naming the stack, the service and the
// field, and says what to use instead where there is something.
func TestMapRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, service, want string
	}{
		{"build", "build: .\n    image: x", `stack app (app/compose.yaml): service web: field "build" is not supported by moor's swarm runtime: Swarm runs images from a registry; build and push the image, then name it in image`},
		{"container_name", "image: x\n    container_name: web", `stack app (app/compose.yaml): service web: field "container_name" is not supported by moor's swarm runtime: Swarm names a service's tasks itself`},
		{"privileged", "image: x\n    privileged: true", `stack app (app/compose.yaml): service web: field "privileged" is not supported by moor's swarm runtime: Swarm services cannot be privileged`},
		{"network_mode", "image: x\n    network_mode: host", `stack app (app/compose.yaml): service web: field "network_mode" is not supported by moor's swarm runtime: Swarm services attach to networks`},
		{"scale", "image: x\n    scale: 2", `stack app (app/compose.yaml): service web: field "scale" is not supported by moor's swarm runtime: use deploy.replicas`},
		{"mem_limit", "image: x\n    mem_limit: 1g", `stack app (app/compose.yaml): service web: field "mem_limit" is not supported by moor's swarm runtime: use deploy.resources.limits.memory`},
		{"shm_size", "image: x\n    shm_size: 1g", `stack app (app/compose.yaml): service web: field "shm_size" is not supported by moor's swarm runtime`},
		{"devices limit", "image: x\n    deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}", `stack app (app/compose.yaml): service web: field "deploy.resources.reservations.devices" is not supported by moor's swarm runtime`},
		{"relative bind", "image: x\n    volumes: [./data:/data]", `stack app (app/compose.yaml): service web: volumes: bind ` + "%DIR%" + `/app/data: a file of the repository is not on every node of a swarm; use a config, a secret or a volume`},
		{"port range", "image: x\n    ports: [\"8000-8001:80\"]", `stack app (app/compose.yaml): service web: ports: published "8000-8001": Swarm publishes one port per entry, not a range`},
		{"global replicas", "image: x\n    deploy: {mode: global, replicas: 2}", `stack app (app/compose.yaml): service web: deploy.replicas is set with deploy.mode global, which runs one task per node`},
		{"moor's label", "image: x\n    labels: {moor.stack: other}\n    deploy: {labels: {com.docker.stack.namespace: other}}", "stack app (app/compose.yaml): service web: label \"moor.stack\": the moor namespace is reserved for moor\nstack app (app/compose.yaml): service web: deploy.label \"com.docker.stack.namespace\": the com.docker.stack namespace is reserved for moor"},
		{"max_replicas", "image: x\n    deploy: {replicas: 5000}", "stack app (app/compose.yaml): service web: deploy.replicas 5000 is more than the limit of 1000 (max_replicas)"},
		{"restart", "image: x\n    restart: on-failure:3", `stack app (app/compose.yaml): service web: restart "on-failure:3": use deploy.restart_policy (condition, max_attempts)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := load(t, "app", map[string]string{"compose.yaml": "services:\n  web:\n    " + tc.service + "\n"})
			err := d.Broken["app"]
			if err == nil {
				t.Fatalf("the stack loaded; want it refused")
			}
			got := err.Error()
			if i := strings.Index(tc.want, "%DIR%"); i >= 0 {
				// the repository's temporary directory
				if j := strings.Index(got, "/app/data"); j > 0 && strings.HasPrefix(got, tc.want[:i]) {
					got = tc.want[:i] + "%DIR%" + got[j:]
				}
			}
			if got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestMapWarns: fields docker stack deploy ignores are accepted with a
// warning naming them, never silently.
func TestMapWarns(t *testing.T) {
	d := load(t, "app", map[string]string{"compose.yaml": `
services:
  web: {image: x, depends_on: [db], pull_policy: always}
  db: {image: y}
`})
	if len(d.Broken) > 0 {
		t.Fatal(d.Broken)
	}
	want := []string{
		"service web: depends_on has no effect under Swarm (docker stack deploy ignores it too): services start in any order",
		"service web: pull_policy has no effect under Swarm: each node pulls a missing image",
	}
	if diff := cmp.Diff(want, d.Stacks["app"].Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestMapSOPSSecret: a secret file SOPS encrypted becomes a Swarm secret
// holding its decrypted content, named by that content's digest; the
// stack's encrypted .env interpolates as on one host.
func TestMapSOPSSecret(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for name, content := range map[string]string{
		".sops.yaml":       "creation_rules:\n  - path_regex: (^|/)(\\.env|api\\.json)$\n    age: " + k.AgeRecipient + "\n",
		"web/compose.yaml": "services:\n  app:\n    image: app:${TAG}\n    secrets: [api]\nsecrets:\n  api:\n    file: ./api.json\n",
		"web/.env":         k.Encrypt(t, ".env", "TAG=7\n"),
		"web/api.json":     k.Encrypt(t, "api.json", `{"token": "json-secret"}`),
	} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stacks, broken, err := compose.LoadSwarm(t.Context(), root, compose.Options{Repo: root, Secrets: compose.Secrets{Keys: keys}})
	if err != nil || len(broken) > 0 {
		t.Fatalf("load: %v %v", err, broken)
	}
	d := swarm.Map(stacks, nil, "swarmsrc", "owner-1", "main@sha1:"+strings.Repeat("a", 40))
	st := d.Stacks["web"]
	if img := st.Services["app"].Spec.TaskTemplate.ContainerSpec.Image; img != "app:7" {
		t.Errorf("image %q, want app:7 from the encrypted .env", img)
	}
	if len(st.Secrets) != 1 {
		t.Fatalf("secrets: %v", st.Secrets)
	}
	for name, o := range st.Secrets {
		if !strings.Contains(string(o.Data), `"token": "json-secret"`) || !strings.HasPrefix(name, "web_api-") {
			t.Errorf("secret %s holds %q, want the decrypted file", name, o.Data)
		}
	}
}

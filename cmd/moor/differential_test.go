package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// differentialStacks are stacks that use every field moor maps, each
// written as a person would for docker compose. %[1]s is the test image,
// %[2]d and %[3]d free host ports.
var differentialStacks = []struct {
	name    string
	compose string
	files   map[string]string
	// outside: a container STACK-outside runs, started by hand, before
	// the stack is deployed.
	outside bool
}{
	{
		name: "outside",
		compose: `services:
  probe:
    image: %[1]s
    network_mode: container:%[4]s-outside
    environment: {PORT: "8081"}
    volumes:
      - type: bind
        source: ./logs
        target: /logs
        bind: {selinux: z, create_host_path: true}
`,
		outside: true,
	},
	{
		name: "container",
		compose: `services:
  app:
    image: %[1]s
    command: []
    entrypoint: ["/testapp"]
    environment:
      GREETING: hello
      EMPTY: ""
    env_file: [app.env]
    labels:
      org.example.team: web
      traefik.http.routers.app.rule: Host("app.example")
    user: "1000:1000"
    working_dir: /tmp
    hostname: app-host
    domainname: example.internal
    stop_signal: SIGINT
    stop_grace_period: 3s
    ports:
      - "127.0.0.1:%[2]d:8080"
      - target: 9090
        published: "%[3]d"
        host_ip: 127.0.0.1
        protocol: udp
    expose: ["7000", "7001-7002/udp"]
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 2s
      timeout: 1s
      retries: 5
      start_period: 1s
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    extra_hosts: ["db.example:10.0.0.5", "cache.example=10.0.0.6"]
    dns: [127.0.0.11, 10.0.0.2]
    dns_search: [example.internal]
    dns_opt: [ndots:2]
    sysctls:
      net.core.somaxconn: "1024"
    ulimits:
      nofile: {soft: 2048, hard: 4096}
      nproc: 512
    logging:
      driver: json-file
      options: {max-size: 1m, max-file: "2"}
    init: true
    read_only: true
    security_opt: [no-new-privileges:true]
    shm_size: 32m
    tty: true
    stdin_open: true
    cpus: 0.5
    mem_limit: 64m
    mem_reservation: 32m
    pids_limit: 100
    cpu_shares: 512
    cpuset: "0"
    tmpfs: [/run, "/var/cache:size=1m"]
    devices: ["/dev/null:/dev/nothing:rwm"]
`,
		files: map[string]string{"app.env": "FROM_FILE=1\n# a comment\nQUOTED=\"a b\"\n"},
	},
	{
		name: "data",
		compose: `services:
  db:
    image: %[1]s
    volumes:
      - data:/var/lib/db
      - ./init:/docker-entrypoint-initdb.d:ro
      - ./state:/state
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1048576, mode: 0o1777}
      - type: volume
        target: /anon
      - type: volume
        source: cache
        target: /cache
        volume: {nocopy: true}
    configs:
      - source: app_conf
        target: /etc/app.conf
    secrets: [token]
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.25", memory: 48M, pids: 50}
        reservations: {memory: 16M}
      restart_policy: {condition: on-failure, max_attempts: 3}
volumes:
  data: {}
  cache:
    labels: {org.example.backup: "daily"}
configs:
  app_conf:
    file: ./app.conf
secrets:
  token:
    file: ./token.txt
`,
		files: map[string]string{
			"init/01-schema.sql": "create table t (id int);\n",
			"app.conf":           "level=info\n",
			"token.txt":          "s3cret\n",
		},
	},
	{
		name: "host",
		compose: `services:
  app:
    image: %[1]s
    platform: linux/amd64
    runtime: runc
    ipc: shareable
    uts: host
    cgroup: private
    group_add: ["100", "1000"]
    mem_limit: 64m
    memswap_limit: 128m
    oom_score_adj: 100
    cpu_period: 100000
    cpu_quota: 50000
    device_cgroup_rules: ["c 1:3 mr"]
    configs:
      - source: inline
        target: /etc/inline.conf
    secrets: [token]
    volumes:
      - ./state:/state:z
    deploy:
      placement:
        constraints: [node.role == manager]
      restart_policy:
        condition: unless-stopped
        delay: 5s
  sidecar:
    image: %[1]s
    platform: linux/amd64
    environment: {PORT: "8081"}
    ipc: service:app
    pid: service:app
    restart: always
    deploy:
      restart_policy:
        window: 10s
configs:
  inline:
    content: |
      level=debug
secrets:
  token:
    environment: TOKEN
`,
		files: map[string]string{".env": "TOKEN=s3cret\n"},
	},
	{
		name: "wiring",
		compose: `services:
  vpn:
    image: %[1]s
    cap_add: [NET_ADMIN]
    ports: ["127.0.0.1:%[2]d:8080"]
    networks: [front]
  client:
    image: %[1]s
    network_mode: service:vpn
    environment: {PORT: "8081"}
    depends_on: [vpn]
  api:
    image: %[1]s
    container_name: %[4]s-api
    links: ["db:database"]
    networks:
      front:
        aliases: [api.internal]
      back:
        priority: 10
    depends_on:
      db:
        condition: service_healthy
        restart: true
  db:
    image: %[1]s
    networks: [back]
    volumes: [/var/lib/db]
    scale: 2
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
  backup:
    image: %[1]s
    volumes_from: ["db:ro"]
    networks: [back]
networks:
  front: {}
  back:
    internal: true
    labels: {org.example.tier: back}
`,
	},
}

// TestDifferentialCompose: for stacks that use every field moor maps, the
// containers moor creates are the containers docker compose v2 creates
// from the same files in the same directory: docker inspect of each pair,
// compared field by field, differs only in what belongs to one container
// (IDs, addresses, timestamps) and in moor's own labels.
func TestDifferentialCompose(t *testing.T) {
	img := testkit.TestImage(t)
	for _, tc := range differentialStacks {
		t.Run(tc.name, func(t *testing.T) {
			// Each stack has its own name, directory and moor; most of
			// the time goes in waiting on the engine.
			t.Parallel()
			stack := testkit.StackName(t)
			testkit.CleanupStack(t, stack)
			if tc.outside {
				testkit.RunByHand(t, stack, stack+"-outside", img)
			}
			repo := testkit.NewRepo(t)
			repo.Write(stack+"/compose.yaml", fmt.Sprintf(tc.compose, img, testkit.FreePort(t), testkit.FreePort(t), stack))
			for path, content := range tc.files {
				repo.Write(stack+"/"+path, content)
			}
			repo.Commit("v1")
			m := newMoor(t, repo.Dir, stack)
			m.mustApply()
			dir := filepath.Join(m.stateDir, "stacks", stack, stack)
			byMoor := inspectProject(t, stack)

			// -v: the anonymous volumes of moor's containers go with them.
			testkit.Compose(t, dir, "down", "-v")
			testkit.Compose(t, dir, "up", "-d")
			byCompose := inspectProject(t, stack)

			if got, want := slices.Sorted(maps.Keys(byMoor)), slices.Sorted(maps.Keys(byCompose)); !slices.Equal(got, want) {
				t.Fatalf("moor created %v, docker compose %v", got, want)
			}
			for name, mc := range byMoor {
				for _, d := range diffJSON("", mc, byCompose[name]) {
					t.Errorf("%s: %s", name, d)
				}
			}
			// compose's containers are moor's again: nothing to do.
			if code, out := m.run("plan", "--exit-code"); code != 0 {
				t.Errorf("moor plan after docker compose up -d: exit %d\n%s", code, out)
			}
		})
	}
}

// inspectProject returns docker inspect of every container of a compose
// project, by name, with what belongs to one container alone taken out.
func inspectProject(t *testing.T, project string) map[string]any {
	t.Helper()
	ids, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project="+project).Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(string(ids))) == 0 {
		t.Fatalf("project %s has no containers", project)
	}
	out, err := exec.Command("docker", append([]string{"inspect"}, strings.Fields(string(ids))...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	// Container IDs, wherever they appear (network_mode container:ID), are
	// replaced by the container's name.
	names := map[string]string{}
	for _, c := range all {
		names[c["Id"].(string)] = strings.TrimPrefix(c["Name"].(string), "/")
	}
	shortIDs := map[string]string{}
	for id, name := range names {
		shortIDs[id[:12]] = name
	}
	res := map[string]any{}
	for _, c := range all {
		id := c["Id"].(string)
		for _, k := range []string{"Id", "Created", "State", "ResolvConfPath", "HostnamePath", "HostsPath",
			"LogPath", "RestartCount", "ExecIDs", "GraphDriver", "SizeRw", "SizeRootFs"} {
			delete(c, k)
		}
		cfg := c["Config"].(map[string]any)
		// A container's default hostname is its short ID, or its
		// namespace provider's.
		if name, ok := shortIDs[cfg["Hostname"].(string)]; ok {
			cfg["Hostname"] = "<short ID of " + name + ">"
		}
		if labels, ok := cfg["Labels"].(map[string]any); ok {
			for k := range labels {
				if strings.HasPrefix(k, "moor.") {
					delete(labels, k)
				}
			}
		}
		hc := c["HostConfig"].(map[string]any)
		// compose refers to other containers by ID (network_mode
		// container:ID, volumes_from), and hashes those IDs, which differ
		// between the two runs; moor's empty plan after compose's run
		// below shows it takes compose's hash for its own.
		refers := false
		inProject := func(ref string) (string, bool) {
			if n, ok := names[ref]; ok {
				return n, true
			}
			return ref, slices.Contains(slices.Collect(maps.Values(names)), ref)
		}
		for _, key := range []string{"NetworkMode", "IpcMode", "PidMode"} {
			if ref, ok := strings.CutPrefix(hc[key].(string), "container:"); ok {
				if name, ok := inProject(ref); ok {
					hc[key], refers = "container:"+name, true
				}
			}
		}
		if from, ok := hc["VolumesFrom"].([]any); ok {
			for i, f := range from {
				if name, ok := inProject(f.(string)); ok {
					from[i], refers = name, true
				}
			}
		}
		if refers {
			delete(cfg["Labels"].(map[string]any), "com.docker.compose.config-hash")
		}
		// Lists whose order compose does not fix (it ranges over maps, or
		// over containers as the engine lists them) and the engine does not
		// keep meaningful.
		sortBy(cfg, "Env", func(v any) string { return v.(string) })
		sortBy(hc, "ExtraHosts", func(v any) string { return v.(string) })
		sortBy(hc, "Links", func(v any) string { return v.(string) })
		sortBy(hc, "Ulimits", func(v any) string { return v.(map[string]any)["Name"].(string) })
		ns := c["NetworkSettings"].(map[string]any)
		networks, _ := ns["Networks"].(map[string]any)
		for _, v := range networks {
			ep := v.(map[string]any)
			for _, k := range []string{"NetworkID", "EndpointID", "Gateway", "IPAddress", "IPPrefixLen",
				"IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "MacAddress"} {
				delete(ep, k)
			}
			if aliases, ok := ep["Aliases"].([]any); ok {
				ep["Aliases"] = slices.DeleteFunc(aliases, func(a any) bool { return a == id[:12] })
			}
			sortBy(ep, "Links", func(v any) string { return v.(string) })
		}
		c["NetworkSettings"] = map[string]any{"Networks": networks, "Ports": ns["Ports"]}
		if mounts, ok := c["Mounts"].([]any); ok {
			for _, mt := range mounts {
				mm := mt.(map[string]any)
				if name, _ := mm["Name"].(string); anonVolume.MatchString(name) {
					mm["Name"] = "<anonymous>"
					mm["Source"] = "<anonymous>"
				}
			}
		}
		// The order of binds and mounts is not the order they are made in:
		// the engine sorts them by path.
		sortBy(hc, "Binds", func(v any) string { return v.(string) })
		sortBy(hc, "Mounts", func(v any) string { return v.(map[string]any)["Target"].(string) })
		sortBy(c, "Mounts", func(v any) string { return v.(map[string]any)["Destination"].(string) })
		res[names[id]] = c
	}
	return res
}

var anonVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

// sortBy sorts the list m[key] by key.
func sortBy(m map[string]any, key string, by func(any) string) {
	if list, ok := m[key].([]any); ok {
		slices.SortStableFunc(list, func(a, b any) int { return strings.Compare(by(a), by(b)) })
	}
}

// empty reports whether a decoded JSON value says nothing: null, "", an
// empty list or object. The engine reports an option it was given empty
// and one it was not given differently, with one meaning.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// diffJSON lists where two decoded JSON values differ, by path.
func diffJSON(path string, a, b any) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		for _, k := range slices.Sorted(maps.Keys(merged(am, bm))) {
			out = append(out, diffJSON(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		var out []string
		for i := range as {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i])...)
		}
		return out
	}
	if empty(a) && empty(b) {
		return nil
	}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if string(aj) != string(bj) {
		return []string{fmt.Sprintf("%s: moor %s, compose %s", path, aj, bj)}
	}
	return nil
}

func merged(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

package compose

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/moor-dev/moor/reconcile"
)

const fullCompose = `
services:
  api:
    image: localhost:5000/app
    command: ["serve", "--port", "8080"]
    entrypoint: /bin/entry
    environment:
      B: "2"
      A: "1"
      UNSET:
    env_file: api.env
    labels:
      com.example.team: web
    user: "1000:1000"
    working_dir: /srv
    hostname: api
    domainname: example.com
    stop_signal: SIGINT
    stop_grace_period: 30s
    ports:
      - "9090-9091:90/udp" # a range: two replicas
      - "127.0.0.1:8080-8081:80"
    expose: ["4000-4001/udp", "3000"]
    volumes:
      - data:/data
      - ./conf:/etc/app:ro
      - /var/log/app:/logs
      - /anon
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 1m
          mode: 0o1777
      - type: volume
        source: cache
        target: /cache
        volume:
          nocopy: true
    tmpfs: [/tmp:size=64m, /run]
    networks:
      back:
        aliases: [zeta, alpha, api]
        ipv4_address: 172.28.0.10
        priority: 10
      default:
    restart: on-failure:3
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
      timeout: 2s
      retries: 3
      start_period: 5s
      start_interval: 1s
    depends_on:
      db:
        condition: service_healthy
    cap_add: [NET_ADMIN, CHOWN]
    cap_drop: [ALL]
    extra_hosts: ["db.local:10.0.0.2", "a.local=10.0.0.1"]
    dns: [9.9.9.9, 1.1.1.1]
    dns_search: [example.com]
    dns_opt: [use-vc, ndots:2]
    sysctls:
      net.core.somaxconn: "1024"
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 65535
    logging:
      driver: json-file
      options:
        max-size: 10m
    init: true
    read_only: true
    security_opt: [no-new-privileges:true]
    privileged: true
    devices: ["/dev/fuse:/dev/fuse:rwm"]
    configs: [app_conf]
    secrets:
      - source: token
        target: api_token
    pull_policy: always
    tty: true
    stdin_open: true
    shm_size: 64m
    cpu_shares: 512
    cpuset: "0-1"
    deploy:
      replicas: 2
      resources:
        limits:
          cpus: "0.1"
          memory: 256M
          pids: 100
        reservations:
          memory: 128M
      update_config:
        order: stop-first
        parallelism: 2
        delay: 3s
        monitor: 15s
        failure_action: pause
        max_failure_ratio: 0.5
      rollback_config:
        parallelism: 1
    x-anything: fine
  db:
    image: postgres:16@sha256:0000000000000000000000000000000000000000000000000000000000000000
    scale: 0
    pull_policy: if_not_present
    healthcheck:
      disable: true
    network_mode: none
networks:
  back:
    ipam:
      config:
        - subnet: 172.28.0.0/16
  unused: {}
volumes:
  data:
  cache:
    name: shared-cache
configs:
  app_conf:
    file: ./app.conf
secrets:
  token:
    file: ./token.txt
`

func TestLoadStackMapsEveryField(t *testing.T) {
	st, sd := mustLoadWeb(t, map[string]string{
		"web/compose.yaml": fullCompose,
		"web/api.env":      "FROM_FILE=yes\nB=from-file-loses\n",
		"web/conf/a.conf":  "a",
		"web/conf/b.conf":  "b",
		"web/app.conf":     "app",
		"web/token.txt":    "s3cret",
	}, Options{})

	dir := sd.Dir
	grace := 30 * time.Second
	init := true
	wantSpec := reconcile.ContainerSpec{
		Image:           "localhost:5000/app:latest",
		Command:         []string{"serve", "--port", "8080"},
		Entrypoint:      []string{"/bin/entry"},
		Env:             []string{"A=1", "B=2", "FROM_FILE=yes"},
		Labels:          map[string]string{"com.example.team": "web"},
		User:            "1000:1000",
		WorkingDir:      "/srv",
		Hostname:        "api",
		Domainname:      "example.com",
		StopSignal:      "SIGINT",
		StopGracePeriod: &grace,
		Ports: []reconcile.Port{
			{Target: 80, Published: "8080-8081", HostIP: "127.0.0.1", Protocol: "tcp"},
			{Target: 90, Published: "9090-9091", Protocol: "udp"},
		},
		Expose: []string{"3000/tcp", "4000/udp", "4001/udp"},
		Mounts: []reconcile.Mount{
			{Type: "volume", Target: "/anon"},
			{Type: "bind", Source: filepath.Join(dir, "app.conf"), Target: "/app_conf", ReadOnly: true, Content: digest(t, filepath.Join(dir, "app.conf"))},
			{Type: "volume", Source: "shared-cache", Target: "/cache", NoCopy: true},
			{Type: "volume", Source: "web_data", Target: "/data", Legacy: true},
			{Type: "bind", Source: filepath.Join(dir, "conf"), Target: "/etc/app", ReadOnly: true, Content: digest(t, filepath.Join(dir, "conf")), Legacy: true},
			{Type: "bind", Source: "/var/log/app", Target: "/logs", CreateHostPath: true, Legacy: true},
			{Type: "bind", Source: filepath.Join(dir, "token.txt"), Target: "/run/secrets/api_token", ReadOnly: true, Content: digest(t, filepath.Join(dir, "token.txt"))},
			{Type: "tmpfs", Target: "/scratch", TmpfsSize: 1 << 20, TmpfsMode: 0o1777},
		},
		Networks: []reconcile.NetworkAttachment{
			{Name: "web_back", Aliases: []string{"alpha", "zeta"}, IPv4Address: "172.28.0.10", Priority: 10},
			{Name: "web_default"},
		},
		Restart: "on-failure:3",
		Healthcheck: &reconcile.Healthcheck{
			Test:     []string{"CMD", "true"},
			Interval: 10 * time.Second, Timeout: 2 * time.Second,
			StartPeriod: 5 * time.Second, StartInterval: time.Second,
			Retries: 3,
		},
		CapAdd:      []string{"CHOWN", "NET_ADMIN"},
		CapDrop:     []string{"ALL"},
		ExtraHosts:  []string{"a.local:10.0.0.1", "db.local:10.0.0.2"},
		DNS:         []string{"9.9.9.9", "1.1.1.1"},
		DNSSearch:   []string{"example.com"},
		DNSOptions:  []string{"ndots:2", "use-vc"},
		Sysctls:     map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:     []reconcile.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 65535, Hard: 65535}},
		Logging:     &reconcile.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m"}},
		Init:        &init,
		ReadOnly:    true,
		SecurityOpt: []string{"no-new-privileges:true"},
		Privileged:  true,
		Devices:     []reconcile.Device{{Host: "/dev/fuse", Container: "/dev/fuse", Permissions: "rwm"}},
		Tmpfs:       []string{"/run", "/tmp:size=64m"},
		Resources: reconcile.Resources{
			NanoCPUs: 100_000_000, MemoryBytes: 256 << 20, MemoryReservation: 128 << 20,
			PidsLimit: 100, CPUShares: 512, CPUSet: "0-1",
		},
		ShmSize:   64 << 20,
		Tty:       true,
		StdinOpen: true,
	}
	wantAPI := &reconcile.Service{
		Name:       "api",
		Replicas:   2,
		PullPolicy: reconcile.PullAlways,
		DependsOn:  map[string]reconcile.Dependency{"db": {Condition: reconcile.ConditionHealthy, Required: true}},
		Update: reconcile.UpdateConfig{
			Order: reconcile.OrderStopFirst, Parallelism: 2, Delay: 3 * time.Second, Monitor: 15 * time.Second,
			FailureAction: reconcile.FailurePause, MaxFailureRatio: 0.5,
		},
		Spec: wantSpec,
		Hash: wantSpec.Hash(),
	}
	// Compose's hash is held by the interop tests against docker compose.
	noCompose := cmpopts.IgnoreFields(reconcile.Service{}, "Compose")
	if diff := cmp.Diff(wantAPI, st.Services["api"], noCompose); diff != "" {
		t.Errorf("service api (-want +got):\n%s", diff)
	}

	dbSpec := reconcile.ContainerSpec{
		Image:       "postgres:16@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		NetworkMode: "none",
		Healthcheck: &reconcile.Healthcheck{Test: []string{"NONE"}},
	}
	wantDB := &reconcile.Service{Name: "db", Replicas: 0, PullPolicy: reconcile.PullMissing, Spec: dbSpec, Hash: dbSpec.Hash()}
	if diff := cmp.Diff(wantDB, st.Services["db"], noCompose); diff != "" {
		t.Errorf("service db (-want +got):\n%s", diff)
	}

	wantNetworks := map[string]*reconcile.NetworkSpec{
		"back": {Key: "back", Name: "web_back", IPAM: &reconcile.IPAM{Config: []reconcile.IPAMPool{{Subnet: "172.28.0.0/16"}}}},
		// "unused" is declared but no service uses it: compose does not create it.
		"default": {Key: "default", Name: "web_default"},
	}
	if diff := cmp.Diff(wantNetworks, st.Networks); diff != "" {
		t.Errorf("networks (-want +got):\n%s", diff)
	}
	wantVolumes := map[string]*reconcile.VolumeSpec{
		"data":  {Key: "data", Name: "web_data"},
		"cache": {Key: "cache", Name: "shared-cache"},
	}
	if diff := cmp.Diff(wantVolumes, st.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if st.Name != "web" || st.Dir != "web" {
		t.Errorf("stack name, dir = %q, %q; want web, web", st.Name, st.Dir)
	}
}

func TestLoadStackExternalResources(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  app:
    image: app:1
    networks: [proxy]
    volumes: [certs:/certs]
networks:
  proxy:
    external: true
    name: traefik_proxy
volumes:
  certs:
    external: true
`}, Options{})
	want := map[string]*reconcile.NetworkSpec{"proxy": {Key: "proxy", Name: "traefik_proxy", External: true}}
	if diff := cmp.Diff(want, st.Networks); diff != "" {
		t.Errorf("networks (-want +got):\n%s", diff)
	}
	wantV := map[string]*reconcile.VolumeSpec{"certs": {Key: "certs", Name: "certs", External: true}}
	if diff := cmp.Diff(wantV, st.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	wantM := []reconcile.Mount{{Type: "volume", Source: "certs", Target: "/certs", Legacy: true}}
	if diff := cmp.Diff(wantM, st.Services["app"].Spec.Mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
}

func TestLoadStackDeployRestartPolicy(t *testing.T) {
	tests := []struct {
		policy string
		want   string
	}{
		{"{condition: any}", "always"},
		{"{}", ""}, // compose gives no policy
		{"{condition: none}", "no"},
		{"{condition: on-failure}", "on-failure"},
		{"{condition: on-failure, max_attempts: 5}", "on-failure:5"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  app:
    image: app:1
    deploy:
      restart_policy: ` + tt.policy + "\n"}, Options{})
			if got := st.Services["app"].Spec.Restart; got != tt.want {
				t.Errorf("Restart = %q, want %q", got, tt.want)
			}
		})
	}
}

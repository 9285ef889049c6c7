package main

import "testing"

func TestReasonKey(t *testing.T) {
	tests := []struct{ line, want string }{
		{`stack web (web/compose.yaml): service api: field "ipc" is not supported by moor`, `field "ipc" is not supported by moor`},
		{`stack web (web/compose.yaml): service api: field "platform" is not supported by moor: remove it: the engine pulls`, `field "platform" is not supported by moor`},
		{`stack web (web/compose.yaml): service api: volumes[1] "/srv:/srv:z": field "bind.selinux" is not supported by moor: drop ":z"`, `volumes[]: field "bind.selinux" is not supported by moor`},
		{`stack m (m/docker-compose.yml): service a ports[0] "18081:80" and service b ports[0] "18081:8181" both publish host port 18081/tcp; publish another`, `ports[] and … both publish host port PORT`},
		{`stack r (r/compose.yaml): service app: config env: only configs from a file are supported; put the content in a file`, `config …: only configs from a file are supported`},
		{`stack b (b/compose.yaml): service x: build is not supported: build images in CI and reference them by tag`, `build is not supported: build images in CI and reference them by tag`},
		{`stack f (f/compose.yaml): service f: deploy.update_config.order start-first cannot work with published host port 13000: the new container could not bind it while the old one runs (use stop-first, or let the engine pick the host port)`, `deploy.update_config.order start-first cannot work with published host port N: the new container could not bind it while the old one runs`},
		{`variable DB_PASSWORD is not set: it is empty where the compose file uses it (set it in the stack's .env or in moor's variables, or write ${DB_PASSWORD:-} to mean empty)`, `variable … is not set: it is empty where the compose file uses it`},
		{`stack b (b/compose.yaml): service x: volumes[0] "./conf:/conf": bind source b/conf: no such file`, `volumes[]: bind source PATH: no such file`},
	}
	for _, tt := range tests {
		if got := reasonKey(tt.line); got != tt.want {
			t.Errorf("reasonKey(%q)\n = %q\nwant %q", tt.line, got, tt.want)
		}
	}
}

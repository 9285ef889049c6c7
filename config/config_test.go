package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/gitsource"
)

const full = `state_dir: /srv/moor
listen: 0.0.0.0:9200
log_level: debug
log_format: json
api:
  token_file: /etc/moor/api-token
  max_connections: 64
secrets_dir: /dev/shm/moor
sources:
  - name: prod
    repo: https://git.example.com/ops/deploy.git
    ref: release
    path: hosts/web-1/
    schedule: "*/5 * * * *"
    allow_empty: true
    variables: {DOMAIN: example.com, PORT: 8080}
    profiles: [a, b]
    timeout: 5m
    max_replicas: 50
    drift_interval: 1h
    image_updates:
      schedule: "@every 10m"
    auth:
      username: deploy
      password_file: /etc/moor/token
    sops:
      age_key_file: /etc/moor/age.key
      pgp_key_file: /etc/moor/pgp.asc
  - name: stage.2
    repo: git@git.example.com:ops/deploy.git
    interval: 1m
    auth:
      ssh_key_file: /etc/moor/id_ed25519
      ssh_key_passphrase_file: /etc/moor/passphrase
      known_hosts_file: /etc/moor/known_hosts
      accept_new_host_keys: true
`

func TestParseFull(t *testing.T) {
	got, err := Parse([]byte(full), "moor.yaml", Defaults{StateDir: "/var/lib/other"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		StateDir: "/srv/moor", Listen: "0.0.0.0:9200", LogLevel: "debug", LogFormat: "json",
		API: API{TokenFile: "/etc/moor/api-token", MaxConnections: 64}, SecretsDir: "/dev/shm/moor",
		Host: Host{Name: DefaultHostName()},
		Sources: []Source{
			{
				Name: "prod", Repo: "https://git.example.com/ops/deploy.git", Ref: "release",
				Path: "hosts/web-1", Schedule: "*/5 * * * *", AllowEmpty: true,
				Variables: map[string]string{"DOMAIN": "example.com", "PORT": "8080"},
				Profiles:  []string{"a", "b"}, Timeout: 5 * time.Minute, MaxReplicas: 50, Drift: DriftRepair,
				DriftInterval: time.Hour, ImageUpdates: ImageUpdates{Schedule: "@every 10m"},
				Auth: Auth{Username: "deploy", PasswordFile: "/etc/moor/token"},
				SOPS: SOPS{AgeKeyFile: "/etc/moor/age.key", PGPKeyFile: "/etc/moor/pgp.asc"},
			},
			{
				Name: "stage.2", Repo: "git@git.example.com:ops/deploy.git", Ref: "main",
				Interval: time.Minute, Timeout: 10 * time.Minute, MaxReplicas: 1000, Drift: DriftRepair, DriftInterval: 5 * time.Minute,
				Auth: Auth{
					SSHKeyFile: "/etc/moor/id_ed25519", SSHKeyPassphraseFile: "/etc/moor/passphrase",
					KnownHostsFile: "/etc/moor/known_hosts", AcceptNewHostKeys: true,
				},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	const minimal = "sources:\n  - {name: prod, repo: /srv/deploy}\n"
	want := &Config{
		StateDir: "/from/env", Listen: "127.0.0.1:9100", LogLevel: "info", LogFormat: "console",
		API: API{MaxConnections: DefaultMaxConnections}, SecretsDir: DefaultSecretsDir,
		Host:    Host{Name: DefaultHostName()},
		Sources: []Source{{Name: "prod", Repo: "/srv/deploy", Ref: "main", Interval: 30 * time.Second, Timeout: 10 * time.Minute, MaxReplicas: 1000, Drift: DriftRepair, DriftInterval: 5 * time.Minute}},
	}
	got, err := Parse([]byte(minimal), "moor.yaml", Defaults{StateDir: "/from/env"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}

	got, err = Parse([]byte(minimal), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if got.StateDir != DefaultStateDir {
		t.Errorf("StateDir with no default = %q, want %q", got.StateDir, DefaultStateDir)
	}

	for _, listen := range []string{`""`, "off", "~"} {
		got, err := Parse([]byte("listen: "+listen+"\n"+minimal), "moor.yaml", Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Listen != "" {
			t.Errorf("listen: %s gives Listen %q, want \"\" (off)", listen, got.Listen)
		}
	}
}

func TestHost(t *testing.T) {
	c, err := Parse([]byte("host:\n  name: edge-1\n  labels: {role: web, region: eu}\nsources:\n  - {name: prod, repo: /srv/deploy}\n"), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	want := Host{Name: "edge-1", Labels: map[string]string{"role": "web", "region": "eu"}}
	if diff := cmp.Diff(want, c.Host); diff != "" {
		t.Errorf("host (-want +got):\n%s", diff)
	}
	if got := c.Host.String(); got != "edge-1 {region=eu, role=web}" {
		t.Errorf("Host.String() = %q", got)
	}
	for in, want := range map[string]string{
		"":                   "map[]",
		"role=web,region=eu": "map[region:eu role:web]",
	} {
		m, err := ParseHostLabels(in)
		if err != nil || fmt.Sprint(m) != want {
			t.Errorf("ParseHostLabels(%q) = %v, %v; want %s", in, m, err, want)
		}
	}
	for _, in := range []string{"role", "role=web,role=db", "role=w b", "=web"} {
		if _, err := ParseHostLabels(in); err == nil {
			t.Errorf("ParseHostLabels(%q) accepted", in)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moor.yaml")
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 2 {
		t.Errorf("Load: %d sources, want 2", len(c.Sources))
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), Defaults{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want ErrNotExist", err)
	}
}

func TestErrors(t *testing.T) {
	const src = "sources:\n  - name: prod\n    repo: r\n"
	const httpsSrc = "sources:\n  - name: prod\n    repo: https://git.example.com/r.git\n"
	const sshSrc = "sources:\n  - name: prod\n    repo: git@git.example.com:r.git\n"
	for _, tt := range []struct {
		name string
		in   string
		want []string // each a line of the error
	}{
		{
			"unknown key top-level",
			"sorces: []\n",
			[]string{`moor.yaml:1: unknown key "sorces" (did you mean "sources"?)`},
		},
		{
			"bad host name and labels",
			"host:\n  name: -edge\n  labels: {role: web, \"re gion\": eu, tier: a=b}\n" + src,
			[]string{
				`moor.yaml:2: host.name: "-edge" is not a host name: want letters, digits, '_', '.' and '-', starting with a letter or digit`,
				`moor.yaml:3: host.labels.re gion: label key "re gion": want letters, digits, '_', '.' and '-', starting with a letter or digit`,
				`moor.yaml:3: host.labels.tier: label tier: value "a=b": want letters, digits, '_', '.' and '-', starting with a letter or digit`,
			},
		},
		{
			"unknown key nested",
			src + "    intervall: 30s\n",
			[]string{`moor.yaml:4: unknown key "intervall" in sources[0] (did you mean "interval"?)`},
		},
		{
			"unknown key, no suggestion",
			src + "    branch: main\n",
			[]string{`moor.yaml:4: unknown key "branch" in sources[0]`},
		},
		{
			"key set twice",
			src + "    ref: a\n    ref: b\n",
			[]string{`moor.yaml:5: sources[0].ref: set twice (first on line 4)`},
		},
		{
			"wrong type: list for string",
			src + "    ref: [main]\n",
			[]string{`moor.yaml:4: sources[0].ref: want a string, got a list`},
		},
		{
			"wrong type: string for list",
			"sources: prod\n",
			[]string{`moor.yaml:1: sources: want a list, got the string "prod"`},
		},
		{
			"wrong type: bool",
			src + "    allow_empty: yes\n",
			[]string{`moor.yaml:4: sources[0].allow_empty: want true or false, got the string "yes"`},
		},
		{
			"wrong type: variables",
			src + "    variables: [A]\n",
			[]string{`moor.yaml:4: sources[0].variables: want a mapping, got a list`},
		},
		{
			"bad duration",
			src + "    interval: 30\n",
			[]string{`moor.yaml:4: sources[0].interval: invalid duration "30" (want e.g. 30s or 5m): time: missing unit in duration "30"`},
		},
		{
			"zero duration",
			src + "    timeout: 0s\n",
			[]string{`moor.yaml:4: sources[0].timeout: duration 0s is not positive`},
		},
		{
			"zero max_replicas",
			src + "    max_replicas: 0\n",
			[]string{`moor.yaml:4: sources[0].max_replicas: 0 is not positive`},
		},
		{
			"max_replicas not a number",
			src + "    max_replicas: many\n",
			[]string{`moor.yaml:4: sources[0].max_replicas: want a whole number, got the string "many"`},
		},
		{
			"interval below the minimum",
			src + "    interval: 500ms\n",
			[]string{`moor.yaml:4: sources[0].interval: 500ms is shorter than the minimum of 1s`},
		},
		{
			"drift_interval below the minimum",
			src + "    drift_interval: 100ms\n",
			[]string{`moor.yaml:4: sources[0].drift_interval: 100ms is shorter than the minimum of 1s`},
		},
		{
			"duplicate name",
			src + "  - name: prod\n    repo: r2\n",
			[]string{`moor.yaml:4: sources[1].name: duplicate name "prod" (first in sources[0].name, line 2)`},
		},
		{
			"bad name",
			"sources:\n  - name: Prod/1\n    repo: r\n",
			[]string{`moor.yaml:2: sources[0].name: "Prod/1" is not a valid name`},
		},
		{
			"missing name and repo",
			"sources:\n  - ref: main\n",
			[]string{`moor.yaml:2: sources[0].name: missing`, `moor.yaml:2: sources[0].repo: missing`},
		},
		{
			"interval and schedule",
			src + "    interval: 1m\n    schedule: '@hourly'\n",
			[]string{`moor.yaml:5: sources[0].schedule: schedule and interval exclude each other`},
		},
		{
			"bad cron",
			src + "    schedule: '*/5 * * *'\n",
			[]string{`moor.yaml:4: sources[0].schedule: "*/5 * * *": expected exactly 5 fields, found 4`},
		},
		{
			"bad image_updates schedule",
			src + "    image_updates:\n      schedule: 'every ten minutes'\n",
			[]string{`moor.yaml:5: sources[0].image_updates.schedule: source "prod": "every ten minutes": expected exactly 5 fields, found 3`},
		},
		{
			"bad image_updates descriptor",
			src + "    image_updates: {schedule: '@every ten'}\n",
			[]string{`moor.yaml:4: sources[0].image_updates.schedule: source "prod": "@every ten": failed to parse duration @every ten: time: invalid duration "ten"`},
		},
		{
			"unknown key in image_updates",
			src + "    image_updates:\n      interval: 10m\n",
			[]string{`moor.yaml:5: unknown key "interval" in sources[0].image_updates`},
		},
		{
			"bad windows",
			src + "    windows:\n      - kind: maybe\n        schedule: '0 22 * *'\n        duration: 2h\n      - {kind: deny, schedule: '@daily'}\n",
			[]string{
				`moor.yaml:5: sources[0].windows[0].kind: "maybe" is not one of allow, deny`,
				`moor.yaml:6: sources[0].windows[0].schedule: "0 22 * *": expected exactly 5 fields, found 4`,
				`moor.yaml:8: sources[0].windows[1].duration: missing: how long the window stays open, e.g. 2h`,
			},
		},
		{
			"unknown key in a window",
			src + "    windows:\n      - {kind: deny, schedule: '@daily', duration: 1h, timezone: UTC}\n",
			[]string{`moor.yaml:5: unknown key "timezone" in sources[0].windows[0]`},
		},
		{
			"path escaping",
			src + "    path: hosts/../../etc\n",
			[]string{`moor.yaml:4: sources[0].path: "hosts/../../etc" leaves the repository`},
		},
		{
			"absolute path",
			src + "    path: /etc\n",
			[]string{`moor.yaml:4: sources[0].path: "/etc" must be relative to the repository root`},
		},
		{
			"bad variable name",
			src + "    variables: {A-B: x}\n",
			[]string{`moor.yaml:4: sources[0].variables: "A-B" is not a valid variable name`},
		},
		{
			"empty sources list",
			"sources: []\n",
			[]string{`moor.yaml:1: sources: no sources`},
		},
		{
			"empty file",
			"",
			[]string{`moor.yaml: sources: no sources`},
		},
		{
			"log level and format",
			"log_level: verbose\nlog_format: text\n" + src,
			[]string{
				`moor.yaml:1: log_level: "verbose" is not one of debug, info, warn, error`,
				`moor.yaml:2: log_format: "text" is not one of console, json`,
			},
		},
		{
			"bad listen",
			"listen: 9100\n" + src,
			[]string{`moor.yaml:1: listen: "9100" is not host:port or "off"`},
		},
		{
			"api: an inline token",
			"api:\n  token: s3cret\n" + src,
			[]string{`moor.yaml:2: api.token: secrets are not written in the config file: use token_file`},
		},
		{
			"api: too few connections",
			"api:\n  max_connections: 2\n" + src,
			[]string{`moor.yaml:2: api.max_connections: 2 is less than 4`},
		},
		{
			"api: max_connections not a number",
			"api: {max_connections: many}\n" + src,
			[]string{`moor.yaml:1: api.max_connections: want a whole number, got`},
		},
		{
			"invalid YAML",
			"listen: x\nstate_dir: a: b\n",
			[]string{`moor.yaml:2: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			"auth: password_file and password_env",
			httpsSrc + "    auth:\n      username: u\n      password_file: /p\n      password_env: TOKEN\n",
			[]string{`moor.yaml:7: sources[0].auth.password_env: password_file and password_env exclude each other`},
		},
		{
			"auth: password without username",
			httpsSrc + "    auth: {password_env: TOKEN}\n",
			[]string{`moor.yaml:4: sources[0].auth.username: missing (HTTP basic auth needs it with password_env`},
		},
		{
			"auth: username without password",
			httpsSrc + "    auth: {username: u}\n",
			[]string{`moor.yaml:4: sources[0].auth.username: has no password`},
		},
		{
			"auth: SSH settings for an https URL",
			httpsSrc + "    auth:\n      username: u\n      password_file: /p\n      ssh_key_file: /k\n      accept_new_host_keys: true\n",
			[]string{
				`moor.yaml:7: sources[0].auth.ssh_key_file: is for SSH, and repo is an HTTP(S) URL`,
				`moor.yaml:8: sources[0].auth.accept_new_host_keys: is for SSH, and repo is an HTTP(S) URL`,
			},
		},
		{
			"auth: a password for an SSH URL",
			sshSrc + "    auth:\n      username: u\n      password_file: /p\n      ssh_key_file: /k\n      known_hosts_file: /kh\n",
			[]string{
				`moor.yaml:5: sources[0].auth.username: is for HTTP(S): the SSH user comes from the repo URL`,
				`moor.yaml:6: sources[0].auth.password_file: is for HTTP(S): SSH takes ssh_key_file`,
			},
		},
		{
			"auth: SSH without known_hosts_file",
			sshSrc + "    auth:\n      ssh_key_file: /k\n",
			[]string{`moor.yaml:5: sources[0].auth.known_hosts_file: missing: SSH host keys are always checked against a pinned known_hosts file`},
		},
		{
			"auth: accept_new_host_keys alone",
			sshSrc + "    auth: {accept_new_host_keys: true}\n",
			[]string{
				`moor.yaml:4: sources[0].auth.ssh_key_file: missing`,
				`moor.yaml:4: sources[0].auth.known_hosts_file: missing`,
			},
		},
		{
			"auth: password and SSH settings, unknown URL kind",
			"sources:\n  - name: prod\n    repo: svn://x/r\n    auth:\n      username: u\n      password_file: /p\n      ssh_key_file: /k\n      known_hosts_file: /kh\n",
			[]string{`moor.yaml:7: sources[0].auth.ssh_key_file: password and SSH key settings exclude each other`},
		},
		{
			"auth: local repository",
			src + "    auth: {username: u, password_file: /p}\n",
			[]string{`moor.yaml:4: sources[0].auth: a local or git:// repository takes no credentials`},
		},
		{
			"auth: unknown key",
			httpsSrc + "    auth:\n      username: u\n      pasword_file: /p\n",
			[]string{`moor.yaml:6: unknown key "pasword_file" in sources[0].auth (did you mean "password_file"?)`},
		},
		{
			"auth: wrong type",
			sshSrc + "    auth: {ssh_key_file: /k, known_hosts_file: /kh, accept_new_host_keys: yes}\n",
			[]string{`moor.yaml:4: sources[0].auth.accept_new_host_keys: want true or false, got the string "yes"`},
		},
		{
			"auth: an inline password",
			httpsSrc + "    auth:\n      username: u\n      password: hunter2-inline\n",
			[]string{`moor.yaml:6: sources[0].auth.password: secrets are not written in the config file: use password_file or password_env`},
		},
		{
			"sops: an inline age key",
			httpsSrc + "    sops:\n      age_key: AGE-SECRET-KEY-1INLINE\n",
			[]string{`moor.yaml:5: sources[0].sops.age_key: secrets are not written in the config file: use age_key_file`},
		},
		{
			"a relative secrets_dir",
			"secrets_dir: run/moor\n" + httpsSrc,
			[]string{`moor.yaml:1: secrets_dir: "run/moor" must be an absolute path`},
		},
		{
			"a password in the repo URL",
			"sources:\n  - name: prod\n    repo: https://u:hunter2-url@git.example.com/r.git\n",
			[]string{`moor.yaml:3: sources[0].repo: https://***@git.example.com/r.git: the URL is refused: it holds a password. moor takes no credentials in URLs: put the password or token in a file or environment variable named by the source's auth (password_file or password_env`},
		},
		{
			"a token as the user of the repo URL",
			"sources:\n  - name: prod\n    repo: https://hunter2-url@git.example.com/r.git\n",
			[]string{`moor.yaml:3: sources[0].repo: https://***@git.example.com/r.git: the URL is refused: it has a user part, which may be a token`},
		},
		{
			"a token in the query of the repo URL",
			"sources:\n  - name: prod\n    repo: https://git.example.com/r.git?private_token=hunter2-url\n",
			[]string{`moor.yaml:3: sources[0].repo: https://git.example.com/r.git?***: the URL is refused: it has a query or fragment`},
		},
		{
			"a password for the SSH user of the repo URL",
			"sources:\n  - name: prod\n    repo: git:hunter2-url@git.example.com:ops/r.git\n",
			[]string{`moor.yaml:3: sources[0].repo: ***@git.example.com:ops/r.git: the URL is refused: it holds a password`},
		},
		{
			"every decoding problem at once",
			"sorces: []\nsources:\n  - name: a\n    repo: r\n    interval: 1\n    timout: 5m\n",
			[]string{
				`moor.yaml:1: unknown key "sorces"`,
				`moor.yaml:5: sources[0].interval: invalid duration "1"`,
				`moor.yaml:6: unknown key "timout" in sources[0]`,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "moor.yaml", Defaults{StateDir: "/var/lib/moor"})
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(tt.want, "\n"))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("Parse error:\n%v\nwant %d lines starting:\n%s", err, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("error line %d:\n got  %s\n want %s...", i+1, lines[i], want)
				}
			}
			for _, secret := range []string{"hunter2-inline", "hunter2-url"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret %q:\n%v", secret, err)
				}
			}
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.File != "moor.yaml" {
				t.Errorf("error %v is not a *config.Error naming the file", err)
			}
		})
	}
}

// TestValidateBuilt covers a Config built in code (the --repo flags): the
// defaults apply, and errors name fields without a file.
func TestValidateBuilt(t *testing.T) {
	c := &Config{StateDir: "/s", Listen: "off", Sources: []Source{{Name: "default", Repo: "/srv/r", Path: "./stacks"}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := &Config{StateDir: "/s", LogLevel: "info", LogFormat: "console", API: API{MaxConnections: DefaultMaxConnections}, SecretsDir: DefaultSecretsDir,
		Host:    Host{Name: DefaultHostName()},
		Sources: []Source{{Name: "default", Repo: "/srv/r", Ref: "main", Path: "stacks", Interval: 30 * time.Second, Timeout: 10 * time.Minute, MaxReplicas: 1000, Drift: DriftRepair, DriftInterval: 5 * time.Minute}}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}

	c = &Config{StateDir: "/s", Sources: []Source{{Name: "x", Repo: "r", Interval: -time.Second, Timeout: -time.Second, MaxReplicas: -1}}}
	err := c.Validate()
	want2 := "sources[0].interval: -1s is shorter than the minimum of 1s\nsources[0].timeout: -1s is not positive\nsources[0].max_replicas: -1 is not positive"
	if err == nil || err.Error() != want2 {
		t.Errorf("Validate = %v, want\n%s", err, want2)
	}
}

func TestCronSchedule(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 2, 30, 0, time.UTC)
	for _, tt := range []struct {
		src  Source
		next time.Time
	}{
		{Source{Interval: 45 * time.Second}, base.Add(45 * time.Second)},
		{Source{Schedule: "*/5 * * * *"}, time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)},
		{Source{Schedule: "@hourly"}, time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)},
		{Source{Schedule: "@every 1m"}, base.Add(time.Minute)},
	} {
		sched, err := tt.src.CronSchedule()
		if err != nil {
			t.Errorf("%+v: %v", tt.src, err)
			continue
		}
		if got := sched.Next(base); !got.Equal(tt.next) {
			t.Errorf("%+v: next after %v = %v, want %v", tt.src, base, got, tt.next)
		}
	}
	if _, err := (Source{Schedule: "every day"}).CronSchedule(); err == nil {
		t.Error("bad schedule parsed")
	}
	if _, err := (Source{Name: "x"}).CronSchedule(); err == nil {
		t.Error("source with neither interval nor schedule has a schedule")
	}
}

func TestImageSchedule(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 2, 30, 0, time.UTC)
	for _, tt := range []struct {
		spec string
		next time.Time
	}{
		{"@every 10m", base.Add(10 * time.Minute)},
		{"@hourly", time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)},
		{"30 3 * * *", time.Date(2025, 3, 2, 3, 30, 0, 0, time.UTC)},
	} {
		sched, err := (Source{Name: "prod", ImageUpdates: ImageUpdates{Schedule: tt.spec}}).ImageSchedule()
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if got := sched.Next(base); !got.Equal(tt.next) {
			t.Errorf("%q: next after %v = %v, want %v", tt.spec, base, got, tt.next)
		}
	}
	// Off by default: the repository alone decides what runs.
	if sched, err := (Source{Name: "prod", Interval: time.Minute}).ImageSchedule(); sched != nil || err != nil {
		t.Errorf("a source without image_updates has the image schedule %v, %v; want none", sched, err)
	}
	_, err := (Source{Name: "prod", ImageUpdates: ImageUpdates{Schedule: "daily"}}).ImageSchedule()
	if err == nil || !strings.Contains(err.Error(), "source prod: image_updates.schedule \"daily\"") {
		t.Errorf("bad schedule: %v, want an error naming the source and the field", err)
	}
}

func TestRepoKind(t *testing.T) {
	for repo, want := range map[string]string{
		"https://git.example.com/r.git":    "http",
		"HTTP://git.example.com/r.git":     "http",
		"ssh://git@git.example.com:2222/r": "ssh",
		"git@git.example.com:ops/r.git":    "ssh",
		"git.example.com:ops/r.git":        "ssh",
		"git://git.example.com/r.git":      "git",
		"file:///srv/r.git":                "local",
		"/srv/r.git":                       "local",
		"/srv/odd:name/r.git":              "local",
		"./r":                              "local",
		"r":                                "local",
		"svn://x/r":                        "",
		"":                                 "",
	} {
		if got := repoKind(repo); got != want {
			t.Errorf("repoKind(%q) = %q, want %q", repo, got, want)
		}
	}
}

// TestAuthConvertsToCredentials: the controller converts a source's auth
// with gitsource.Credentials(src.Auth). That compiles only while the two
// structs have the same fields in the same order; this test breaks the
// build of the config tests when they drift apart.
func TestAuthConvertsToCredentials(t *testing.T) {
	a := Auth{
		Username: "u", PasswordFile: "/p", PasswordEnv: "E", SSHKeyFile: "/k",
		SSHKeyPassphraseFile: "/kp", KnownHostsFile: "/kh", AcceptNewHostKeys: true,
	}
	c := gitsource.Credentials(a)
	if Auth(c) != a {
		t.Errorf("round trip through gitsource.Credentials: %+v, want %+v", Auth(c), a)
	}
}

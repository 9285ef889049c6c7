package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/internal/testkit"
)

// exampleRepos are the deploy repositories under examples/: every directory
// whose subdirectories hold compose files.
func exampleRepos(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	var repos []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("../../examples", e.Name())
		if m, _ := filepath.Glob(filepath.Join(dir, "*", "compose.yaml")); len(m) > 0 {
			repos = append(repos, dir)
		}
	}
	if len(repos) < 2 {
		t.Fatalf("found only %v under examples/", repos)
	}
	return repos
}

// TestExamplesValidate: `moor validate` accepts every example repository.
func TestExamplesValidate(t *testing.T) {
	for _, dir := range exampleRepos(t) {
		m := &moor{t: t}
		if code, out := m.run("validate", dir); code != 0 || strings.Contains(out, "error") {
			t.Errorf("moor validate %s: exit %d\n%s", dir, code, out)
		}
		// They are what docker compose runs, too.
		stacks, _ := filepath.Glob(filepath.Join(dir, "*", "compose.yaml"))
		for _, file := range stacks {
			if out, err := testkit.ComposeErr(t, filepath.Dir(file), "config", "-q"); err != nil {
				t.Errorf("docker compose config %s: %v\n%s", file, err, out)
			}
		}
	}
}

// TestExamplesPlan: `moor plan --dir` plans every example against the real
// engine without touching it.
func TestExamplesPlan(t *testing.T) {
	testkit.Docker(t)
	for _, dir := range exampleRepos(t) {
		m := newMoor(t, dir, "example-"+filepath.Base(dir))
		args := []string{"plan", "--dir", dir}
		if key := filepath.Join(dir, "example-age.key"); fileExists(key) {
			args = append(args, "--sops-age-key-file", key)
		}
		code, out := m.run(args...)
		if code != 0 || !strings.Contains(out, "create ") {
			t.Errorf("moor plan --dir %s: exit %d\n%s", dir, code, out)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestExampleConfig: the example controller configuration loads.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("../../examples/moor.yaml", config.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 3 {
		t.Fatalf("sources: %+v", cfg.Sources)
	}
}

// TestValidateNamesTheFault: a broken repository fails validation with the
// file and field named.
func TestValidateNamesTheFault(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "compose.yaml"), []byte("services:\n  api:\n    image: x:1\n    use_api_socket: true\n"), 0o644)
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code == 0 || !strings.Contains(out, "compose.yaml") || !strings.Contains(out, `"use_api_socket"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestMoorInDockerExample: the compose file that runs moor from its image
// is valid compose (compose-go, and docker-compose itself where installed),
// gives moor the socket, its state directory at the same path and its
// configuration, and is never a stack that moor would deploy (and replace)
// itself.
func TestMoorInDockerExample(t *testing.T) {
	dir, err := filepath.Abs("../../examples/moor-in-docker")
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Dir(dir), dir} {
		stacks, err := compose.Discover(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, sd := range stacks {
			if strings.HasPrefix(sd.File, dir+string(filepath.Separator)) {
				t.Errorf("%s as a deploy repository has the stack %s (%s): moor would deploy itself", root, sd.Name, sd.File)
			}
		}
	}

	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(dir, ".env")})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, env["COMPOSE_FILE"])
	if env["COMPOSE_FILE"] == "" || slices.Contains(compose.FileNames, env["COMPOSE_FILE"]) {
		t.Fatalf(".env names the compose file %q: want a name moor does not discover", env["COMPOSE_FILE"])
	}
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("moor-in-docker", true) })
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	svc, ok := p.Services["moor"]
	if !ok {
		t.Fatalf("%s has no service moor: %v", file, p.ServiceNames())
	}
	if svc.Restart != "unless-stopped" {
		t.Errorf("restart: %q, want unless-stopped", svc.Restart)
	}
	confArg := slices.Index(svc.Command, "--config")
	if len(svc.Command) == 0 || svc.Command[0] != "run" || confArg < 0 || confArg+1 >= len(svc.Command) {
		t.Fatalf("command %q: want run --config FILE", svc.Command)
	}
	binds := map[string]types.ServiceVolumeConfig{} // by target
	for _, v := range svc.Volumes {
		binds[v.Target] = v
	}
	if v := binds["/var/run/docker.sock"]; v.Type != types.VolumeTypeBind || v.Source != "/var/run/docker.sock" {
		t.Errorf("the Docker socket is not mounted: %+v", svc.Volumes)
	}
	if v := binds[config.DefaultStateDir]; v.Type != types.VolumeTypeBind || v.Source != v.Target {
		t.Errorf("the state directory %s is not a host directory at the same path: %+v", config.DefaultStateDir, v)
	}
	conf := binds[svc.Command[confArg+1]]
	if conf.Type != types.VolumeTypeBind || !conf.ReadOnly || conf.Source != filepath.Join(dir, "moor.yaml") {
		t.Fatalf("the configuration %s is not mounted read-only from moor.yaml: %+v", svc.Command[confArg+1], conf)
	}
	cfg, err := config.Load(conf.Source, config.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil || (host != "0.0.0.0" && host != "") {
		t.Fatalf("listen %q: want all interfaces of the container (%v)", cfg.Listen, err)
	}
	if len(svc.Ports) != 1 || strconv.Itoa(int(svc.Ports[0].Target)) != port || svc.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("ports %+v: want 127.0.0.1:...:%s", svc.Ports, port)
	}

	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Logf("docker-compose is not installed: validated with compose-go only")
		return
	}
	cmd := exec.Command("docker-compose", "config", "-q")
	cmd.Dir = dir // .env names the file
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config -q in %s: %v\n%s", dir, err, out)
	}
}

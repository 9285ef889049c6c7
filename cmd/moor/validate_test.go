package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestValidateRefusesOutside: `moor validate` is what a deploy repository's
// CI runs on a pull request, next to the CI's secrets. Stacks that point at
// moor's own environment (an env_file, a symlinked .env, an include, a
// label_file through a symlink) are refused, by file and field, and nothing
// of that environment is printed.
func TestValidateRefusesOutside(t *testing.T) {
	environ, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Skipf("no /proc/self/environ here: %v", err)
	}
	entries := strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
	first, _, _ := strings.Cut(entries[0], "=")
	dir := t.TempDir()
	for p, content := range map[string]string{
		"envfile/compose.yaml": "services:\n  app:\n    image: app:1\n    env_file: [/proc/self/environ]\n",
		// a .env that parsed would put the whole environment into the image
		"dotenv/compose.yaml":  "services:\n  app:\n    image: 'app:${" + first + "}'\n",
		"include/compose.yaml": "include: [/proc/self/environ]\n",
		"labels/compose.yaml":  "services:\n  app:\n    image: app:1\n    label_file: [../environ]\n",
		"good/compose.yaml":    "services:\n  app:\n    image: app:1\n",
	} {
		writeRepoFile(t, dir, p, content)
	}
	for link, target := range map[string]string{"dotenv/.env": "/proc/self/environ", "environ": "/proc/self/environ"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	for _, want := range []string{
		`error envfile: stack envfile (envfile/compose.yaml): service app: env_file "/proc/self/environ": outside the repository`,
		`error dotenv: stack dotenv (dotenv/compose.yaml): .env "dotenv/.env": outside the repository`,
		`error include: stack include (include/compose.yaml): include "/proc/self/environ": outside the repository`,
		`error labels: stack labels (labels/compose.yaml): service app: label_file "environ": outside the repository`,
		"ok    good (app)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	for _, e := range entries {
		if _, v, _ := strings.Cut(e, "="); len(v) >= 12 && strings.Contains(out, v) {
			t.Errorf("the output shows a value of moor's environment (%.12s…)", v)
		}
	}
}

// TestPlanDirRefusesOutside: `moor plan --dir` (a working copy not yet
// committed) reads nothing outside the directory either; the stack is
// reported broken and the environment is not printed.
func TestPlanDirRefusesOutside(t *testing.T) {
	testkit.Docker(t)
	environ, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Skipf("no /proc/self/environ here: %v", err)
	}
	dir := t.TempDir()
	name := testkit.StackName(t)
	writeRepoFile(t, dir, name+"/compose.yaml", "services:\n  app:\n    image: app:1\n    env_file: [app.env]\n")
	if err := os.Symlink("/proc/self/environ", filepath.Join(dir, name, "app.env")); err != nil {
		t.Fatal(err)
	}
	m := newMoor(t, dir, name)
	code, out := m.run("plan", "--dir", dir)
	if code == exitOK || !strings.Contains(out, `service app: env_file "`+name+`/app.env": outside the repository`) {
		t.Errorf("exit %d; want the stack refused for its env_file", code)
	}
	for _, e := range strings.Split(string(environ), "\x00") {
		if _, v, _ := strings.Cut(e, "="); len(v) >= 12 && strings.Contains(out, v) {
			t.Errorf("the output shows a value of moor's environment (%.12s…)", v)
		}
	}
}

// TestValidateMaxReplicas: validate holds replicas to --max-replicas, the
// max_replicas of the source that the repository will be deployed by.
func TestValidateMaxReplicas(t *testing.T) {
	dir := t.TempDir()
	writeRepoFile(t, dir, "web/compose.yaml", "services:\n  app:\n    image: app:1\n    deploy:\n      replicas: 1500\n")
	m := &moor{t: t}
	if code, out := m.run("validate", dir); code != exitError || !strings.Contains(out, "deploy.replicas 1500 is more than the limit of 1000 (max_replicas)") {
		t.Errorf("with the default limit: exit %d", code)
	}
	if code, _ := m.run("validate", "--max-replicas", "1500", dir); code != exitOK {
		t.Errorf("with --max-replicas 1500: exit %d", code)
	}
}

func writeRepoFile(t *testing.T, dir, p, content string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestValidateReportsEveryProblem: validate prints every problem of a stack
// at once, one a line, each naming the stack, the service and the entry as
// written, and an unset variable as a warning of the stack that uses it.
func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeRepoFile(t, dir, "web/compose.yaml", "services:\n  api:\n    image: app:1\n    use_api_socket: true\n    pull_policy: daily\n    volumes:\n      - type: image\n        source: img:1\n        target: /i\n")
	writeRepoFile(t, dir, "blog/compose.yaml", "services:\n  app:\n    image: blog:${TAG}\n")
	writeRepoFile(t, dir, "blog/.env", "TAG=1\n")
	writeRepoFile(t, dir, "shop/compose.yaml", "services:\n  app:\n    image: shop:1\n    env_file: [app.env]\n    environment:\n      - KEY=${SHOP_KEY}\n")
	writeRepoFile(t, dir, "shop/app.env", "B=${SHOP_ENV_KEY}\n")
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	for _, want := range []string{
		"ok    blog (app)\n",
		"ok    shop (app)\nwarn  shop: variable SHOP_KEY is not set: it is empty where the compose file uses it",
		"\nwarn  shop: The \"SHOP_ENV_KEY\" variable is not set. Defaulting to a blank string.\n",
		"error web: stack web (web/compose.yaml): service api: field \"use_api_socket\" is not supported by moor: bind /var/run/docker.sock explicitly if the service must reach the engine\n",
		"\nstack web (web/compose.yaml): service api: pull_policy \"daily\" is not supported by moor (use missing, always or never)\n",
		"\nstack web (web/compose.yaml): service api: volumes[0] \"{type: image, source: img:1, target: /i}\": field \"volumes.type\" \"image\" is not supported by moor",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "warn  blog") {
		t.Errorf("a warning for a set variable:\n%s", out)
	}
}

// TestValidateCrossStackClaims: two stacks publishing one host port are
// both reported, each naming both sides.
func TestValidateCrossStackClaims(t *testing.T) {
	dir := t.TempDir()
	writeRepoFile(t, dir, "a/compose.yaml", "services:\n  web:\n    image: app:1\n    ports: [\"8080:80\"]\n")
	writeRepoFile(t, dir, "b/compose.yaml", "services:\n  api:\n    image: app:1\n    ports: [\"9000:9000\", \"8080:8080\"]\n")
	writeRepoFile(t, dir, "c/compose.yaml", "services:\n  app:\n    image: app:1\n")
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	both := `stack a service web ports[0] "8080:80" and stack b service api ports[1] "8080:8080" both publish host port 8080/tcp`
	for _, want := range []string{"error a: " + both, "error b: " + both, "ok    c (app)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestPlanWarnsUnsetVariable: moor plan names the stack that uses an
// unset variable (compose-go's own line, which names no stack, is not
// logged: compose's TestUnsetVariableWarnsOnTheStack).
func TestPlanWarnsUnsetVariable(t *testing.T) {
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", "services:\n  app:\n    image: "+img+"\n    environment:\n      - KEY=${PLAN_KEY}\n")
	repo.Commit("a stack with an unset variable")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"plan", "--repo", repo.Dir, "--name", stack, "--state-dir", t.TempDir()}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != exitOK {
		t.Fatalf("plan exited %d:\n%s", code, out)
	}
	if want := "warning: stack " + stack + ": variable PLAN_KEY is not set"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

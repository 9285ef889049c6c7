package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ComposeVersion is the docker compose v2 the tests compare moor with.
const ComposeVersion = "2.40.3"

// Compose runs `docker compose ARGS...` (compose v2, the CLI plugin) in dir
// and returns its combined output; a failure fails the test. Without the
// plugin the test is skipped, or fails under CI (.ci/run builds it).
func Compose(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := ComposeErr(t, dir, args...)
	if err != nil {
		t.Fatalf("docker compose %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return out
}

// ComposeErr is Compose that returns the error instead of failing.
func ComposeErr(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	requireCompose(t)
	cmd := exec.Command("docker", append([]string{"compose"}, args...)...)
	cmd.Dir = dir
	// Interpolation must see what moor sees: the stack's .env, nothing of
	// the test's environment but what docker needs.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+h)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("docker compose %s -> %v\n%s", strings.Join(args, " "), err, out.String())
	return out.String(), err
}

func requireCompose(t testing.TB) {
	t.Helper()
	home, _ := os.UserHomeDir()
	plugin := filepath.Join(home, ".docker", "cli-plugins", "docker-compose")
	out, err := exec.Command(plugin, "version", "--short").Output()
	if err != nil {
		skipOrFail(t, fmt.Errorf("docker compose v2 (%s): %v (./scripts/compose-v2 builds it)", plugin, err))
		return
	}
	if v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v"); v != ComposeVersion && v != "dev" {
		skipOrFail(t, fmt.Errorf("docker compose is %s, the tests compare with %s (./scripts/compose-v2 builds it)", v, ComposeVersion))
	}
}

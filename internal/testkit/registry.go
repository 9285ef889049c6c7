package testkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/bcrypt"
)

// registryBinary is what the Debian package docker-registry installs.
const registryBinary = "/usr/bin/docker-registry"

// registryCreds remembers the credentials of each auth registry by address,
// so that Push can log in to it.
var registryCreds sync.Map // "127.0.0.1:PORT" -> registry.AuthConfig

// Registry starts a Docker registry (distribution, from the Debian package
// docker-registry) on 127.0.0.1 with filesystem storage in a temp dir, waits
// until it answers, stops it at cleanup and returns its address
// "127.0.0.1:PORT". The engine treats 127.0.0.0/8 as an insecure registry,
// so plain HTTP works without daemon configuration. Without the binary the
// test is skipped, or fails under CI.
func Registry(t testing.TB) string {
	t.Helper()
	return startRegistry(t, "")
}

// RegistryWithAuth is Registry with htpasswd (basic) auth for user:pass.
// Push logs in by itself; RegistryAuth gives the credentials to other
// clients.
func RegistryWithAuth(t testing.TB, user, pass string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("htpasswd for %s: %v", user, err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatalf("write htpasswd: %v", err)
	}
	addr := startRegistry(t, file)
	registryCreds.Store(addr, registry.AuthConfig{Username: user, Password: pass, ServerAddress: addr})
	t.Cleanup(func() { registryCreds.Delete(addr) })
	return addr
}

// RegistryAuth returns the encoded X-Registry-Auth value for user:pass at
// addr, as ImagePushOptions.RegistryAuth and ImagePullOptions.RegistryAuth
// take it.
func RegistryAuth(t testing.TB, addr, user, pass string) string {
	t.Helper()
	return encodeAuth(registry.AuthConfig{Username: user, Password: pass, ServerAddress: addr})
}

// encodeAuth encodes an X-Registry-Auth header value: JSON in base64url.
func encodeAuth(c registry.AuthConfig) string {
	b, _ := json.Marshal(c) // strings only: cannot fail
	return base64.URLEncoding.EncodeToString(b)
}

func startRegistry(t testing.TB, htpasswd string) string {
	t.Helper()
	if _, err := os.Stat(registryBinary); err != nil {
		skipOrFail(t, fmt.Errorf("registry binary (apt-get install docker-registry): %w", err))
	}
	// FreePort can race with another process; a lost race shows as an
	// early exit, so retry with a new port.
	var lastErr error
	for range 3 {
		addr, err := tryStartRegistry(t, htpasswd)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("start registry: %v", lastErr)
	return ""
}

func tryStartRegistry(t testing.TB, htpasswd string) (string, error) {
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: moor-test
`, filepath.Join(dir, "data"), addr)
	if htpasswd != "" {
		config += fmt.Sprintf("auth:\n  htpasswd:\n    realm: moor-test\n    path: %s\n", htpasswd)
	}
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return "", fmt.Errorf("write registry config: %w", err)
	}

	var out bytes.Buffer
	cmd := exec.Command(registryBinary, "serve", configPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", registryBinary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		// Any HTTP answer means it is serving (401 with auth).
		if _, _, err := HTTPGet("http://" + addr + "/v2/"); err == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case err := <-exited:
			return "", fmt.Errorf("registry on %s exited: %v\n%s", addr, err, out.String())
		case <-deadline.C:
			stop()
			return "", fmt.Errorf("registry on %s did not answer GET /v2/ within 15s\n%s", addr, out.String())
		case <-tick.C:
		}
	}
}

// Push tags the local image src as REGISTRY/REPOTAG, pushes it (with the
// credentials of a RegistryWithAuth registry), and removes the local tag
// again so that a later pull really pulls. It returns the pushed reference;
// a local tag of it that a test pulls is removed at cleanup.
func Push(t testing.TB, registryAddr, src, repoTag string) string {
	t.Helper()
	cli := Docker(t)
	ctx := t.Context()
	ref := registryAddr + "/" + repoTag
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: ref}); err != nil {
		t.Fatalf("tag %s as %s: %v", src, ref, err)
	}
	t.Cleanup(func() { untag(t, ref) })

	auth := encodeAuth(registry.AuthConfig{}) // anonymous
	if c, ok := registryCreds.Load(registryAddr); ok {
		auth = encodeAuth(c.(registry.AuthConfig))
	}
	if err := pushImage(ctx, cli, ref, auth); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	untag(t, ref)
	return ref
}

func pushImage(ctx context.Context, cli *client.Client, ref, auth string) error {
	resp, err := cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	var log bytes.Buffer
	if err := readJSONStream(resp, &log); err != nil {
		return fmt.Errorf("%w\n%s", err, log.String())
	}
	return nil
}

// Pull pulls ref (with auth, "" for anonymous) and removes the local tag at
// cleanup. It returns the error the engine reports, so a test can assert on
// a refused pull.
func Pull(t testing.TB, ref, auth string) error {
	t.Helper()
	cli := Docker(t)
	if auth == "" {
		auth = encodeAuth(registry.AuthConfig{})
	}
	resp, err := cli.ImagePull(t.Context(), ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer resp.Close()
	t.Cleanup(func() { untag(t, ref) })
	var log bytes.Buffer
	if err := readJSONStream(resp, &log); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

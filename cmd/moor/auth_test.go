package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// TestPrivateRepositories: moor deploys from a repository behind SSH (a
// real sshd with git-shell, a pinned host key) and behind HTTPS-style basic
// auth (git http-backend), with the secrets in files; a host key that is not
// pinned and a wrong password are refused with errors that say so.
func TestPrivateRepositories(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")

	apply := func(stack, repoURL, auth string) (int, string) {
		t.Helper()
		cfg := write("moor.yaml", fmt.Sprintf("state_dir: %s\nlisten: off\nsources:\n  - name: %s\n    repo: %s\n    auth:\n%s",
			t.TempDir(), stack, repoURL, auth))
		var b strings.Builder
		code := run(t.Context(), []string{"apply", "--config", cfg, "--log-level", "warn"}, &b, &b)
		t.Logf("moor apply (%s) -> %d\n%s", repoURL, code, b.String())
		return code, b.String()
	}
	// Each subtest has a repository of its own, holding only its stack.
	commit := func(t *testing.T, stack string) {
		repo := testkit.NewRepo(t)
		repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
		repo.Commit("deploy " + stack)
		os.RemoveAll(bare)
		repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	}

	t.Run("ssh", func(t *testing.T) {
		stack := testkit.StackName(t)
		testkit.CleanupStack(t, stack)
		commit(t, stack)
		sshd := testkit.SSHD(t)
		key := sshd.ClientKeyFile
		unpinned := write("known_hosts_empty", "")
		if code, out := apply(stack, sshd.URL(bare), fmt.Sprintf("      ssh_key_file: %s\n      known_hosts_file: %s\n", key, unpinned)); code == 0 || !strings.Contains(out, "ssh-keyscan") {
			t.Fatalf("an unpinned host key was accepted, or the error does not say how to pin it: %d\n%s", code, out)
		}
		pinned := write("known_hosts", sshd.KnownHostsLine()+"\n")
		if code, out := apply(stack, sshd.URL(bare), fmt.Sprintf("      ssh_key_file: %s\n      known_hosts_file: %s\n", key, pinned)); code != 0 {
			t.Fatalf("deploy over SSH failed: %d\n%s", code, out)
		}
		if ids := containers(t, testkit.Docker(t), stack); ids[stack+"-worker-1"] == "" {
			t.Fatalf("nothing deployed over SSH: %v", ids)
		}
	})
	t.Run("https basic auth", func(t *testing.T) {
		stack := testkit.StackName(t)
		testkit.CleanupStack(t, stack)
		commit(t, stack)
		server := testkit.GitHTTP(t, root, "deploy", "s3cret-token")
		wrong := write("wrong", "not-the-token\n")
		code, out := apply(stack, server.URL("deploy.git"), "      username: deploy\n      password_file: "+wrong+"\n")
		if code == 0 || !strings.Contains(out, "authentication failed") || strings.Contains(out, "not-the-token") {
			t.Fatalf("wrong password: exit %d, want an authentication error without the secret:\n%s", code, out)
		}
		right := write("token", "s3cret-token\n")
		if code, out := apply(stack, server.URL("deploy.git"), "      username: deploy\n      password_file: "+right+"\n"); code != 0 {
			t.Fatalf("deploy over HTTP with a token failed: %d\n%s", code, out)
		}
		if ids := containers(t, testkit.Docker(t), stack); ids[stack+"-worker-1"] == "" {
			t.Fatalf("nothing deployed over HTTP: %v", ids)
		}
	})
}

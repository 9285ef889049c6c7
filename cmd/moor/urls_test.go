package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// noSecretIn fails the test if any file under dir holds secret.
func noSecretIn(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret:\n%s", path, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCredentialsInRepoURL: a repository URL that holds a token, in its
// user part, as a password or in its query, is refused by every command
// and in the config file, with an error that says where credentials go and
// does not repeat it; nothing of it reaches the state dir.
func TestCredentialsInRepoURL(t *testing.T) {
	const token = "glpat-T0KEN"
	for _, tt := range []struct{ name, url string }{
		{"token as user", "https://" + token + "@127.0.0.1:1/ops/deploy.git"},
		{"token as password", "https://oauth2:" + token + "@127.0.0.1:1/ops/deploy.git"},
		{"token in the query", "https://127.0.0.1:1/ops/deploy.git?private_token=" + token},
		{"password of an SSH user", "ssh://git:" + token + "@127.0.0.1:1/ops/deploy.git"},
		{"password of an scp-style SSH user", "git:" + token + "@127.0.0.1:ops/deploy.git"},
	} {
		// The test's name makes its temp dirs' names: not the URL.
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			state := t.TempDir()
			cfg := writeFile(t, "moor.yaml", fmt.Sprintf("state_dir: %s\nsources:\n  - name: prod\n    repo: %s\n", state, url))
			for _, args := range [][]string{
				{"plan", "--repo", url, "--state-dir", state},
				{"apply", "--repo", url, "--state-dir", state},
				{"run", "--repo", url, "--state-dir", state, "--listen", "off"},
				{"apply", "--config", cfg},
			} {
				var b strings.Builder
				code := run(t.Context(), args, &b, &b)
				out := b.String()
				if code == 0 || !strings.Contains(out, "password_file") || !strings.Contains(out, "***") || strings.Contains(out, token) {
					t.Errorf("moor %s: exit %d, want a refusal that says where credentials go and hides the token:\n%s", args[0], code, out)
				}
			}
			noSecretIn(t, state, token)
		})
	}
}

// TestNoCredentialShown: a private repository over HTTP with its token in a
// password_file: neither the output of apply (deployed, then with the
// server gone), nor its log, status, history, or any file of the state dir
// shows the token; and a status file that an older moor wrote with a
// token in its URL is shown redacted.
func TestNoCredentialShown(t *testing.T) {
	testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	const token = "s3cret-T0KEN"
	root := t.TempDir()
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", oneService(img, "1"))
	repo.Commit("private")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, filepath.Join(root, "deploy.git"))
	server := testkit.GitHTTP(t, root, "deploy", token)
	state := t.TempDir()
	secret := writeFile(t, "token", token+"\n")
	cfg := writeFile(t, "moor.yaml", fmt.Sprintf(
		"state_dir: %s\nlisten: off\nsources:\n  - name: %s\n    repo: %s\n    auth:\n      username: deploy\n      password_file: %s\n",
		state, stack, server.URL("deploy.git"), secret))

	var shown strings.Builder
	code, stdout, stderr := runBinary(t, "apply", "--config", cfg)
	if code != 0 {
		t.Fatalf("apply from the private repository: exit %d", code)
	}
	shown.WriteString(stdout + stderr)
	server.Stop()
	repo.Write(stack+"/compose.yaml", oneService(img, "2"))
	repo.Commit("unreachable")
	code, stdout, stderr = runBinary(t, "apply", "--config", cfg)
	if code == 0 || !strings.Contains(stdout+stderr, server.URL("deploy.git")) {
		t.Fatalf("apply with the server gone: exit %d, want an error naming the repository", code)
	}
	shown.WriteString(stdout + stderr)
	m := &moor{t: t, stateDir: state}
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"history"}, {"history", "--json"}} {
		_, out := m.run(args...)
		shown.WriteString(out)
	}
	if strings.Contains(shown.String(), token) {
		t.Errorf("the token is shown:\n%s", &shown)
	}
	noSecretIn(t, state, token)

	// A status file with the token in its URL, as an older moor wrote it.
	path := filepath.Join(state, "sources", stack, "status.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withToken := strings.ReplaceAll(string(b), server.URL("deploy.git"), "https://deploy:"+token+"@git.example.com/deploy.git")
	if err := os.WriteFile(path, []byte(withToken), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		if _, out := m.run(args...); strings.Contains(out, token) || !strings.Contains(out, "https://***@git.example.com/deploy.git") {
			t.Errorf("moor %s shows the URL of an old status file unredacted:\n%s", strings.Join(args, " "), out)
		}
	}
}

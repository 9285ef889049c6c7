package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// signer is an SSH signing key, used through real git (gpg.format=ssh).
type signer struct{ key, pub string }

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	key := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: key, pub: strings.TrimSpace(string(pub))}
}

// commit commits the work tree signed by s; a zero signer commits unsigned.
func (s signer) commit(repo *testkit.Repo, msg string) string {
	if s.key == "" {
		return repo.Commit(msg)
	}
	repo.Git("add", "-A")
	repo.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+s.key, "commit", "--quiet", "-S", "-m", msg)
	return repo.Head()
}

func workerCompose(img, version string) string {
	return fmt.Sprintf("services:\n  worker:\n    image: %s\n    environment:\n      VERSION: %q\n    restart: unless-stopped\n", img, version)
}

// TestSignedCommits: with verify: {mode: head}, only commits signed by a
// trusted key are applied; unsigned, untrusted and tampered commits and a
// move of the branch back to an old signed commit are refused, and nothing
// on the host changes. status and history name the commit and the reason.
func TestSignedCommits(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	alice, mallory := newSigner(t, "alice"), newSigner(t, "mallory")
	dir := t.TempDir()
	signers := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(signers, []byte("alice@example.com "+alice.pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	writeConfig := func(allowRewrite bool) string {
		cfg := filepath.Join(dir, "moor.yaml")
		body := fmt.Sprintf("state_dir: %s\nlisten: off\nsources:\n  - name: %s\n    repo: %s\n    verify:\n      mode: head\n      ssh_allowed_signers: %s\n      allow_history_rewrite: %v\n",
			state, stack, repo.Dir, signers, allowRewrite)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := writeConfig(false)
	m := newMoor(t, repo.Dir, stack)
	m.stateDir = state
	apply := func() (int, string) {
		t.Helper()
		var b strings.Builder
		code := run(t.Context(), []string{"apply", "--config", cfg, "--log-level", "warn"}, &b, &b)
		t.Logf("moor apply --config -> %d\n%s", code, b.String())
		return code, b.String()
	}

	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	good := alice.commit(repo, "v1 signed by alice")
	if code, out := apply(); code != 0 {
		t.Fatalf("a commit signed by a trusted key was not applied: %d\n%s", code, out)
	}
	converged := containers(t, cli, stack)

	refused := func(what, commit string, reasons ...string) {
		t.Helper()
		code, out := apply()
		if code == 0 {
			t.Fatalf("%s: applied\n%s", what, out)
		}
		for _, want := range append([]string{commit}, reasons...) {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output does not say %q:\n%s", what, want, out)
			}
		}
		if got := containers(t, cli, stack); !equalMaps(got, converged) {
			t.Fatalf("%s changed the host: %v -> %v", what, converged, got)
		}
		_, status := m.run("status")
		if !strings.Contains(status, "refused") || !strings.Contains(status, reasons[0]) {
			t.Errorf("%s: status does not say refused and %q:\n%s", what, reasons[0], status)
		}
		_, history := m.run("history", "--stack", "")
		if !strings.Contains(history, reasons[0]) {
			t.Errorf("%s: history does not say %q:\n%s", what, reasons[0], history)
		}
	}

	repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
	unsigned := signer{}.commit(repo, "v2 unsigned")
	refused("an unsigned commit", unsigned, "not signed")

	repo.Write(stack+"/compose.yaml", workerCompose(img, "3"))
	untrusted := mallory.commit(repo, "v3 signed by mallory")
	refused("a commit by an untrusted key", untrusted, "untrusted key")

	// The content of a signed commit changed after signing: same signature,
	// another object.
	repo.Write(stack+"/compose.yaml", workerCompose(img, "4"))
	signed := alice.commit(repo, "v4 signed by alice")
	raw := repo.Git("cat-file", "commit", signed)
	tamper := exec.Command("git", "hash-object", "-t", "commit", "-w", "--stdin")
	tamper.Dir = repo.Dir
	tamper.Stdin = strings.NewReader(strings.Replace(raw, "v4 signed by alice", "v4 signed by alice, then edited", 1) + "\n")
	out, err := tamper.Output()
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.TrimSpace(string(out))
	repo.Git("update-ref", "refs/heads/main", tampered)
	refused("a tampered commit", tampered, "invalid")

	// A validly signed commit that does not descend from the applied one:
	// the branch was moved back.
	repo.Git("reset", "--hard", "--quiet", signed)
	if code, out := apply(); code != 0 {
		t.Fatalf("the signed v4 was not applied: %d\n%s", code, out)
	}
	converged = containers(t, cli, stack)
	repo.Git("reset", "--hard", "--quiet", good)
	refused("a rollback to an old signed commit", good, "history rewritten", signed+" is not an ancestor of "+good)

	// Allowed explicitly, it is applied and the ledger says so.
	cfg = writeConfig(true)
	if code, out := apply(); code != 0 {
		t.Fatalf("allow_history_rewrite: not applied: %d\n%s", code, out)
	}
	_, history := m.run("history", "--stack", "")
	for _, want := range []string{"history rewritten", "signed by"} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}
}

package gitsource_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/verify"
)

// sshSigner makes an ed25519 key with ssh-keygen and returns the path of
// its public key (what git's user.signingkey names) and a verifier that
// trusts it as alice@example.com.
func sshSigner(t *testing.T) (string, *verify.Verifier) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen is needed to sign commits (apt-get install openssh-client): %v", err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	signers := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(signers, append([]byte("alice@example.com "), pub...), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := verify.Load(verify.Policy{SSHAllowedSigners: signers})
	if err != nil {
		t.Fatal(err)
	}
	// ssh-keygen signs with the key file, not with an agent's keys.
	t.Setenv("SSH_AUTH_SOCK", "")
	return key + ".pub", v
}

// signedCommit commits the staged changes signed by git itself.
func signedCommit(r *testkit.Repo, pubKey, msg string) string {
	r.Git("add", "-A")
	r.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+pubKey, "commit", "--quiet", "-S", "-m", msg)
	return r.Head()
}

// TestSnapshotCommitVerifies checks out a commit that real git signed with
// an SSH key and verifies the snapshot's stored commit object, first from a
// fresh checkout and then from the reused snapshot with the origin gone.
func TestSnapshotCommitVerifies(t *testing.T) {
	pub, v := sshSigner(t)
	r := testkit.NewRepo(t)
	r.Write("web/compose.yaml", "services: {web: {image: nginx}}\n")
	signed := signedCommit(r, pub, "signed deploy\n\nwith a body")
	if out := r.Git("cat-file", "commit", signed); !strings.Contains(out, "-----BEGIN SSH SIGNATURE-----") {
		t.Fatalf("test setup: commit is not signed:\n%s", out)
	}
	bare := r.Bare()
	s := newSource(t, bare, "main")

	snap := checkout(t, s)
	assertVerifies(t, v, snap, signed)

	path := strings.TrimPrefix(bare, "file://")
	if err := os.Rename(path, path+".gone"); err != nil {
		t.Fatal(err)
	}
	again, err := s.Checkout(t.Context(), snap.Revision)
	if err != nil {
		t.Fatalf("reuse: %v", err)
	}
	assertVerifies(t, v, again, signed)
	if err := os.Rename(path+".gone", path); err != nil {
		t.Fatal(err)
	}

	// An unsigned commit on top: the verifier sees it for what it is.
	r.Write("web/compose.yaml", "services: {web: {image: caddy}}\n")
	unsigned := r.Commit("unsigned")
	r.Push()
	c, err := checkout(t, s).Commit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Commit(c); !errors.Is(err, verify.ErrUnsigned) || !strings.Contains(err.Error(), unsigned) {
		t.Errorf("unsigned commit: verify err = %v, want ErrUnsigned naming %s", err, unsigned)
	}
}

func assertVerifies(t *testing.T, v *verify.Verifier, snap *gitsource.Snapshot, want string) {
	t.Helper()
	c, err := snap.Commit()
	if err != nil {
		t.Fatalf("Snapshot.Commit: %v", err)
	}
	if c.Hash.String() != want || c.Message != "signed deploy\n\nwith a body\n" {
		t.Errorf("Snapshot.Commit = %s %q, want %s", c.Hash, c.Message, want)
	}
	res, err := v.Commit(c)
	if err != nil {
		t.Fatalf("verify the snapshot's commit: %v", err)
	}
	if res.Format != verify.FormatSSH || res.Identity != "alice@example.com" {
		t.Errorf("verify = %+v, want ssh signer alice@example.com", res)
	}
}

func TestSnapshotCommitWorkingCopy(t *testing.T) {
	snap, err := gitsource.WorkingCopy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := snap.Commit(); err == nil || !strings.Contains(err.Error(), "working copy") {
		t.Errorf("Commit of a working copy = %v, %v; want an error", c, err)
	}
}

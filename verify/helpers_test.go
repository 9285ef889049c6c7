package verify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The tests sign with the real tools, so that what is verified is what git
// writes, not what this package's author thinks git writes.

// run runs a command with env added to a minimal environment and returns
// its trimmed stdout.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is needed to make real signatures (apt-get install git gnupg openssh-client): %v", name, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LANG=C"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// gpgHome is a throwaway GnuPG home holding secret keys.
type gpgHome struct {
	dir string
}

func newGPGHome(t *testing.T) *gpgHome {
	t.Helper()
	// GnuPG puts the agent's socket in the home when /run/user is absent;
	// a short path keeps it under the 108-byte socket path limit.
	dir, err := os.MkdirTemp("", "moor-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	g := &gpgHome{dir: dir}
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = append(os.Environ(), g.env()...)
		_ = kill.Run()
		os.RemoveAll(dir)
	})
	return g
}

func (g *gpgHome) env() []string { return []string{"GNUPGHOME=" + g.dir, "HOME=" + g.dir} }

// newKey makes an ed25519 signing key for uid and returns its fingerprint.
func (g *gpgHome) newKey(t *testing.T, uid string) string {
	t.Helper()
	run(t, g.dir, g.env(), "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", uid, "ed25519", "sign", "never")
	out := run(t, g.dir, g.env(), "gpg", "--batch", "--with-colons", "--list-keys", uid)
	for line := range strings.Lines(out) {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	t.Fatalf("no fingerprint for %s in:\n%s", uid, out)
	return ""
}

// exportPublic writes uid's armored public key to a file and returns its path.
func (g *gpgHome) exportPublic(t *testing.T, uid string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.asc")
	run(t, g.dir, g.env(), "gpg", "--batch", "--armor", "--output", path, "--export", uid)
	return path
}

// sshKey makes an ed25519 key pair and returns the public key path and its
// authorized_keys line.
func sshKey(t *testing.T, comment string) (pubPath, pubLine string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_ed25519")
	run(t, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path)
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return path + ".pub", strings.TrimSpace(string(pub))
}

// sshFingerprint returns ssh-keygen's own SHA256 fingerprint of a key.
func sshFingerprint(t *testing.T, pubPath string) string {
	t.Helper()
	return strings.Fields(run(t, "", nil, "ssh-keygen", "-l", "-E", "sha256", "-f", pubPath))[1]
}

// testRepo is a git repository driven by the git CLI and read by go-git.
type testRepo struct {
	dir string
	env []string
	n   int
}

func newTestRepo(t *testing.T, extraEnv ...string) *testRepo {
	t.Helper()
	r := &testRepo{
		dir: t.TempDir(),
		env: append([]string{
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com",
			"GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com",
		}, extraEnv...),
	}
	run(t, r.dir, r.env, "git", "init", "-q", "-b", "main")
	return r
}

// commit writes a file and commits it with the given git -c options (none
// for an unsigned commit), returning the commit hash.
func (r *testRepo) commit(t *testing.T, config ...string) plumbing.Hash {
	t.Helper()
	r.n++
	name := filepath.Join(r.dir, "compose.yaml")
	content := "services:\n  web:\n    image: nginx:1." + strings.Repeat("1", r.n) + "\n"
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, r.dir, r.env, "git", "add", "compose.yaml")
	args := []string{}
	for _, c := range config {
		args = append(args, "-c", c)
	}
	args = append(args, "commit", "-q", "-m", "deploy nginx")
	if len(config) > 0 {
		args = append(args, "-S")
	}
	run(t, r.dir, r.env, "git", args...)
	return plumbing.NewHash(run(t, r.dir, r.env, "git", "rev-parse", "HEAD"))
}

// object opens the commit with go-git, as moor's gitsource does.
func (r *testRepo) object(t *testing.T, h plumbing.Hash) *object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forge writes a new commit object whose raw bytes are the signed commit's
// with edit applied, signature headers kept, and opens it with go-git. This
// is what an attacker with push access but no key can do.
func (r *testRepo) forge(t *testing.T, signed plumbing.Hash, edit func(raw string) string) *object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.Storer.EncodedObject(plumbing.CommitObject, signed)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := src.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(rd); err != nil {
		t.Fatal(err)
	}
	rd.Close()
	forged := edit(raw.String())
	if forged == raw.String() {
		t.Fatal("forge: edit changed nothing")
	}
	obj := repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.CommitObject)
	w, err := obj.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(forged)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

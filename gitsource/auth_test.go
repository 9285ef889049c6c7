package gitsource_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/internal/testkit"
)

// originContent is what newOrigin commits; a checkout must hold it.
const originContent = "services: {web: {image: nginx}}\n"

// bareOrigin returns the path of a bare repository holding one commit on
// main, and that commit.
func bareOrigin(t *testing.T) (string, string) {
	t.Helper()
	r, first := newOrigin(t)
	return strings.TrimPrefix(r.Bare(), "file://"), first
}

// writeFile writes content to a new file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// method is Credentials.Method that fails the test on error.
func method(t *testing.T, c gitsource.Credentials, url string, log *zap.Logger) transport.AuthMethod {
	t.Helper()
	m, err := c.Method(url, log)
	if err != nil {
		t.Fatalf("Method(%s): %v", url, err)
	}
	return m
}

// syncOnce resolves main of url and checks it out, as a controller's sync
// does: two connections to the server.
func syncOnce(t *testing.T, url string, auth transport.AuthMethod) (*gitsource.Snapshot, error) {
	t.Helper()
	s := newSource(t, url, "main")
	s.Auth = auth
	s.Timeout = 30 * time.Second
	rev, err := s.Resolve(t.Context())
	if err != nil {
		return nil, err
	}
	return s.Checkout(t.Context(), rev)
}

// mustSync is syncOnce that fails the test on error and checks that the
// snapshot is commit want with the origin's files.
func mustSync(t *testing.T, url string, auth transport.AuthMethod, want string) {
	t.Helper()
	snap, err := syncOnce(t, url, auth)
	if err != nil {
		t.Fatalf("sync %s: %v", url, err)
	}
	if snap.Revision.Commit != want {
		t.Errorf("checked out %s, want commit %s", snap.Revision, want)
	}
	if got := files(t, snap.Dir)["web/compose.yaml"]; got != originContent {
		t.Errorf("snapshot's web/compose.yaml = %q, want %q", got, originContent)
	}
}

// assertMentions fails unless err's text holds every one of want.
func assertMentions(t *testing.T, err error, want ...string) {
	t.Helper()
	t.Logf("error: %v", err) // shown with -v: how it reads to an operator
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// assertSecretFree fails if any secret shows in s.
func assertSecretFree(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the secret %q:\n%s", what, secret, s)
		}
	}
}

func TestHTTPAuth(t *testing.T) {
	dir, first := bareOrigin(t)
	root, name := filepath.Split(dir)
	const user, pass, wrong = "deploy", "s3cret-token-1234", "wrong-password-5678"
	url := testkit.GitHTTP(t, root, user, pass).URL(name)
	passFile := writeFile(t, "token", pass+"\n")

	t.Run("password_file", func(t *testing.T) {
		m := method(t, gitsource.Credentials{Username: user, PasswordFile: passFile}, url, nil)
		mustSync(t, url, m, first)
		printed := fmt.Sprintf("%v %+v %#v %s", m, m, m, m)
		assertSecretFree(t, "the auth method printed", printed, pass)
		if !strings.Contains(printed, passFile) {
			t.Errorf("the auth method printed does not say where the password came from: %s", printed)
		}
	})
	t.Run("password_env", func(t *testing.T) {
		t.Setenv("MOOR_TEST_GIT_TOKEN", pass)
		m := method(t, gitsource.Credentials{Username: user, PasswordEnv: "MOOR_TEST_GIT_TOKEN"}, url, nil)
		mustSync(t, url, m, first)
	})
	t.Run("wrong password", func(t *testing.T) {
		m := method(t, gitsource.Credentials{Username: user, PasswordFile: writeFile(t, "wrong", wrong)}, url, nil)
		_, err := syncOnce(t, url, m)
		if !errors.Is(err, gitsource.ErrAuth) || errors.Is(err, gitsource.ErrUnreachable) {
			t.Fatalf("err = %v, want ErrAuth only", err)
		}
		assertMentions(t, err, url, "authentication")
		assertSecretFree(t, "the error", err.Error(), pass, wrong)
	})
	t.Run("no credentials", func(t *testing.T) {
		m := method(t, gitsource.Credentials{}, url, nil)
		if m != nil {
			t.Fatalf("Method without credentials = %v, want nil", m)
		}
		_, err := syncOnce(t, url, nil)
		if !errors.Is(err, gitsource.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		assertMentions(t, err, url)
	})
	t.Run("server without auth", func(t *testing.T) {
		open := testkit.GitHTTP(t, root, "", "")
		mustSync(t, open.URL(name), nil, first)
	})
}

// TestHTTPServerDownAndBack: a stopped server is unreachable (transient),
// and the same URL works again once it is back.
func TestHTTPServerDownAndBack(t *testing.T) {
	dir, first := bareOrigin(t)
	root, name := filepath.Split(dir)
	srv := testkit.GitHTTP(t, root, "", "")
	url := srv.URL(name)
	mustSync(t, url, nil, first)

	srv.Stop()
	_, err := newSource(t, url, "main").Resolve(t.Context())
	if !errors.Is(err, gitsource.ErrUnreachable) {
		t.Fatalf("server down: err = %v, want ErrUnreachable", err)
	}
	srv.Start()
	if got := srv.URL(name); got != url {
		t.Fatalf("URL after restart = %s, want %s", got, url)
	}
	mustSync(t, url, nil, first)
}

// sshOrigin is an sshd serving a bare repository.
type sshOrigin struct {
	srv   *testkit.SSHServer
	url   string
	first string // the commit on main
}

func newSSHOrigin(t *testing.T) *sshOrigin {
	t.Helper()
	dir, first := bareOrigin(t)
	srv := testkit.SSHD(t)
	return &sshOrigin{srv: srv, url: srv.URL(dir), first: first}
}

// creds returns credentials with the server's client key and known_hosts.
func (o *sshOrigin) creds(knownHosts string) gitsource.Credentials {
	return gitsource.Credentials{SSHKeyFile: o.srv.ClientKeyFile, KnownHostsFile: knownHosts}
}

func (o *sshOrigin) fingerprint() string { return ssh.FingerprintSHA256(o.srv.HostKey) }

// otherKey returns a public key that is not the server's.
func otherKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSSHPinnedHostKey(t *testing.T) {
	o := newSSHOrigin(t)
	other := knownhosts.Line([]string{"git.example.com"}, otherKey(t))
	kh := writeFile(t, "known_hosts", "# pinned\n"+other+"\n"+o.srv.KnownHostsLine()+"\n")
	m := method(t, o.creds(kh), o.url, nil)
	mustSync(t, o.url, m, o.first)
	if printed := fmt.Sprintf("%v %#v", m, m); !strings.Contains(printed, o.srv.ClientKeyFile) || !strings.Contains(printed, "user "+o.srv.User) {
		t.Errorf("the auth method prints %q, want the key file and the user", printed)
	}
}

// TestSSHSeveralHostKeys: a server with ECDSA and ed25519 host keys, of
// which known_hosts pins one, is trusted. The Go client prefers ECDSA unless
// told otherwise, so pinning only the ed25519 key (as Git hosts document
// theirs) works only because Method offers the pinned kind first.
func TestSSHSeveralHostKeys(t *testing.T) {
	dir, first := bareOrigin(t)
	srv := testkit.SSHD(t, testkit.WithECDSAHostKey())
	url := srv.URL(dir)
	for _, key := range srv.HostKeys {
		t.Run(key.Type(), func(t *testing.T) {
			kh := writeFile(t, "known_hosts", knownhosts.Line([]string{srv.Addr()}, key)+"\n")
			c := gitsource.Credentials{SSHKeyFile: srv.ClientKeyFile, KnownHostsFile: kh}
			mustSync(t, url, method(t, c, url, nil), first)
		})
	}
}

func TestSSHUnknownHostKey(t *testing.T) {
	o := newSSHOrigin(t)
	for _, tt := range []struct {
		name    string
		content *string // nil: no file
		extra   string  // what else the error says
	}{
		{"missing file", nil, "does not exist"},
		{"empty file", ptr(""), "is not pinned"},
		{"other host only", ptr(knownhosts.Line([]string{"git.example.com"}, o.srv.HostKey) + "\n"), "is not pinned"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if tt.content != nil {
				kh = writeFile(t, "known_hosts", *tt.content)
			}
			_, err := syncOnce(t, o.url, method(t, o.creds(kh), o.url, nil))
			if !errors.Is(err, gitsource.ErrHostKey) || !errors.Is(err, gitsource.ErrAuth) {
				t.Fatalf("err = %v, want ErrHostKey and ErrAuth", err)
			}
			assertMentions(t, err, tt.extra, o.url, o.srv.Addr(), kh, "ssh-ed25519", o.fingerprint(),
				fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> %s", o.srv.Port, kh), o.srv.KnownHostsLine())
			if tt.content == nil {
				if _, err := os.Stat(kh); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("known_hosts file was created without accept_new_host_keys (stat: %v)", err)
				}
			} else if got := readFile(t, kh); got != *tt.content {
				t.Errorf("known_hosts changed without accept_new_host_keys:\n%s", got)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSSHChangedHostKeyRefused(t *testing.T) {
	o := newSSHOrigin(t)
	old := otherKey(t)
	content := knownhosts.Line([]string{o.srv.Addr()}, old) + "\n"
	kh := writeFile(t, "known_hosts", content)
	core, logs := observer.New(zapcore.DebugLevel)
	c := o.creds(kh)
	c.AcceptNewHostKeys = true

	_, err := syncOnce(t, o.url, method(t, c, o.url, zap.New(core)))
	if !errors.Is(err, gitsource.ErrHostKey) {
		t.Fatalf("err = %v, want ErrHostKey", err)
	}
	assertMentions(t, err, "does not match", o.srv.Addr(), o.fingerprint(),
		kh+":1 pins ssh-ed25519 "+ssh.FingerprintSHA256(old), "ssh-keygen -R")
	if got := readFile(t, kh); got != content {
		t.Errorf("a changed key was recorded:\n%s", got)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %d entries, want none: %v", logs.Len(), logs.All())
	}
}

func TestSSHAcceptNewHostKey(t *testing.T) {
	o := newSSHOrigin(t)
	otherLine := knownhosts.Line([]string{"git.example.com"}, otherKey(t))
	for _, tt := range []struct {
		name   string
		before *string // nil: no file, nor its directory
		after  string
	}{
		{"missing file", nil, o.srv.KnownHostsLine() + "\n"},
		{"empty file", ptr(""), o.srv.KnownHostsLine() + "\n"},
		{"no final newline", ptr(otherLine), otherLine + "\n" + o.srv.KnownHostsLine() + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "ssh", "known_hosts")
			if tt.before != nil {
				kh = writeFile(t, "known_hosts", *tt.before)
			}
			core, logs := observer.New(zapcore.DebugLevel)
			c := o.creds(kh)
			c.AcceptNewHostKeys = true
			// Resolve and Checkout connect twice; the key is recorded once.
			mustSync(t, o.url, method(t, c, o.url, zap.New(core)), o.first)
			if got := readFile(t, kh); got != tt.after {
				t.Errorf("known_hosts after the first sync:\n%s\nwant:\n%s", got, tt.after)
			}
			entries := logs.All()
			if len(entries) != 1 || entries[0].Level != zapcore.WarnLevel {
				t.Fatalf("log entries = %v, want one warning", entries)
			}
			fields := entries[0].ContextMap()
			if fields["fingerprint"] != o.fingerprint() || fields["host"] != o.srv.Addr() || fields["known_hosts_file"] != kh {
				t.Errorf("warning fields = %v, want the host, fingerprint and file", fields)
			}

			// Pinned now: it works without accept_new_host_keys.
			mustSync(t, o.url, method(t, o.creds(kh), o.url, nil), o.first)
			if got := readFile(t, kh); got != tt.after {
				t.Errorf("known_hosts changed on the second sync:\n%s", got)
			}
		})
	}
}

func TestSSHWrongClientKey(t *testing.T) {
	o := newSSHOrigin(t)
	kh := writeFile(t, "known_hosts", o.srv.KnownHostsLine()+"\n")
	key, pub := testkit.NewSSHKey(t)
	c := o.creds(kh)
	c.SSHKeyFile = key
	_, err := syncOnce(t, o.url, method(t, c, o.url, nil))
	if !errors.Is(err, gitsource.ErrAuth) || errors.Is(err, gitsource.ErrHostKey) || errors.Is(err, gitsource.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrAuth only", err)
	}
	assertMentions(t, err, o.url, "refused", key, ssh.FingerprintSHA256(pub), "user "+o.srv.User)
}

func TestSSHEncryptedKey(t *testing.T) {
	o := newSSHOrigin(t)
	kh := writeFile(t, "known_hosts", o.srv.KnownHostsLine()+"\n")
	const passphrase, wrong = "correct horse battery", "wrong staple"
	c := o.creds(kh)
	c.SSHKeyFile = writeFile(t, "id_encrypted", readFile(t, o.srv.ClientKeyFile))
	// ssh-keygen (openssh-client, which sshd's package needs) encrypts with
	// one KDF round: x/crypto's MarshalPrivateKeyWithPassphrase uses 16,
	// which take seconds to undo under the race detector.
	out, err := exec.Command("ssh-keygen", "-q", "-p", "-a", "1", "-P", "", "-N", passphrase, "-f", c.SSHKeyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("encrypt the client key: ssh-keygen: %v\n%s", err, out)
	}
	if _, err := ssh.ParsePrivateKey([]byte(readFile(t, c.SSHKeyFile))); !errors.As(err, new(*ssh.PassphraseMissingError)) {
		t.Fatalf("test setup: the key is not encrypted (parse: %v)", err)
	}

	c.SSHKeyPassphraseFile = writeFile(t, "passphrase", passphrase+"\n")
	mustSync(t, o.url, method(t, c, o.url, nil), o.first)

	c.SSHKeyPassphraseFile = ""
	_, err = c.Method(o.url, nil)
	if !errors.Is(err, gitsource.ErrAuth) {
		t.Fatalf("no passphrase: err = %v, want ErrAuth", err)
	}
	assertMentions(t, err, c.SSHKeyFile, "is encrypted", "ssh_key_passphrase_file")

	c.SSHKeyPassphraseFile = writeFile(t, "wrong", wrong)
	_, err = c.Method(o.url, nil)
	if err == nil {
		t.Fatal("wrong passphrase: Method succeeded")
	}
	assertMentions(t, err, c.SSHKeyFile, c.SSHKeyPassphraseFile)
	assertSecretFree(t, "the error", err.Error(), passphrase, wrong)
}

// TestCredentialsErrors: settings that cannot work are refused when the
// auth method is built, naming the setting and the file or variable.
func TestCredentialsErrors(t *testing.T) {
	key, _ := testkit.NewSSHKey(t)
	kh := writeFile(t, "known_hosts", "")
	pass := writeFile(t, "pass", "p4ssw0rd-value\n")
	missing := filepath.Join(t.TempDir(), "missing")
	const https, sshURL = "https://git.example.com/ops/deploy.git", "git@git.example.com:ops/deploy.git"
	for _, tt := range []struct {
		name string
		url  string
		c    gitsource.Credentials
		want []string
	}{
		{"https with an ssh key", https, gitsource.Credentials{Username: "u", PasswordFile: pass, SSHKeyFile: key}, []string{https, "ssh_key_file", "not HTTP"}},
		{"https with known_hosts", https, gitsource.Credentials{KnownHostsFile: kh}, []string{"known_hosts_file"}},
		{"password_file and password_env", https, gitsource.Credentials{Username: "u", PasswordFile: pass, PasswordEnv: "X"}, []string{"password_file and password_env exclude each other"}},
		{"password without username", https, gitsource.Credentials{PasswordFile: pass}, []string{"username is missing"}},
		{"username without password", https, gitsource.Credentials{Username: "u"}, []string{"username u has no password"}},
		{"missing password_file", https, gitsource.Credentials{Username: "u", PasswordFile: missing}, []string{"password_file", missing, "no such file"}},
		{"empty password_file", https, gitsource.Credentials{Username: "u", PasswordFile: kh}, []string{"password_file", kh, "is empty"}},
		{"unset password_env", https, gitsource.Credentials{Username: "u", PasswordEnv: "MOOR_TEST_UNSET_VARIABLE"}, []string{"password_env", "MOOR_TEST_UNSET_VARIABLE", "not set"}},
		{"password in the URL", "https://u:hunter2-in-url@git.example.com/r.git", gitsource.Credentials{}, []string{"holds a password", "git.example.com"}},
		{"ssh with a username", sshURL, gitsource.Credentials{Username: "u", SSHKeyFile: key, KnownHostsFile: kh}, []string{sshURL, "username", "SSH user comes from the URL"}},
		{"ssh with a password", sshURL, gitsource.Credentials{PasswordFile: pass, SSHKeyFile: key, KnownHostsFile: kh}, []string{"password_file", "SSH takes ssh_key_file"}},
		{"ssh without credentials", sshURL, gitsource.Credentials{}, []string{"ssh_key_file is missing"}},
		{"ssh without known_hosts", sshURL, gitsource.Credentials{SSHKeyFile: key}, []string{"known_hosts_file is missing", "always checked"}},
		{"ssh_key_file missing", sshURL, gitsource.Credentials{SSHKeyFile: missing, KnownHostsFile: kh}, []string{"ssh_key_file", missing}},
		{"ssh_key_file not a key", sshURL, gitsource.Credentials{SSHKeyFile: pass, KnownHostsFile: kh}, []string{"ssh_key_file " + pass}},
		{"malformed known_hosts", sshURL, gitsource.Credentials{SSHKeyFile: key, KnownHostsFile: pass}, []string{"known_hosts_file", pass + ":1"}},
		{"local path with credentials", "/srv/deploy.git", gitsource.Credentials{Username: "u", PasswordFile: pass}, []string{"file repository takes no credentials"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.c.Method(tt.url, nil)
			if err == nil {
				t.Fatalf("Method = %v, want an error", m)
			}
			if !errors.Is(err, gitsource.ErrAuth) {
				t.Errorf("err = %v, want ErrAuth", err)
			}
			assertMentions(t, err, tt.want...)
			assertSecretFree(t, "the error", err.Error(), "p4ssw0rd-value", "hunter2-in-url")
		})
	}

	for _, url := range []string{"/srv/deploy.git", "file:///srv/deploy.git", "https://git.example.com/r.git"} {
		if m, err := (gitsource.Credentials{}).Method(url, nil); m != nil || err != nil {
			t.Errorf("Method(%s) without credentials = %v, %v; want nil, nil", url, m, err)
		}
	}
}

// TestSSHClientConfig checks what Method sets up without a server: the
// user from the URL, and the pinned key's algorithm offered first (x/crypto
// prefers ECDSA otherwise, which a server with both keys would then show).
func TestSSHClientConfig(t *testing.T) {
	key, _ := testkit.NewSSHKey(t)
	kh := writeFile(t, "known_hosts", knownhosts.Line([]string{"git.example.com"}, otherKey(t))+"\n")
	for _, tt := range []struct {
		url, user, firstAlgo string
	}{
		{"alice@git.example.com:ops/deploy.git", "alice", ssh.KeyAlgoED25519},
		{"ssh://bob@git.example.com:2222/ops/deploy.git", "bob", ""}, // port 2222 is not pinned
		{"ssh://git.example.com/ops/deploy.git", "git", ssh.KeyAlgoED25519},
	} {
		m := method(t, gitsource.Credentials{SSHKeyFile: key, KnownHostsFile: kh}, tt.url, nil)
		cfg, err := m.(gitssh.AuthMethod).ClientConfig()
		if err != nil {
			t.Fatalf("%s: ClientConfig: %v", tt.url, err)
		}
		if cfg.User != tt.user {
			t.Errorf("%s: user %q, want %q", tt.url, cfg.User, tt.user)
		}
		first := ""
		if len(cfg.HostKeyAlgorithms) > 0 {
			first = cfg.HostKeyAlgorithms[0]
		}
		if first != tt.firstAlgo {
			t.Errorf("%s: first host key algorithm %q, want %q (all: %v)", tt.url, first, tt.firstAlgo, cfg.HostKeyAlgorithms)
		}
	}
}

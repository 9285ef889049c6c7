package testkit

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer is an OpenSSH sshd on 127.0.0.1 that serves git (through
// git-shell) to one client key, as the user the tests run as.
type SSHServer struct {
	// Host is "127.0.0.1" and Port the port sshd listens on.
	Host string
	Port int
	// User is the user sshd logs the client in as: the current user (a
	// non-root sshd can log in no one else).
	User string
	// HostKey is the server's ed25519 host key, made for this server.
	HostKey ssh.PublicKey
	// HostKeys are all its host keys: HostKey, then the ECDSA one of
	// WithECDSAHostKey.
	HostKeys []ssh.PublicKey
	// ClientKeyFile is an unencrypted OpenSSH private key that the server
	// accepts; ClientKey is its public half.
	ClientKeyFile string
	ClientKey     ssh.PublicKey
}

// URL returns the ssh:// URL of the repository at dir (an absolute path;
// a "file://" prefix, as Repo.Bare gives, is dropped).
func (s *SSHServer) URL(dir string) string {
	dir = strings.TrimPrefix(dir, "file://")
	return fmt.Sprintf("ssh://%s@%s:%d%s", s.User, s.Host, s.Port, filepath.ToSlash(dir))
}

// Addr returns "127.0.0.1:PORT".
func (s *SSHServer) Addr() string { return net.JoinHostPort(s.Host, fmt.Sprint(s.Port)) }

// KnownHostsLine returns the known_hosts line that pins the server's host
// key: "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func (s *SSHServer) KnownHostsLine() string {
	return knownhosts.Line([]string{s.Addr()}, s.HostKey)
}

// sshdPaths are where Debian's openssh-server puts sshd; PATH often lacks
// /usr/sbin for non-root users.
var sshdPaths = []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd"}

func sshdBinary() (string, error) {
	if p, err := exec.LookPath("sshd"); err == nil {
		return filepath.Abs(p) // sshd re-executes itself: it needs an absolute path
	}
	for _, p := range sshdPaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("sshd not found in PATH or %s (apt-get install openssh-server)", strings.Join(sshdPaths, ", "))
}

// SSHOption changes the server SSHD starts.
type SSHOption func(*sshOptions)

type sshOptions struct{ ecdsa bool }

// WithECDSAHostKey gives the server an ECDSA P-256 host key besides its
// ed25519 one, as real servers have several kinds. A Go client that is not
// told which kind to expect picks ECDSA first.
func WithECDSAHostKey() SSHOption { return func(o *sshOptions) { o.ecdsa = true } }

// SSHD starts OpenSSH's sshd in the foreground (sshd -D -e) on a free port
// of 127.0.0.1 with host keys of its own (ed25519; ECDSA too with
// WithECDSAHostKey), public key authentication only,
// and an authorized_keys that admits ClientKeyFile and runs every command
// through git-shell, so the client can fetch any repository by absolute
// path and do nothing else. It waits until sshd greets, kills it at cleanup
// and logs its output if the test failed. Run as root it allows root to log
// in with a key. Without sshd or git-shell the test is skipped, or fails
// under CI.
func SSHD(t testing.TB, opts ...SSHOption) *SSHServer {
	t.Helper()
	var o sshOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := sshdBinary()
	if err != nil {
		skipOrFail(t, err)
	}
	if _, err := exec.LookPath("git-shell"); err != nil {
		skipOrFail(t, fmt.Errorf("git-shell (package git): %w", err))
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshd: current user: %v", err)
	}
	if u.Uid == "0" {
		// sshd as root insists on its privilege separation directory,
		// which only the init script creates.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostPub := writeKey(t, filepath.Join(dir, "host_ed25519"), newED25519)
	hostKeys := []ssh.PublicKey{hostPub}
	hostKeyFiles := []string{filepath.Join(dir, "host_ed25519")}
	if o.ecdsa {
		hostKeyFiles = append(hostKeyFiles, filepath.Join(dir, "host_ecdsa"))
		hostKeys = append(hostKeys, writeKey(t, hostKeyFiles[1], newECDSA))
	}
	clientFile, clientPub := NewSSHKey(t)
	// After git-shell, the command waits for the client to close its input
	// before the channel closes. go-git v5 fails a fetch with "closing
	// input: EOF" when the server closes first, a race (go-git issue 1685)
	// that these tests, about moor's auth, must not inherit.
	authorized := `restrict,command="git-shell -c \"$SSH_ORIGINAL_COMMAND\"; s=$?; cat >/dev/null; exit $s" ` +
		string(ssh.MarshalAuthorizedKey(clientPub))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(authorized), 0o600); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	s := &SSHServer{Host: "127.0.0.1", User: u.Username, HostKey: hostPub, HostKeys: hostKeys, ClientKeyFile: clientFile, ClientKey: clientPub}

	// FreePort can race with another process; a lost race shows as an
	// early exit, so retry with a new port.
	var lastErr error
	for range 3 {
		s.Port = FreePort(t)
		if lastErr = startSSHD(t, bin, dir, hostKeyFiles, s); lastErr == nil {
			return s
		}
	}
	t.Fatalf("start sshd: %v", lastErr)
	return nil
}

func startSSHD(t testing.TB, bin, dir string, hostKeyFiles []string, s *SSHServer) error {
	var config strings.Builder
	for _, f := range hostKeyFiles {
		fmt.Fprintf(&config, "HostKey %s\n", f)
	}
	// SetEnv SHLVL=1: bash, the usual login shell, reads ~/.bashrc for a
	// command over SSH unless it looks nested; a slow or chatty .bashrc
	// on the machine would otherwise slow down or break every fetch.
	fmt.Fprintf(&config, `ListenAddress %s
PidFile none
AuthorizedKeysFile %s
AllowUsers %s
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
PermitTTY no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
LogLevel VERBOSE
SetEnv SHLVL=1
`, s.Addr(), filepath.Join(dir, "authorized_keys"), s.User)
	configPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configPath, []byte(config.String()), 0o600); err != nil {
		return err
	}

	out := &lockedBuffer{}
	cmd := exec.Command(bin, "-D", "-e", "-f", configPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if sshGreets(s.Addr()) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("sshd on %s said:\n%s", s.Addr(), out.String())
				}
			})
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("sshd on %s exited: %v\n%s", s.Addr(), err, out.String())
		case <-deadline.C:
			stop()
			return fmt.Errorf("sshd on %s did not greet within 15s\n%s", s.Addr(), out.String())
		case <-tick.C:
		}
	}
}

// sshGreets reports whether an SSH server answers on addr with its
// version line.
func sshGreets(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// NewSSHKey writes a new unencrypted ed25519 private key (OpenSSH format,
// mode 0600) into a temp dir and returns its path and public key.
func NewSSHKey(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_ed25519")
	return path, writeKey(t, path, newED25519)
}

func newED25519() (crypto.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

func newECDSA() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// writeKey writes a new private key made by gen to path (OpenSSH format,
// mode 0600) and returns its public key.
func writeKey(t testing.TB, path string, gen func() (crypto.Signer, error)) ssh.PublicKey {
	t.Helper()
	priv, err := gen()
	if err != nil {
		t.Fatalf("generate ssh key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "moor-test")
	if err != nil {
		t.Fatalf("marshal ssh key: %v", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("write ssh key: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatalf("ssh public key: %v", err)
	}
	return sshPub
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package gitsource

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/moor-dev/moor/repourl"
)

// ErrHostKey: the SSH server's host key is not pinned in the known_hosts
// file, differs from the pinned one, is revoked, or the file cannot be read.
// Stalled until the operator pins the key. Errors of Resolve and Checkout
// that wrap it wrap ErrAuth as well (the server failed to authenticate).
var ErrHostKey = errors.New("SSH host key not trusted")

// Credentials say how to authenticate to a source's repository. They hold
// file paths and the name of an environment variable, never a secret, so
// printing them reveals none; Method reads the secrets. The fields match
// config.Auth one for one, so that a config.Auth converts with
// Credentials(auth).
//
// HTTP(S) takes Username and a password (a token is a password) from
// PasswordFile or the environment variable PasswordEnv. SSH takes the
// private key in SSHKeyFile (OpenSSH or PEM; encrypted ones with the
// passphrase in SSHKeyPassphraseFile) and checks the server's host key
// against KnownHostsFile, always. With AcceptNewHostKeys, the key of a host
// that the file does not list yet is recorded into it (the file is created
// if missing) and logged as a warning; a key that differs from a recorded
// one is refused all the same.
type Credentials struct {
	Username             string
	PasswordFile         string
	PasswordEnv          string
	SSHKeyFile           string
	SSHKeyPassphraseFile string
	KnownHostsFile       string
	AcceptNewHostKeys    bool
}

// DefaultSSHUser is the SSH user of a URL that names none ("host:path",
// "ssh://host/path"): the one every Git host uses.
const DefaultSSHUser = gitssh.DefaultUsername

// Method returns the auth method for the repository at url, to be set as
// Source.Auth: nil (and no error) for a local, file:// or git:// repository
// with no credentials, and for an HTTP(S) one without any; HTTP basic auth;
// or SSH public keys with the host key pinned in KnownHostsFile. An SSH URL
// always needs SSHKeyFile and KnownHostsFile. The SSH user is the URL's
// ("git@host:path", "ssh://git@host/path"), else DefaultSSHUser.
//
// Secrets are read now: call Method again to pick up a rotated password or
// key. Errors name the setting and the file or variable at fault and wrap
// ErrAuth (like a rejected password, they wait for the operator); they never
// hold a secret. log receives the warning of a recorded host key; nil logs
// nothing.
func (c Credentials) Method(url string, log *zap.Logger) (transport.AuthMethod, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := repourl.Check(url); err != nil {
		return nil, fmt.Errorf("auth for %s: %w: %w", repourl.Redact(url), ErrAuth, err)
	}
	ep, err := Endpoint(url)
	if err != nil {
		return nil, fmt.Errorf("auth for %s: %w: %w", repourl.Redact(url), ErrAuth, err)
	}
	var m transport.AuthMethod
	switch {
	case ep.Protocol == "http" || ep.Protocol == "https":
		m, err = c.http()
	case ep.Protocol == "ssh":
		m, err = c.ssh(ep, log)
	default:
		if c != (Credentials{}) {
			err = fmt.Errorf("a %s repository takes no credentials", ep.Protocol)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auth for %s: %w: %w", repourl.Redact(url), ErrAuth, err)
	}
	return m, nil
}

func (c Credentials) hasSSH() bool {
	return c.SSHKeyFile != "" || c.SSHKeyPassphraseFile != "" || c.KnownHostsFile != "" || c.AcceptNewHostKeys
}

func (c Credentials) hasPassword() bool { return c.PasswordFile != "" || c.PasswordEnv != "" }

func (c Credentials) http() (transport.AuthMethod, error) {
	switch {
	case c.hasSSH():
		return nil, errors.New("ssh_key_file, ssh_key_passphrase_file, known_hosts_file and accept_new_host_keys are for SSH URLs, not HTTP(S)")
	case c.PasswordFile != "" && c.PasswordEnv != "":
		return nil, errors.New("password_file and password_env exclude each other")
	case c.Username == "" && !c.hasPassword():
		return nil, nil // anonymous
	case c.Username == "":
		return nil, errors.New("username is missing (HTTP basic auth needs one with the password; for a token, any non-empty name)")
	case !c.hasPassword():
		return nil, fmt.Errorf("username %s has no password: set password_file or password_env", c.Username)
	}
	a := &basicAuth{user: c.Username}
	if c.PasswordFile != "" {
		a.from = "password_file " + c.PasswordFile
		p, err := readSecret(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		a.password = p
	} else {
		a.from = "password_env " + c.PasswordEnv
		p, ok := os.LookupEnv(c.PasswordEnv)
		if !ok || p == "" {
			return nil, fmt.Errorf("password_env: environment variable %s is not set or empty", c.PasswordEnv)
		}
		a.password = p
	}
	return a, nil
}

// readSecret reads a password or passphrase from a file; the line end that
// editors and `echo` add is not part of it.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err // *fs.PathError names the file
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// basicAuth is HTTP basic auth that never prints its password, not even
// with %#v (go-git's BasicAuth does there).
type basicAuth struct {
	user, password string
	from           string // where the password came from, for String
}

var _ githttp.AuthMethod = (*basicAuth)(nil)

func (a *basicAuth) SetAuth(r *http.Request) { r.SetBasicAuth(a.user, a.password) }
func (a *basicAuth) Name() string            { return "http-basic-auth" }
func (a *basicAuth) String() string {
	return fmt.Sprintf("%s: user %s, password from %s", a.Name(), a.user, a.from)
}
func (a *basicAuth) GoString() string           { return a.String() }
func (a *basicAuth) Format(f fmt.State, _ rune) { io.WriteString(f, a.String()) }

func (c Credentials) ssh(ep *transport.Endpoint, log *zap.Logger) (transport.AuthMethod, error) {
	switch {
	case c.Username != "":
		return nil, errors.New("username is for HTTP(S); the SSH user comes from the URL (user@host:path or ssh://user@host/path)")
	case c.hasPassword():
		return nil, errors.New("password_file and password_env are for HTTP(S); SSH takes ssh_key_file")
	case c.SSHKeyFile == "":
		return nil, errors.New("ssh_key_file is missing: an SSH repository needs a private key")
	case c.KnownHostsFile == "":
		return nil, errors.New("known_hosts_file is missing: an SSH repository's host key is always checked against a pinned known_hosts file")
	}
	signer, err := c.signer()
	if err != nil {
		return nil, err
	}
	// Read the file once now, so that a malformed one is reported at once;
	// a missing one is reported on connecting, with the key to pin.
	if _, err := readKnownHosts(c.KnownHostsFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	user := ep.User
	if user == "" {
		user = DefaultSSHUser
	}
	port := ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	return &sshAuth{
		user:    user,
		signer:  signer,
		keyFile: c.SSHKeyFile,
		host:    net.JoinHostPort(ep.Host, strconv.Itoa(port)),
		hosts:   &hostKeys{file: c.KnownHostsFile, acceptNew: c.AcceptNewHostKeys, log: log},
	}, nil
}

func (c Credentials) signer() (ssh.Signer, error) {
	pem, err := os.ReadFile(c.SSHKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ssh_key_file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && c.SSHKeyPassphraseFile == "":
		return nil, fmt.Errorf("ssh_key_file %s is encrypted: set ssh_key_passphrase_file", c.SSHKeyFile)
	case errors.As(err, &missing):
		pass, perr := readSecret(c.SSHKeyPassphraseFile)
		if perr != nil {
			return nil, fmt.Errorf("ssh_key_passphrase_file: %w", perr)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(pass))
		if err != nil {
			return nil, fmt.Errorf("ssh_key_file %s: decrypt with ssh_key_passphrase_file %s: %w", c.SSHKeyFile, c.SSHKeyPassphraseFile, err)
		}
	case err != nil:
		return nil, fmt.Errorf("ssh_key_file %s: %w", c.SSHKeyFile, err)
	}
	return signer, nil
}

// sshAuth is go-git's ssh.PublicKeys with the host key checked against the
// pinned file (re-read on every connection, so a key pinned while moor runs
// counts at the next sync) and a rejected key reported as such.
type sshAuth struct {
	user    string
	signer  ssh.Signer
	keyFile string
	host    string // host:port of the URL, to choose host key algorithms
	hosts   *hostKeys
}

var _ gitssh.AuthMethod = (*sshAuth)(nil)

func (a *sshAuth) Name() string { return gitssh.PublicKeysName }
func (a *sshAuth) String() string {
	return fmt.Sprintf("%s: user %s, key %s (%s), known hosts %s",
		a.Name(), a.user, a.keyFile, ssh.FingerprintSHA256(a.signer.PublicKey()), a.hosts.file)
}
func (a *sshAuth) GoString() string           { return a.String() }
func (a *sshAuth) Format(f fmt.State, _ rune) { io.WriteString(f, a.String()) }

// ClientConfig is called by go-git for each connection.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	algos, err := a.hosts.algorithms(a.host)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(a.signer)},
		HostKeyCallback:   a.hosts.check,
		HostKeyAlgorithms: algos,
		// x/crypto reports a refused key as a plain "unable to
		// authenticate"; ending the handshake here gives an error that
		// names the key and that classify files under ErrAuth.
		AuthCallback: func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			switch {
			case len(ctx.PartialSuccessMethods) > 0:
				return nil, fmt.Errorf("server %s wants more than an SSH key for user %s (it allows: %s): %w",
					ctx.Metadata.RemoteAddr(), a.user, strings.Join(ctx.AllowedMethods, ", "), transport.ErrAuthenticationRequired)
			case !slices.Contains(ctx.AllowedMethods, "publickey"):
				return nil, fmt.Errorf("server %s does not accept SSH keys for user %s (it allows: %s): %w",
					ctx.Metadata.RemoteAddr(), a.user, strings.Join(ctx.AllowedMethods, ", "), transport.ErrAuthenticationRequired)
			case slices.Contains(ctx.TriedMethods, "publickey"):
				return nil, fmt.Errorf("server %s refused ssh_key_file %s (%s %s) for user %s: %w",
					ctx.Metadata.RemoteAddr(), a.keyFile, a.signer.PublicKey().Type(),
					ssh.FingerprintSHA256(a.signer.PublicKey()), a.user, transport.ErrAuthenticationRequired)
			}
			return nil, nil // the key in Auth
		},
	}, nil
}

// hostKeys checks host keys against a known_hosts file and, if allowed,
// records the keys of hosts it does not list yet.
type hostKeys struct {
	file      string
	acceptNew bool
	log       *zap.Logger
}

// knownHostsMu serializes recording keys: two sources may share a file.
var knownHostsMu sync.Mutex

// readKnownHosts parses the known_hosts file. x/crypto's knownhosts does the
// parsing (hashed names, patterns, markers); its callback is what checks.
func readKnownHosts(file string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, &hostKeyError{msg: "known_hosts_file: " + err.Error(), err: err}
	}
	return cb, nil
}

// probeKey is a key no known_hosts file lists (32 zero bytes: no private
// key has it as its public key, and nothing is derived at start-up):
// checking it makes knownhosts return every key it knows for a host.
var probeKey, _ = ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))

// algorithms returns the host key algorithms to offer for host: those of
// the keys pinned for it first, then the rest. Without it, x/crypto prefers
// ECDSA, and a server that also has the pinned ed25519 key would show its
// ECDSA key, which the file does not list.
func (h *hostKeys) algorithms(host string) ([]string, error) {
	cb, err := readKnownHosts(h.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pinned []string
	var keyErr *knownhosts.KeyError
	if errors.As(cb(host, &net.TCPAddr{IP: net.IPv4zero}, probeKey), &keyErr) {
		for _, k := range keyErr.Want {
			pinned = append(pinned, algorithmsFor(k.Key.Type())...)
		}
	}
	if len(pinned) == 0 {
		return nil, nil // the defaults
	}
	// The others stay on offer: a server without any pinned kind then shows
	// a key, and the error says what it is instead of "no common algorithm".
	var all []string
	for _, a := range append(pinned, ssh.SupportedAlgorithms().HostKeys...) {
		if !slices.Contains(all, a) {
			all = append(all, a)
		}
	}
	return all, nil
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA { // an RSA key signs with SHA-2 too
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// check is the ssh.HostKeyCallback.
func (h *hostKeys) check(host string, remote net.Addr, key ssh.PublicKey) error {
	err := h.verify(host, remote, key)
	var unknown *hostKeyError
	if !h.acceptNew || !errors.As(err, &unknown) || !unknown.unknown {
		return err
	}
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	// Another source may have recorded it meanwhile.
	if err := h.verify(host, remote, key); !errors.As(err, &unknown) || !unknown.unknown {
		return err
	}
	line := knownhosts.Line([]string{host}, key)
	if err := appendLine(h.file, line); err != nil {
		return &hostKeyError{msg: fmt.Sprintf("record host key of %s (%s %s) in known_hosts_file %s: %v",
			host, key.Type(), ssh.FingerprintSHA256(key), h.file, err), err: err}
	}
	h.log.Warn("recorded the SSH host key of a new host, trusting it on first use (accept_new_host_keys); check its fingerprint with the server's administrator",
		zap.String("host", host), zap.String("key_type", key.Type()),
		zap.String("fingerprint", ssh.FingerprintSHA256(key)), zap.String("known_hosts_file", h.file))
	return nil
}

func (h *hostKeys) verify(host string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := readKnownHosts(h.file)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return err
	}
	e := &hostKeyError{host: host, key: key, file: h.file, missingFile: missing}
	if missing {
		e.unknown = true
		e.msg = e.describe()
		return e
	}
	err = cb(host, remote, key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		e.msg = fmt.Sprintf("host key of %s (%s %s) is revoked in %s:%d", host, key.Type(),
			ssh.FingerprintSHA256(key), revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &keyErr):
		e.want = keyErr.Want
		e.unknown = len(keyErr.Want) == 0
		e.msg = e.describe()
	default:
		e.msg = fmt.Sprintf("host key of %s: %v", host, err)
	}
	e.err = err
	return e
}

// appendLine appends line to the file, creating it (and its directory).
func appendLine(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// A last line without its newline would swallow ours.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// hostKeyError is a host key that is not trusted. It matches ErrHostKey and
// transport.ErrAuthorizationFailed, so that classify files it under ErrAuth:
// like rejected credentials, it waits for the operator.
type hostKeyError struct {
	msg string
	err error // the cause, if any

	host        string // as dialled: "host:port"
	key         ssh.PublicKey
	file        string
	want        []knownhosts.KnownKey // the keys pinned for host; none: unknown host
	unknown     bool
	missingFile bool
}

func (e *hostKeyError) Error() string { return e.msg }
func (e *hostKeyError) Unwrap() error { return e.err }
func (e *hostKeyError) Is(target error) bool {
	return target == ErrHostKey || target == transport.ErrAuthorizationFailed
}

// describe says what is wrong and how to pin the key.
func (e *hostKeyError) describe() string {
	var b bytes.Buffer
	offered := fmt.Sprintf("%s %s", e.key.Type(), ssh.FingerprintSHA256(e.key))
	if !e.unknown {
		fmt.Fprintf(&b, "host key of %s does not match known_hosts_file: the server offers %s, but ", e.host, offered)
		for i, k := range e.want {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s:%d pins %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key))
		}
		fmt.Fprintf(&b, ". Someone may be intercepting the connection, or the server's key was replaced. "+
			"Only if its administrator confirms the new key: remove the old entry (ssh-keygen -R '%s' -f %s) and add the line: %s",
			knownhosts.Normalize(e.host), e.file, knownhosts.Line([]string{e.host}, e.key))
		return b.String()
	}
	if e.missingFile {
		fmt.Fprintf(&b, "host key of %s cannot be checked: known_hosts_file %s does not exist; ", e.host, e.file)
	} else {
		fmt.Fprintf(&b, "host key of %s is not pinned in known_hosts_file %s; ", e.host, e.file)
	}
	fmt.Fprintf(&b, "the server offers %s. Check that fingerprint with the server's administrator, then pin it: %s, "+
		"or add the line: %s (or set accept_new_host_keys to record the first key seen)",
		offered, keyscan(e.host, e.file), knownhosts.Line([]string{e.host}, e.key))
	return b.String()
}

// keyscan is the command that pins host's keys into file.
func keyscan(host, file string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil || port == "22" {
		return fmt.Sprintf("ssh-keyscan %s >> %s", strings.Trim(host, "[]"), file)
	}
	return fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, h, file)
}

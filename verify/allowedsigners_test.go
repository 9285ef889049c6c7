package verify

import (
	"crypto/ed25519"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestSSHAllowedSignersOptions signs one commit with a fixed committer date
// and checks each allowed-signers variant against git verify-commit itself,
// so that moor trusts exactly what git would.
func TestSSHAllowedSignersOptions(t *testing.T) {
	pub, line := sshKey(t, "alice")
	_, otherLine := sshKey(t, "other")
	r := newTestRepo(t, "SSH_AUTH_SOCK=", "GIT_COMMITTER_DATE=2025-06-01T12:00:00Z")
	signed := r.commit(t, "gpg.format=ssh", "user.signingkey="+pub)
	fp := sshFingerprint(t, pub)

	tests := []struct {
		name     string
		signers  string
		identity string // "" when untrusted
		why      string // detail the untrusted error names
	}{
		{"plain", "alice@example.com " + line, "alice@example.com", ""},
		{"quoted principals", `"alice@example.com,ops@example.com" ` + line, "alice@example.com,ops@example.com", ""},
		{"namespace git", `alice@example.com namespaces="git" ` + line, "alice@example.com", ""},
		{"namespace list", `alice@example.com namespaces="file,git" ` + line, "alice@example.com", ""},
		{"namespace wildcard", `alice@example.com namespaces="g*" ` + line, "alice@example.com", ""},
		{"namespace file only", `alice@example.com namespaces="file" ` + line, "", `namespaces "file"`},
		{"namespace negated", `alice@example.com namespaces="*,!git" ` + line, "", "namespaces"},
		{"valid window", `alice@example.com valid-after="20250101Z",valid-before="20260101Z" ` + line, "alice@example.com", ""},
		{"not yet valid", `alice@example.com valid-after="20300101Z" ` + line, "", "valid only after 2030-01-01T00:00:00Z"},
		{"no longer valid", `alice@example.com valid-before="202401011200Z" ` + line, "", "valid only before 2024-01-01T12:00:00Z"},
		{"other key only", "alice@example.com " + otherLine, "", "not in allowed signers"},
		{"first valid line decides",
			`alice@example.com namespaces="file" ` + line + "\n" +
				"ci@example.com " + line,
			"", `namespaces "file"`},
		{"expired line skipped",
			`old@example.com valid-before="20240101Z" ` + line + "\n" +
				"deploy@example.com " + otherLine + "\n" +
				"ci@example.com " + line + "\n" +
				"late@example.com " + line,
			"ci@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "allowed_signers", tt.signers+"\n")
			if got, want := gitVerifies(t, r, signed, path), tt.identity != ""; got != want {
				t.Fatalf("git verify-commit accepts = %v, test expects %v: the case is wrong", got, want)
			}
			v, err := Load(Policy{SSHAllowedSigners: path})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Commit(r.object(t, signed))
			if tt.identity == "" {
				wantErr(t, err, ErrUntrusted, fp, tt.why)
				return
			}
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if res.Identity != tt.identity || res.Fingerprint != fp {
				t.Errorf("Commit = %+v, want identity %q fingerprint %s", res, tt.identity, fp)
			}
		})
	}
}

// gitVerifies reports whether git verify-commit accepts the commit under
// the given allowed-signers file.
func gitVerifies(t *testing.T, r *testRepo, h interface{ String() string }, signers string) bool {
	t.Helper()
	cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", h.String())
	cmd.Dir = r.dir
	cmd.Env = append(cmd.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("git verify-commit: %v\n%s", err, out)
	}
	return err == nil
}

func TestLoadErrors(t *testing.T) {
	key := testSSHKey(t)
	good := "alice@example.com " + key + "\n"
	notAKey := writeFile(t, "key.asc", "hello\n")
	tests := []struct {
		name   string
		policy Policy
		want   []string // details the error names
	}{
		{"no keys", Policy{}, []string{"no keys"}},
		{"missing openpgp file", Policy{OpenPGPKeys: []string{"/nonexistent/alice.asc"}}, []string{"/nonexistent/alice.asc"}},
		{"missing allowed signers", Policy{SSHAllowedSigners: "/nonexistent/allowed_signers"}, []string{"/nonexistent/allowed_signers"}},
		{"not a key", Policy{OpenPGPKeys: []string{notAKey}}, []string{notAKey}},
		{"only comments", Policy{SSHAllowedSigners: writeFile(t, "as", "# nobody\n\n")}, []string{"no signers"}},
	}
	malformed := []struct {
		name, line, want string
	}{
		{"bad base64", "alice@example.com ssh-ed25519 AAAA!!notbase64", "parse key"},
		{"principals only", "alice@example.com", "missing key"},
		{"key without principals", key, "parse key"},
		{"type mismatch", "alice@example.com ssh-rsa " + strings.Fields(key)[1], "parse key"},
		{"unknown option", "alice@example.com no-touch-required " + key, `unknown option "no-touch-required"`},
		{"cert authority", "alice@example.com cert-authority " + key, "cert-authority is not supported"},
		{"bad time", `alice@example.com valid-before="tomorrow" ` + key, "valid-before"},
		{"empty namespaces", `alice@example.com namespaces="" ` + key, "namespaces"},
		{"unterminated quote", `"alice@example.com ` + key, "unterminated quote"},
	}
	for _, m := range malformed {
		// The bad line is line 3, after a comment and a good line.
		path := writeFile(t, "allowed_signers", "# team\n"+good+m.line+"\n"+good)
		tests = append(tests, struct {
			name   string
			policy Policy
			want   []string
		}{"malformed " + m.name, Policy{SSHAllowedSigners: path}, []string{path + ":3", m.want}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Load(tt.policy)
			if err == nil {
				t.Fatalf("Load = %v, want an error", v)
			}
			t.Log(err)
			for _, d := range tt.want {
				if !strings.Contains(err.Error(), d) {
					t.Errorf("err = %q, want it to name %q", err, d)
				}
			}
		})
	}
}

func TestLoadRefusesPrivateOpenPGPKey(t *testing.T) {
	g := newGPGHome(t)
	g.newKey(t, "Alice <alice@example.com>")
	path := writeFile(t, "secret.asc", run(t, g.dir, g.env(), "gpg", "--batch", "--pinentry-mode", "loopback",
		"--passphrase", "", "--armor", "--export-secret-keys", "alice@example.com"))
	_, err := Load(Policy{OpenPGPKeys: []string{path}})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("Load = %v, want an error naming %s and its private key", err, path)
	}
}

func TestParseSSHTime(t *testing.T) {
	local := time.Local
	tests := []struct {
		in   string
		want time.Time
	}{
		{"20250601Z", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"202506011230Z", time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)},
		{"20250601123045Z", time.Date(2025, 6, 1, 12, 30, 45, 0, time.UTC)},
		{"20250601", time.Date(2025, 6, 1, 0, 0, 0, 0, local)},
	}
	for _, tt := range tests {
		got, err := parseSSHTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSSHTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "2025", "2025060", "20251301Z", "yesterday"} {
		if got, err := parseSSHTime(bad); err == nil {
			t.Errorf("parseSSHTime(%q) = %v, want an error", bad, got)
		}
	}
}

func TestMatchPatternList(t *testing.T) {
	tests := []struct {
		patterns string
		want     bool
	}{
		{"git", true},
		{"file", false},
		{"file,git", true},
		{"*", true},
		{"g?t", true},
		{"g*t*", true},
		{"gi", false},
		{"*,!git", false},
		{"!file", false}, // negation alone admits nothing, as in OpenSSH
		{"!file,*", true},
		{"GIT", false}, // case-sensitive, as ssh-keygen matches namespaces
	}
	for _, tt := range tests {
		if got := matchPatternList("git", strings.Split(tt.patterns, ",")); got != tt.want {
			t.Errorf("matchPatternList(git, %q) = %v, want %v", tt.patterns, got, tt.want)
		}
	}
}

// testSSHKey returns a fixed ed25519 key as "keytype base64key".
func testSSHKey(t *testing.T) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

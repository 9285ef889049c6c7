package testkit

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// SOPSKeys are an age key and an OpenPGP key made for one test, in key
// files as an operator gives them to moor, and the sops command that
// encrypts files for them (built by scripts/sops).
type SOPSKeys struct {
	AgeFile        string
	AgeRecipient   string
	PGPFile        string
	PGPFingerprint string
	gnupg          string
	sops           string
}

// NewSOPSKeys makes the keys. Without the sops command or gpg, the test
// fails under CI and is skipped elsewhere.
func NewSOPSKeys(t testing.TB) *SOPSKeys {
	t.Helper()
	k := &SOPSKeys{sops: sopsCommand(t)}
	if _, err := exec.LookPath("gpg"); err != nil {
		skipOrFail(t, err)
	}
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k.AgeRecipient = id.Recipient().String()
	k.AgeFile = filepath.Join(dir, "age.key")
	if err := os.WriteFile(k.AgeFile, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// gpg's agent lives in its home: keep the path short (socket names
	// are limited) and stop it with the test.
	home, err := os.MkdirTemp("/tmp", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	k.gnupg = home
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	k.gpg(t, "--quick-gen-key", "moor test <test@moor.invalid>", "future-default", "default", "never")
	for _, l := range strings.Split(k.gpg(t, "--list-secret-keys", "--with-colons"), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" {
			k.PGPFingerprint = f[9]
			break
		}
	}
	if k.PGPFingerprint == "" {
		t.Fatal("gpg made no key")
	}
	k.PGPFile = filepath.Join(dir, "pgp.asc")
	if err := os.WriteFile(k.PGPFile, []byte(k.gpg(t, "--export-secret-keys", "--armor", k.PGPFingerprint)), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *SOPSKeys) gpg(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", k.gnupg, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Encrypt runs sops on content, named name (sops picks the format by the
// name), for the age key and the PGP key; args are more of sops's flags
// (--unencrypted-suffix and the like; --config FILE first).
func (k *SOPSKeys) Encrypt(t testing.TB, name, content string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var full []string
	if len(args) > 1 && args[0] == "--config" { // a global flag: before the command
		full, args = args[:2:2], args[2:]
	}
	full = append(append(full, "encrypt", "--age", k.AgeRecipient, "--pgp", k.PGPFingerprint), args...)
	cmd := exec.Command(k.sops, append(full, path)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GNUPGHOME="+k.gnupg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops encrypt %s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}

// Decrypt runs `sops decrypt` on an encrypted file's content, with the
// age key.
func (k *SOPSKeys) Decrypt(t testing.TB, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.sops, "decrypt", path)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+k.AgeFile, "GNUPGHOME="+k.gnupg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops decrypt %s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}

func sopsCommand(t testing.TB) string {
	if p, err := exec.LookPath("sops"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "sops")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	skipOrFail(t, errors.New("the sops command is not built: run ./scripts/sops"))
	return ""
}

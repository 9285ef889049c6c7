package main

import (
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// `moor validate` without a key checks that every file .sops.yaml marks is
// encrypted (used by a stack or not) and loads the stacks with their
// encrypted values empty; with the key file it decrypts them.
func TestValidateSOPS(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	dir := t.TempDir()
	for p, content := range map[string]string{
		".sops.yaml":           "creation_rules:\n  - path_regex: \\.(env|secret)$\n    age: " + k.AgeRecipient + "\n",
		"app/compose.yaml":     "services:\n  app:\n    image: app:1\n    env_file: app.env\n",
		"app/app.env":          k.Encrypt(t, "app.env", "TOKEN=validate-secret-1\n"),
		"loose/forgot.secret":  "password=plain-secret-2\n",
		"other/compose.yaml":   "services:\n  db:\n    image: db:1\n",
		"other/not-marked.txt": "hello\n",
	} {
		writeRepoFile(t, dir, p, content)
	}
	m := &moor{t: t}
	code, out := m.run("validate", dir)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	for _, want := range []string{
		`error .sops.yaml: loose/forgot.secret is not encrypted, but .sops.yaml says files matching "\\.(env|secret)$" are`,
		"ok    app (app)",
		"ok    other (db)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s\ngot:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-1") || strings.Contains(out, "plain-secret-2") {
		t.Errorf("the output shows a value:\n%s", out)
	}

	// With the plaintext file encrypted, and a key file: all is well.
	writeRepoFile(t, dir, "loose/forgot.secret", k.Encrypt(t, "forgot.secret", "password=plain-secret-2\n"))
	if code, out := m.run("validate", "--sops-age-key-file", k.AgeFile, dir); code != exitOK {
		t.Errorf("exit %d with the key:\n%s", code, out)
	}
	other := testkit.NewSOPSKeys(t)
	code, out = m.run("validate", "--sops-age-key-file", other.AgeFile, dir)
	if code != exitError || !strings.Contains(out, `env_file "app/app.env": sops: no configured key opens it`) {
		t.Errorf("exit %d with another key:\n%s", code, out)
	}
}

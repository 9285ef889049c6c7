package controller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/reconcile"
)

// TestPruneSecretsRemovesOnlyItsOwn: a decrypted file that nothing binds
// goes; one the revision or a container binds stays, and so does anything
// in the directory that moor did not write.
func TestPruneSecretsRemovesOnlyItsOwn(t *testing.T) {
	c := &Controller{Source: config.Source{Name: "src"}, SecretsDir: t.TempDir(), Log: zap.NewNop()}
	dir := c.secretsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := func(c byte) string { return filepath.Join(dir, strings.Repeat(string(c), 64)) }
	unused, desired, bound, foreign := name('a'), name('b'), name('c'), filepath.Join(dir, "notes.txt")
	for _, p := range []string{unused, desired, bound, foreign} {
		if err := os.WriteFile(p, []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	d := &reconcile.Desired{Stacks: map[string]*reconcile.Stack{"web": {Secrets: []reconcile.SecretFile{{Path: desired}}}}}
	obs := &reconcile.Observed{Containers: []reconcile.Container{{Binds: []string{bound}}}}
	c.pruneSecrets(d, obs)
	for p, want := range map[string]bool{unused: false, desired: true, bound: true, foreign: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

package gitsource_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/internal/testkit"
)

// TestMain keeps the machine's git config away from the git-upload-pack
// that go-git's file transport runs.
func TestMain(m *testing.M) {
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Exit(m.Run())
}

// newOrigin makes a repository with one commit on main and returns it with
// that commit.
func newOrigin(t testing.TB) (*testkit.Repo, string) {
	t.Helper()
	r := testkit.NewRepo(t)
	r.Write("web/compose.yaml", "services: {web: {image: nginx}}\n")
	return r, r.Commit("first")
}

// newSource returns a source whose snapshots are removed at cleanup:
// t.TempDir alone cannot remove read-only directories unless run as root.
func newSource(t testing.TB, url, ref string) *gitsource.Source {
	t.Helper()
	s := &gitsource.Source{URL: url, Ref: ref, Dir: filepath.Join(t.TempDir(), "state")}
	t.Cleanup(func() {
		if err := s.Prune(nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

func TestResolve(t *testing.T) {
	r, first := newOrigin(t)
	r.Git("tag", "light")
	r.Git("tag", "-a", "annotated", "-m", "release")
	r.Git("tag", "-a", "nested", "-m", "tag of a tag", "annotated")
	r.Write("web/compose.yaml", "services: {web: {image: caddy}}\n")
	second := r.Commit("second")
	r.Git("branch", "other", first)

	tests := []struct{ ref, want string }{
		{"", second},
		{"main", second},
		{"other", first},
		{"refs/heads/other", first},
		{"light", first},
		{"annotated", r.Git("rev-parse", "annotated^{commit}")},
		{"nested", r.Git("rev-parse", "nested^{commit}")},
		{first, first},
		{strings.ToUpper(first), first},
	}
	if r.Git("rev-parse", "annotated") == first {
		t.Fatal("test setup: annotated tag is not a tag object")
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			rev, err := newSource(t, r.Dir, tt.ref).Resolve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rev.Commit != tt.want {
				t.Errorf("Resolve(%q) = %s, want commit %s", tt.ref, rev, tt.want)
			}
			wantRef := tt.ref
			if wantRef == "" {
				wantRef = "main"
			}
			if rev.Ref != wantRef {
				t.Errorf("Resolve(%q).Ref = %q, want %q", tt.ref, rev.Ref, wantRef)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	r, _ := newOrigin(t)
	r.Git("branch", "staging")
	r.Git("tag", "v1")

	_, err := newSource(t, r.Dir, "nope").Resolve(t.Context())
	if !errors.Is(err, gitsource.ErrRefNotFound) {
		t.Fatalf("unknown ref: err = %v, want ErrRefNotFound", err)
	}
	for _, want := range []string{"nope", r.Dir, "branches: main, staging", "tags: v1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unknown ref: error %q does not mention %q", err, want)
		}
	}

	missing := filepath.Join(t.TempDir(), "no-such-repo")
	_, err = newSource(t, missing, "main").Resolve(t.Context())
	if !errors.Is(err, gitsource.ErrUnreachable) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing path: err = %v, want ErrUnreachable naming %s", err, missing)
	}

	empty := testkit.NewRepo(t)
	_, err = newSource(t, empty.Dir, "main").Resolve(t.Context())
	if !errors.Is(err, gitsource.ErrRefNotFound) {
		t.Fatalf("empty repository: err = %v, want ErrRefNotFound", err)
	}
}

func TestURLForms(t *testing.T) {
	r, first := newOrigin(t)
	bare := r.Bare() // file:///...
	parent, name := filepath.Split(r.Dir)
	t.Chdir(parent)
	for _, url := range []string{bare, strings.TrimPrefix(bare, "file://"), "./" + name, "../" + filepath.Base(parent) + "/" + name} {
		t.Run(url, func(t *testing.T) {
			s := newSource(t, url, "main")
			rev, err := s.Resolve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			snap, err := s.Checkout(t.Context(), rev)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Revision.Commit != first {
				t.Errorf("checked out %s, want %s", snap.Revision, first)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct{ url, protocol, host, path string }{
		{"git@github.com:org/repo.git", "ssh", "github.com", "org/repo.git"},
		{"ssh://git@example.com:2222/org/repo.git", "ssh", "example.com", "/org/repo.git"},
		{"https://github.com/org/repo.git", "https", "github.com", "/org/repo.git"},
		{"file:///srv/deploy.git", "file", "", "/srv/deploy.git"},
		{"/srv/deploy", "file", "", "/srv/deploy"},
		{"/srv/odd:name/repo", "file", "", "/srv/odd:name/repo"},
	}
	for _, tt := range tests {
		ep, err := gitsource.Endpoint(tt.url)
		if err != nil {
			t.Errorf("Endpoint(%q): %v", tt.url, err)
			continue
		}
		if ep.Protocol != tt.protocol || ep.Host != tt.host || ep.Path != tt.path {
			t.Errorf("Endpoint(%q) = %s %q %q, want %s %q %q", tt.url, ep.Protocol, ep.Host, ep.Path, tt.protocol, tt.host, tt.path)
		}
	}
	ep, err := gitsource.Endpoint("./rel/repo")
	if err != nil || ep.Protocol != "file" || !filepath.IsAbs(ep.Path) {
		t.Errorf("Endpoint(./rel/repo) = %+v, %v; want an absolute file path", ep, err)
	}
}

func TestRevisionString(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	for _, rev := range []gitsource.Revision{
		{Ref: "main", Commit: sha},
		{Ref: "feature@x", Commit: sha},
		{Ref: "working-copy"},
	} {
		got, err := gitsource.ParseRevision(rev.String())
		if err != nil || got != rev {
			t.Errorf("ParseRevision(%q) = %+v, %v; want %+v", rev.String(), got, err, rev)
		}
	}
	if got := (gitsource.Revision{Ref: "main", Commit: sha}).String(); got != "main@sha1:"+sha {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"", "main", "main@sha1:abc", "@sha1:" + sha, "main@sha1:" + strings.ToUpper(sha)} {
		if _, err := gitsource.ParseRevision(bad); err == nil {
			t.Errorf("ParseRevision(%q) succeeded", bad)
		}
	}
}

func TestWorkingCopy(t *testing.T) {
	dir := t.TempDir()
	snap, err := gitsource.WorkingCopy(dir)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Dir != dir || snap.Revision.String() != "working-copy" {
		t.Errorf("WorkingCopy = %+v", snap)
	}
	if _, err := gitsource.WorkingCopy(filepath.Join(dir, "missing")); err == nil {
		t.Error("WorkingCopy of a missing dir succeeded")
	}
}

// files returns path -> content of every regular file under dir.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCanceledIsUnreachable(t *testing.T) {
	r, first := newOrigin(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := newSource(t, r.Dir, "main")
	if _, err := s.Resolve(ctx); !errors.Is(err, gitsource.ErrUnreachable) {
		t.Errorf("Resolve with a canceled context: err = %v, want ErrUnreachable", err)
	}
	if _, err := s.Checkout(ctx, gitsource.Revision{Ref: "main", Commit: first}); !errors.Is(err, gitsource.ErrUnreachable) {
		t.Errorf("Checkout with a canceled context: err = %v, want ErrUnreachable", err)
	}
}

// TestCredentialsInURLNeverUsed: a URL that may hold a credential is not
// connected to, and no error shows its secret.
func TestCredentialsInURLNeverUsed(t *testing.T) {
	const token = "T0KEN-in-url"
	for _, url := range []string{
		"https://" + token + "@127.0.0.1:1/deploy.git",
		"http://u:" + token + "@127.0.0.1:1/deploy.git",
		"https://127.0.0.1:1/deploy.git?access_token=" + token,
	} {
		s := newSource(t, url, "main")
		_, err := s.Resolve(t.Context())
		if !errors.Is(err, gitsource.ErrAuth) || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "connect") {
			t.Errorf("Resolve = %v, want ErrAuth before any connection, without the token", err)
		}
		_, err = s.Checkout(t.Context(), gitsource.Revision{Ref: "main", Commit: strings.Repeat("a", 40)})
		if !errors.Is(err, gitsource.ErrAuth) || strings.Contains(err.Error(), token) {
			t.Errorf("Checkout = %v, want ErrAuth without the token", err)
		}
	}
}

package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func open(t *testing.T, root string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// entries writes the context and lists the tar's entries, with the digest
// Write returned.
func entries(t *testing.T, c Context) ([]string, map[string]string, string) {
	t.Helper()
	var buf bytes.Buffer
	digest, err := Write(t.Context(), c, &buf, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	content := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			content[h.Name] = string(b)
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d, time %s; want root and a fixed time", h.Name, h.Uid, h.Gid, h.ModTime)
		}
	}
	return names, content, digest
}

func TestDockerignore(t *testing.T) {
	root := tree(t, map[string]string{
		"app/Dockerfile":     "FROM scratch\n",
		"app/.dockerignore":  "*.log\nsecret/\nbuild\n!build/keep.txt\nDockerfile\n.dockerignore\n",
		"app/main.go":        "package main\n",
		"app/debug.log":      "x",
		"app/sub/trace.log":  "kept: *.log matches the top level only",
		"app/secret/key":     "k",
		"app/build/out.bin":  "o",
		"app/build/keep.txt": "k",
		"outside/never.txt":  "n",
	})
	c := Context{Root: open(t, root), Dir: "app", Dockerfile: "Dockerfile"}
	names, _, digest := entries(t, c)
	want := []string{".dockerignore", "Dockerfile", "build/keep.txt", "main.go", "sub/", "sub/trace.log"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	d, st, err := Digest(t.Context(), c, Limits{})
	if err != nil || d != digest {
		t.Errorf("Digest = %s, %v; want what Write hashed, %s", d, err, digest)
	}
	if st.Entries != len(want) {
		t.Errorf("Digest counted %d entries, want %d", st.Entries, len(want))
	}
}

func TestDigestChangesWithContentModeAndPath(t *testing.T) {
	base := map[string]string{"Dockerfile": "FROM scratch\n", "a": "a"}
	digest := func(root string) string {
		d, _, err := Digest(t.Context(), Context{Root: open(t, root), Dir: ".", Dockerfile: "Dockerfile"}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d0 := digest(tree(t, base))
	if d := digest(tree(t, base)); d != d0 {
		t.Error("equal trees hash differently")
	}
	for name, files := range map[string]map[string]string{
		"content": {"Dockerfile": "FROM scratch\n", "a": "b"},
		"path":    {"Dockerfile": "FROM scratch\n", "b": "a"},
	} {
		if digest(tree(t, files)) == d0 {
			t.Errorf("a changed %s kept the digest", name)
		}
	}
	root := tree(t, base)
	if err := os.Chmod(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if digest(root) == d0 {
		t.Error("a changed mode kept the digest")
	}
}

func TestSymlinkSentAsLink(t *testing.T) {
	root := tree(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "passwd")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Write(t.Context(), Context{Root: open(t, root), Dir: ".", Dockerfile: "Dockerfile"}, &buf, ""); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal("no passwd entry")
		}
		if h.Name == "passwd" {
			if h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc/passwd" || h.Size != 0 {
				t.Fatalf("passwd sent as %c -> %q (%d bytes), want a symlink and nothing read", h.Typeflag, h.Linkname, h.Size)
			}
			return
		}
	}
}

func TestInlineDockerfile(t *testing.T) {
	root := tree(t, map[string]string{"a": "a", "z": "z"})
	c := Context{Root: open(t, root), Dir: ".", Dockerfile: ".moor.Dockerfile", Inline: []byte("FROM scratch\nCOPY a /\n")}
	names, content, _ := entries(t, c)
	if !slices.Contains(names, ".moor.Dockerfile") || content[".moor.Dockerfile"] != "FROM scratch\nCOPY a /\n" {
		t.Errorf("inline Dockerfile not sent: %v %q", names, content[".moor.Dockerfile"])
	}
}

func TestWriteRefusesAChangedContext(t *testing.T) {
	root := tree(t, map[string]string{"Dockerfile": "FROM scratch\n", "a": "a"})
	c := Context{Root: open(t, root), Dir: ".", Dockerfile: "Dockerfile"}
	d, _, err := Digest(t.Context(), c, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Write(t.Context(), c, &buf, d); err == nil || !strings.Contains(err.Error(), "changed since it was loaded") {
		t.Fatalf("Write of a changed context = %v, want it refused", err)
	}
	// The stream is left unterminated: no end-of-archive marker.
	if bytes.HasSuffix(buf.Bytes(), make([]byte, 1024)) {
		t.Error("the stream of a changed context was closed like a complete archive")
	}
}

func TestLimits(t *testing.T) {
	root := tree(t, map[string]string{"Dockerfile": "FROM scratch\n", "a": strings.Repeat("x", 100), "b": "b"})
	c := Context{Root: open(t, root), Dir: ".", Dockerfile: "Dockerfile"}
	if _, _, err := Digest(t.Context(), c, Limits{Bytes: 50}); !errors.Is(err, ErrTooManyBytes) {
		t.Errorf("over the byte limit: %v", err)
	}
	if _, _, err := Digest(t.Context(), c, Limits{Entries: 2}); !errors.Is(err, ErrTooManyEntries) {
		t.Errorf("over the entry limit: %v", err)
	}
}

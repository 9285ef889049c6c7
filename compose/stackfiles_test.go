package compose

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

// TestStackDirectories: with a stacks root, relative binds point into the
// stack directories, which mirror the source's path: a file or tree the
// repository holds (hashed by content), a directory it does not (./data,
// made by the sync), a file of the source elsewhere, and one of the
// repository outside the source (under .moor/repo). The stack lists what
// its directory must hold.
func TestStackDirectories(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"common/ca.pem":            "ca",
		"stacks/shared/nginx.conf": "n",
		"stacks/web/compose.yaml": `services:
  app:
    image: app:1
    env_file: [.env]
    volumes:
      - ./data:/data
      - ./conf/app.conf:/etc/app.conf:ro
      - ../shared/nginx.conf:/etc/nginx.conf:ro
      - ../../common/ca.pem:/etc/ca.pem:ro
      - /srv/host:/host
`,
		"stacks/web/.env":          "A=1\n",
		"stacks/web/conf/app.conf": "x=1",
		"stacks/web/README":        "docs",
	})
	root := t.TempDir()
	d, err := Load(t.Context(), filepath.Join(repo, "stacks"), Options{Repo: repo, StacksRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Broken["web"]; err != nil {
		t.Fatal(err)
	}
	st := d.Stacks["web"]
	if st.HostDir != filepath.Join(root, "web") {
		t.Errorf("HostDir %s", st.HostDir)
	}
	sources := map[string]string{}
	for _, m := range st.Services["app"].Spec.Mounts {
		sources[m.Target] = m.Source
		if (m.Content == "") != (m.Target == "/data" || m.Target == "/host") {
			t.Errorf("%s: Content %q", m.Target, m.Content)
		}
	}
	want := map[string]string{
		"/data":           filepath.Join(root, "web/data"),
		"/etc/app.conf":   filepath.Join(root, "web/conf/app.conf"),
		"/etc/nginx.conf": filepath.Join(root, "shared/nginx.conf"),
		"/etc/ca.pem":     filepath.Join(root, ".moor/repo/common/ca.pem"),
		"/host":           "/srv/host",
	}
	if diff := cmp.Diff(want, sources); diff != "" {
		t.Errorf("bind sources (-want +got):\n%s", diff)
	}
	files := st.Files
	if diff := cmp.Diff([]string{".moor/repo/common/ca.pem", "shared/nginx.conf", "web/.env", "web/README", "web/compose.yaml", "web/conf/app.conf"}, files.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"web/data"}, files.Dirs); diff != "" {
		t.Errorf("dirs (-want +got):\n%s", diff)
	}

	// The digest is over what the repository holds: a changed file
	// changes it, and loading it again does not.
	if loadFiles(t, repo, root).Digest != files.Digest {
		t.Error("the same files gave another digest")
	}
	writeTree(t, repo, map[string]string{"stacks/web/conf/app.conf": "x=2"})
	if loadFiles(t, repo, root).Digest == files.Digest {
		t.Error("a changed tracked file left the digest as it was")
	}
}

func loadFiles(t *testing.T, repo, root string) *reconcile.StackFiles {
	t.Helper()
	d, err := Load(t.Context(), filepath.Join(repo, "stacks"), Options{Repo: repo, StacksRoot: root})
	if err != nil || d.Broken["web"] != nil {
		t.Fatalf("%v %v", err, d.Broken)
	}
	return d.Stacks["web"].Files
}

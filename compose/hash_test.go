package compose

import (
	"os"
	"path/filepath"
	"testing"
)

// hashOf loads files and returns the hash of service app of stack web.
func hashOf(t *testing.T, files map[string]string) string {
	t.Helper()
	st, _ := mustLoadWeb(t, files, Options{})
	return st.Services["app"].Hash
}

func TestHashIgnoresHowConfigIsWritten(t *testing.T) {
	a := `
services:
  app:
    image: nginx
    environment:
      A: "1"
      B: "2"
    ports: ["80:80", "443:443"]
    labels:
      x: "1"
      y: "2"
    cap_add: [NET_ADMIN, CHOWN]
    expose: [3000, 3001]
    volumes: ["./conf:/etc/conf:ro", "data:/data"]
volumes:
  data:
`
	b := `
volumes:
  data: {}
services:
  app:
    volumes:
      - data:/data
      - type: bind
        source: ./conf
        target: /etc/conf
        read_only: true
    expose: ["3000-3001"]
    cap_add: [CHOWN, NET_ADMIN]
    labels: ["y=2", "x=1"]
    ports:
      - target: 443
        published: "443"
      - "80:80/tcp"
    environment: ["B=2", "A=1"]
    image: docker.io/library/nginx:latest
`
	conf := map[string]string{"web/conf/a": "a"}
	withConf := func(compose string) map[string]string {
		m := map[string]string{"web/compose.yaml": compose}
		for k, v := range conf {
			m[k] = v
		}
		return m
	}
	ha, hb := hashOf(t, withConf(a)), hashOf(t, withConf(b))
	if ha != hb {
		st1, _ := mustLoadWeb(t, withConf(a), Options{})
		st2, _ := mustLoadWeb(t, withConf(b), Options{})
		t.Errorf("equal configs hash differently:\n%+v\n%+v", st1.Services["app"].Spec, st2.Services["app"].Spec)
	}
}

func TestHashChanges(t *testing.T) {
	base := map[string]string{
		"web/compose.yaml": "services:\n  app:\n    image: app:1\n    environment: [A=1]\n    volumes: ['./conf:/conf:ro']\n",
		"web/conf/a.txt":   "a",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range base {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	h := hashOf(t, base)
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"env", with("web/compose.yaml", "services:\n  app:\n    image: app:1\n    environment: [A=2]\n    volumes: ['./conf:/conf:ro']\n")},
		{"bind file content", with("web/conf/a.txt", "b")},
		{"bind tree gains a file", with("web/conf/b.txt", "")},
		{"bind tree gains a directory", with("web/conf/sub/", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hashOf(t, tt.files); got == h {
				t.Errorf("hash did not change")
			}
		})
	}
}

func TestHashBindMode(t *testing.T) {
	files := map[string]string{
		"web/compose.yaml": "services:\n  app:\n    image: app:1\n    volumes: ['./run.sh:/run.sh:ro']\n",
		"web/run.sh":       "#!/bin/sh\n",
	}
	st, sd := mustLoadWeb(t, files, Options{})
	before := st.Services["app"].Hash
	if err := os.Chmod(filepath.Join(sd.Dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	after, err := LoadStack(t.Context(), sd, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Services["app"].Hash == before {
		t.Error("making a bound script executable did not change the hash")
	}
}

// TestHashSnapshotMoved: every revision is checked out in a new directory;
// the same content there must give the same hash (no needless replacement).
func TestHashSnapshotMoved(t *testing.T) {
	files := map[string]string{
		"web/compose.yaml": `
services:
  app:
    image: app:1
    volumes: ['./conf:/conf:ro', './one.conf:/one.conf']
    configs: [c]
    secrets: [s]
configs:
  c:
    file: ./c.txt
secrets:
  s:
    file: ./s.txt
`,
		"web/conf/a.txt":     "a",
		"web/conf/sub/b.txt": "b",
		"web/one.conf":       "one",
		"web/c.txt":          "c",
		"web/s.txt":          "s",
	}
	st1, sd1 := mustLoadWeb(t, files, Options{})
	st2, sd2 := mustLoadWeb(t, files, Options{})
	if sd1.Root == sd2.Root {
		t.Fatal("both loads used the same snapshot directory")
	}
	if st1.Services["app"].Spec.Mounts[0].Source == st2.Services["app"].Spec.Mounts[0].Source {
		t.Fatal("bind sources should differ between snapshots")
	}
	if h1, h2 := st1.Services["app"].Hash, st2.Services["app"].Hash; h1 != h2 {
		t.Errorf("same content in a moved snapshot: hash %s != %s", h1, h2)
	}
}

func TestHashHostBindIsByPath(t *testing.T) {
	compose := func(p string) map[string]string {
		return map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n    volumes: ['" + p + ":/x']\n"}
	}
	st, _ := mustLoadWeb(t, compose("/srv/a"), Options{})
	if c := st.Services["app"].Spec.Mounts[0].Content; c != "" {
		t.Errorf("host bind has Content %q, want none", c)
	}
	if hashOf(t, compose("/srv/a")) == hashOf(t, compose("/srv/b")) {
		t.Error("host binds of different paths hash the same")
	}
}

// TestContentDigestPinned pins the digest of a small tree and of a file: a
// change of the format would replace every container with a bind of the
// repository.
func TestContentDigestPinned(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"conf/a.txt": "a", "conf/sub/b.txt": "bb", "conf/run.sh": "#!/bin/sh\n"})
	for p, mode := range map[string]os.FileMode{"conf": 0o755, "conf/sub": 0o750, "conf/a.txt": 0o644, "conf/sub/b.txt": 0o600, "conf/run.sh": 0o755} {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "conf", "link")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"conf":        "sha256:c282f9185bf8383fd3cbf6b92a5eb79652eab164b1f11b5fa6804a1cdd904c0e",
		"conf/run.sh": "sha256:9a71f8c18082d9d615020e013e8ae334af3be93f2605eab7329600a6858fe27c",
	} {
		if got := digest(t, filepath.Join(dir, p)); got != want {
			t.Errorf("digest of %s = %s, want %s", p, got, want)
		}
	}
}

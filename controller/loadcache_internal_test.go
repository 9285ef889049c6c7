package controller

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/secrets"
)

// roundTrip writes d as a load records it and takes it back from the load
// cache: nil when the cache refused it.
func roundTrip(t *testing.T, d *reconcile.Desired) *desiredFile {
	t.Helper()
	state := t.TempDir()
	d.Source, d.Revision = "src", "main@sha1:"+strings.Repeat("a", 40)
	if err := writeDesired(state, d, false, "key"); err != nil {
		t.Fatal(err)
	}
	if cachedLoad(state, "src", "other") != nil {
		t.Fatal("the cache answered for another key")
	}
	return cachedLoad(state, "src", "key")
}

// loadRepo loads the stacks of the repository dir as the controller does.
func loadRepo(t *testing.T, dir string) *reconcile.Desired {
	t.Helper()
	opts := compose.Options{Repo: dir, StacksRoot: t.TempDir()}
	if key := filepath.Join(dir, "example-age.key"); fileExists(key) {
		keys, err := secrets.LoadKeys(key, "")
		if err != nil {
			t.Fatal(err)
		}
		opts.Secrets = compose.Secrets{Keys: keys, Dir: "/run/moor/secrets/src"}
	}
	d, err := compose.Load(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestLoadCacheKeepsExamples: the stacks of every example repository come
// back from the cache exactly as a load gives them, claims included; one
// with decrypted values is never cached.
func TestLoadCacheKeepsExamples(t *testing.T) {
	repos, _ := filepath.Glob("../examples/*/*/compose.yaml")
	seen := map[string]bool{}
	for _, file := range repos {
		repo := filepath.Dir(filepath.Dir(file))
		if seen[repo] {
			continue
		}
		seen[repo] = true
		t.Run(filepath.Base(repo), func(t *testing.T) {
			d := loadRepo(t, repo)
			if len(d.Broken) > 0 || len(d.Stacks) == 0 {
				t.Fatalf("the example does not load: %v", d.Broken)
			}
			f := roundTrip(t, d)
			if slices.ContainsFunc(slices.Collect(maps.Values(d.Stacks)), (*reconcile.Stack).Sensitive) {
				if f != nil {
					t.Fatal("a revision with decrypted values was cached")
				}
				return
			}
			if f == nil {
				t.Fatal("the cache refused the example")
			}
			if !reflect.DeepEqual(f.Stacks, d.Stacks) {
				t.Errorf("cached stacks differ (-load +cache):\n%s", cmp.Diff(d.Stacks, f.Stacks))
			}
		})
	}
	if len(seen) < 4 {
		t.Fatalf("found only %d example repositories", len(seen))
	}
}

// TestLoadCacheKeepsOrRefuses: a stack that uses much of what moor maps
// survives the cache as it is (a false *bool, ports, mounts, claims);
// what cannot survive is refused: a broken stack (its error would be
// text), a config's inline content (never written to disk), an empty list
// that JSON would read back as none, and compose's own fuzz seeds, which
// break.
func TestLoadCacheKeepsOrRefuses(t *testing.T) {
	rich := `services:
  app:
    image: app:1
    entrypoint: ["/app", "--flag"]
    init: false
    environment: {A: "1", B: ""}
    labels: {x: "y"}
    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp"]
    expose: ["81"]
    volumes: ["./data:/data", "./conf.txt:/conf.txt:ro", "named:/named", {type: tmpfs, target: /tmp, tmpfs: {size: 1024}}]
    configs: [{source: c, target: /c.txt}]
    healthcheck: {test: ["CMD", "/app", "health"], interval: 2s, retries: 3}
    depends_on: {db: {condition: service_healthy}}
    deploy: {replicas: 1, update_config: {parallelism: 1, order: start-first}, resources: {limits: {cpus: "0.5", memory: 64M}}}
    networks: {back: {aliases: [api]}}
    stop_grace_period: 5s
    read_only: true
    ulimits: {nofile: {soft: 100, hard: 200}}
    logging: {driver: json-file, options: {max-size: 1m}}
  db:
    image: db:1
    container_name: the-db
    healthcheck: {test: ["CMD", "true"]}
    networks: [back]
configs:
  c: {file: ./conf.txt}
networks:
  back: {ipam: {config: [{subnet: 10.9.0.0/24}]}}
volumes:
  named: {}
`
	inline := "services:\n  app:\n    image: app:1\n    configs: [c]\nconfigs:\n  c: {content: \"secret\"}\n"
	broken := "services:\n  app:\n    image: app:1\n    use_api_socket: true\n"
	seeds, _ := filepath.Glob("../compose/testdata/fuzz/FuzzLoad/*")
	if len(seeds) == 0 {
		t.Fatal("no compose testdata")
	}
	tests := []struct {
		name, compose string
		keep          bool
	}{
		{"rich", rich, true},
		{"inline content", inline, false},
		{"broken", broken, false},
		// nil is the image's entrypoint, empty none: JSON says both alike.
		{"empty entrypoint", "services:\n  app:\n    image: app:1\n    entrypoint: []\n", false},
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		// A corpus file: "go test fuzz v1", then []byte("...").
		_, v, _ := strings.Cut(string(b), "[]byte(")
		content, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ")")))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		tests = append(tests, struct {
			name, compose string
			keep          bool
		}{"seed " + filepath.Base(s), content, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			for p, content := range map[string]string{"web/compose.yaml": tt.compose, "web/conf.txt": "conf\n"} {
				if err := os.MkdirAll(filepath.Join(repo, filepath.Dir(p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(repo, p), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			d := loadRepo(t, repo)
			if tt.keep && len(d.Broken) > 0 {
				t.Fatalf("does not load: %v", d.Broken)
			}
			f := roundTrip(t, d)
			switch {
			case !tt.keep && f != nil:
				t.Errorf("the cache kept what it cannot keep exactly: broken %v", d.Broken)
			case tt.keep && f == nil:
				b, _ := json.Marshal(desiredFile{Stacks: d.Stacks})
				var back desiredFile
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				for name, st := range back.Stacks {
					st.Claims = d.Stacks[name].Claims
				}
				t.Errorf("the cache refused it (-load +JSON):\n%s", cmp.Diff(d.Stacks, back.Stacks))
			case tt.keep && !reflect.DeepEqual(f.Stacks, d.Stacks):
				t.Errorf("cached stacks differ (-load +cache):\n%s", cmp.Diff(d.Stacks, f.Stacks))
			}
			if tt.keep && len(d.Stacks["web"].Claims) == 0 {
				t.Errorf("the stack has no claims: the test shows nothing of them")
			}
		})
	}
}

// TestLoadCacheDamaged: a desired.json that is not JSON, of another
// version, or whose stacks are null is no cache.
func TestLoadCacheDamaged(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{\"version\": 1, \"load\": {\"key\": \"key\"}, \"stacks\": {",
		"other version": `{"version": 2, "load": {"key": "key"}, "stacks": {}}`,
		"null stack":    `{"version": 1, "load": {"key": "key"}, "stacks": {"web": null}}`,
		"no stacks":     `{"version": 1, "load": {"key": "key"}}`,
		"broken":        `{"version": 1, "load": {"key": "key"}, "stacks": {}, "broken": {"web": "x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir()
			if err := writeFileAtomic(desiredPath(state, "src"), []byte(content), false); err != nil {
				t.Fatal(err)
			}
			if f := cachedLoad(state, "src", "key"); f != nil {
				t.Errorf("cachedLoad = %+v, want nothing", f)
			}
		})
	}
}

// TestBuildID: the test binary's build ID is read, as go tool buildid
// prints it.
func TestBuildID(t *testing.T) {
	id := buildID()
	if id == "" || strings.Count(id, "/") < 1 {
		t.Fatalf("build ID %q", id)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfBuildID(filepath.Join(filepath.Dir(exe), "no-such-file")); err == nil {
		t.Error("a build ID from no file")
	}
}

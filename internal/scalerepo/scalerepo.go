// Package scalerepo writes deploy repositories of many small stacks, the
// input of moor's scale benchmarks (BENCHMARKS.md, "Scale: many stacks,
// many hosts").
//
// A stack is a compose file of one or two services and a .env, as a team
// would keep it: every service reads the repository's shared/common.env,
// every fourth stack's app extends shared/base.yaml, every fifth binds a
// configuration file of its own, every other one has a worker that
// depends on the app. Stacks lie at the repository's root (sNNNN), or, for
// a fleet, under hosts/hNNN/ (Layout.Hosts), the directory a host's source
// names as its path.
package scalerepo

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Layout is the shape of a generated repository.
type Layout struct {
	// Stacks is the number of stacks.
	Stacks int
	// Hosts, when above zero, spreads the stacks over as many host
	// directories, hosts/h001 to hosts/hNNN, stack i going to host
	// i mod Hosts; zero puts every stack at the root.
	Hosts int
}

// Images are the images the stacks run, for a fake engine to publish.
var Images = []string{"registry.invalid/shop/app:1.4", "registry.invalid/shop/worker:1.4"}

// Name returns the name of stack i (0-based): s0000, s0001...
func (l Layout) Name(i int) string { return fmt.Sprintf("s%04d", i) }

// Host returns the host directory of stack i (hosts/h001...), or "" when
// the layout has no hosts.
func (l Layout) Host(i int) string {
	if l.Hosts <= 0 {
		return ""
	}
	return fmt.Sprintf("hosts/h%03d", i%l.Hosts+1)
}

// Dir returns the directory of stack i, slash-separated and relative to
// the repository.
func (l Layout) Dir(i int) string { return path.Join(l.Host(i), l.Name(i)) }

// Services returns the number of services of the repository's stacks.
func (l Layout) Services() int {
	n := 0
	for i := range l.Stacks {
		n += 1 + (i+1)%2
	}
	return n
}

// Write writes the repository's files into dir, the working tree of a
// repository (made when missing).
func Write(dir string, l Layout) error {
	if l.Stacks <= 0 {
		return fmt.Errorf("scalerepo: %d stacks, want at least one", l.Stacks)
	}
	files := map[string]string{
		"shared/common.env": "TZ=UTC\nLOG_LEVEL=info\nLOG_FORMAT=json\nOTEL_EXPORTER_OTLP_ENDPOINT=http://otel.internal:4317\n",
		"shared/base.yaml": `services:
  base:
    restart: unless-stopped
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: "3"
    ulimits:
      nofile: 65536
`,
		"README.md": fmt.Sprintf("# deploy\n\n%d stacks, generated for moor's scale benchmarks.\n", l.Stacks),
	}
	for i := range l.Stacks {
		d := l.Dir(i)
		files[d+"/compose.yaml"] = l.compose(i)
		files[d+"/.env"] = l.env(i, 0)
		if i%5 == 0 {
			files[d+"/app.conf"] = fmt.Sprintf("[server]\nname = %s\nworkers = %d\n", l.Name(i), 2+i%7)
		}
	}
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("scalerepo: %w", err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return fmt.Errorf("scalerepo: %w", err)
		}
	}
	return nil
}

// Change rewrites the .env of stack i as its n-th change (n > 0), which
// changes the environment of its services, and returns the file's path
// relative to the repository.
func Change(dir string, l Layout, i, n int) (string, error) {
	p := l.Dir(i) + "/.env"
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(l.env(i, n)), 0o644); err != nil {
		return "", fmt.Errorf("scalerepo: change %s: %w", p, err)
	}
	return p, nil
}

func (l Layout) env(i, n int) string {
	return fmt.Sprintf("PORT=%d\nRELEASE=2026.12.%d\nFEATURE_FLAGS=search,checkout\n", 10000+i, n)
}

// compose is the compose file of stack i.
func (l Layout) compose(i int) string {
	up := strings.Repeat("../", strings.Count(l.Dir(i), "/")+1)
	name := l.Name(i)
	var b strings.Builder
	b.WriteString("services:\n  app:\n")
	if i%4 == 0 {
		fmt.Fprintf(&b, "    extends:\n      file: %sshared/base.yaml\n      service: base\n", up)
	}
	fmt.Fprintf(&b, `    image: %s
    env_file: [%sshared/common.env]
    environment:
      STACK: %s
      PORT: ${PORT}
      RELEASE: ${RELEASE}
      FEATURE_FLAGS: ${FEATURE_FLAGS}
    ports: ["127.0.0.1:${PORT}:8080"]
    healthcheck:
      test: ["CMD", "/app", "check"]
      interval: 10s
`, Images[0], up, name)
	if i%5 == 0 {
		b.WriteString("    volumes:\n      - ./app.conf:/etc/app.conf:ro\n")
	}
	if i%2 == 0 {
		fmt.Fprintf(&b, `  worker:
    image: %s
    command: ["worker", "--queue", "%s"]
    env_file: [%sshared/common.env]
    environment:
      RELEASE: ${RELEASE}
    depends_on:
      app:
        condition: service_healthy
`, Images[1], name, up)
	}
	return b.String()
}

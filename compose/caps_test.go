package compose

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLoadCaps: hostile input that would cost minutes of CPU or gigabytes
// of memory is refused by a cap, with an error naming the stack, the file
// and the limit.
func TestLoadCaps(t *testing.T) {
	var aliasChain strings.Builder // each anchor nests the previous one 60 deep
	aliasChain.WriteString("x-a0: &a0 x\n")
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&aliasChain, "x-a%d: &a%d %s*a%d%s\n", i, i, strings.Repeat("[", 60), i-1, strings.Repeat("]", 60))
	}
	var bomb strings.Builder // every line holds the one before it ten times
	bomb.WriteString("V0=" + strings.Repeat("x", 1000) + "\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&bomb, "V%d=%s\n", i, strings.Repeat(fmt.Sprintf("${V%d}", i-1), 10))
	}
	aliased := "x-v: &v '${BIG}'\n" + app + "    environment:\n"
	for i := range 300 {
		aliased += fmt.Sprintf("      E%d: *v\n", i)
	}
	var fat strings.Builder // a service of 100 KiB of labels
	fat.WriteString("services:\n  fat:\n    image: app:1\n    labels:\n")
	for i := 0; fat.Len() < 100<<10; i++ {
		fmt.Fprintf(&fat, "      label%d: value\n", i)
	}
	extending := func(extends string) string {
		var b strings.Builder
		b.WriteString(strings.TrimPrefix(fat.String(), "services:\n"))
		for i := range 1000 {
			fmt.Fprintf(&b, "  s%d: {extends: %s}\n", i, extends)
		}
		return "services:\n" + b.String()
	}

	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "deep flow nesting",
			files: map[string]string{"web/compose.yaml": app + "    x-deep: " + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "\n"},
			want:  []string{`compose file "web/compose.yaml": nested deeper than 64 levels`},
		},
		{
			name:  "deep block nesting",
			files: map[string]string{"web/compose.yaml": app + "    x-deep:\n      " + strings.Repeat("- ", 2000) + "x\n"},
			want:  []string{`compose file "web/compose.yaml": nested deeper than 64 levels`},
		},
		{
			name:  "deep nesting through aliases",
			files: map[string]string{"web/compose.yaml": aliasChain.String() + app},
			want:  []string{`compose file "web/compose.yaml": nested deeper than 64 levels`},
		},
		{
			name: "deep nesting in an included file",
			files: map[string]string{
				"web/compose.yaml": "include: [deep.yaml]\n" + app,
				"web/deep.yaml":    "x-deep: " + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "\n",
			},
			want: []string{`include "deep.yaml": nested deeper than 64 levels`},
		},
		{
			name:  "replicas",
			files: map[string]string{"web/compose.yaml": app + "    deploy:\n      replicas: 100000000\n"},
			want:  []string{"service app: deploy.replicas 100000000 is more than the limit of 1000"},
		},
		{
			name:  "scale",
			files: map[string]string{"web/compose.yaml": app + "    scale: 5000\n"},
			want:  []string{"service app: scale 5000 is more than the limit of 1000"},
		},
		{
			name:  "compose file too large",
			files: map[string]string{"web/compose.yaml": app + "    x-pad: " + strings.Repeat("x", 600<<10) + "\n"},
			want:  []string{`compose file "web/compose.yaml": too large`, "512 KiB"},
		},
		{
			name: "included files too large together",
			files: map[string]string{
				"web/compose.yaml": "include: [a.yaml, b.yaml]\n" + app,
				"web/a.yaml":       "x-pad: " + strings.Repeat("x", 300<<10) + "\n",
				"web/b.yaml":       "x-pad: " + strings.Repeat("y", 300<<10) + "\n",
			},
			want: []string{`include "b.yaml": too large`, "512 KiB"},
		},
		{
			name: "env_file too large",
			files: map[string]string{
				"web/compose.yaml": app + "    env_file: [big.env]\n",
				"web/big.env":      "BIG=" + strings.Repeat("x", 5<<20) + "\n",
			},
			want: []string{`service app: env_file "web/big.env": too large`, "4 MiB"},
		},
		{
			name: "variables that expand into gigabytes",
			files: map[string]string{
				"web/compose.yaml": app + "    environment: ['X=${V5}']\n",
				"web/.env":         bomb.String(),
			},
			want: []string{`.env "web/.env": variables expand to more than 16 MiB`},
		},
		{
			name:  "a large service extended a thousand times",
			files: map[string]string{"web/compose.yaml": extending("fat")},
			want:  []string{`compose file "web/compose.yaml": extends copies more than 16 MiB of services`},
		},
		{
			name:  "a service named by a variable extended a thousand times",
			files: map[string]string{"web/compose.yaml": extending("'${BASE}'"), "web/.env": "BASE=fat\n"},
			want:  []string{`compose file "web/compose.yaml": extends copies more than 16 MiB of services`},
		},
		{
			name: "a large file extended a thousand times",
			files: map[string]string{
				"web/compose.yaml": "services:\n" + extendingFile(1000),
				"web/fat.yaml":     fat.String(),
			},
			want: []string{`extends.file "fat.yaml": extends copies more than 16 MiB of services`},
		},
		{
			name:  "a mapping merged into every service",
			files: map[string]string{"web/compose.yaml": merged(3000, 2000)},
			want:  []string{`compose file "web/compose.yaml": aliases and merge keys expand it to more than 16 MiB`},
		},
		{
			name:  "port ranges",
			files: map[string]string{"web/compose.yaml": app + "    ports: ['1-65535:1-65535', '1-65535:1-65535/udp']\n"},
			want:  []string{"port ranges expand to more than 65536 ports"},
		},
		{
			name:  "expose ranges",
			files: map[string]string{"web/compose.yaml": exposing(200)},
			want:  []string{"port ranges expand to more than 65536 ports"},
		},
		{
			name: "an aliased value interpolated many times",
			files: map[string]string{
				"web/compose.yaml": aliased,
				"web/.env":         "BIG=" + strings.Repeat("x", 100<<10) + "\n",
			},
			want: []string{"variables expand to more than 16 MiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			h.write(t, tt.files, nil)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a backstop, not the assertion
			defer cancel()
			d, err := Load(ctx, h.repo, Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := d.Broken["web"]
			if got == nil {
				t.Fatalf("stack web loaded; want it refused")
			}
			for _, w := range append([]string{"stack web ("}, tt.want...) {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("error\n%.2000s\ndoes not contain\n%s", got, w)
				}
			}
			if n := len(got.Error()); n > 4096 {
				t.Errorf("error is %d bytes long", n)
			}
		})
	}
}

// TestDevZeroIsBounded: endless files are refused unread, so a load that
// meets one ends quickly and allocates little.
func TestDevZeroIsBounded(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
	}{
		{"env_file", map[string]string{"web/compose.yaml": app + "    env_file: [/dev/zero]\n"}, nil},
		{"label_file", map[string]string{"web/compose.yaml": app + "    label_file: [/dev/zero]\n"}, nil},
		{".env", map[string]string{"web/compose.yaml": app}, map[string]string{"web/.env": "/dev/zero"}},
		{"include", map[string]string{"web/compose.yaml": "include: [/dev/zero]\n" + app}, nil},
		{"include env_file", map[string]string{"web/compose.yaml": "include:\n  - path: lib.yaml\n    env_file: /dev/zero\n" + app, "web/lib.yaml": app}, nil},
		{"extends", map[string]string{"web/compose.yaml": app + "    extends:\n      file: /dev/zero\n      service: base\n"}, nil},
		{"config", map[string]string{"web/compose.yaml": app + "    configs: [c]\nconfigs:\n  c:\n    file: ./zero\n"}, map[string]string{"web/zero": "/dev/zero"}},
		{"compose file", nil, map[string]string{"web/compose.yaml": "/dev/zero"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			h.write(t, tt.files, tt.links)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a backstop, not the assertion
			defer cancel()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, err := Load(ctx, h.repo, Options{})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := d.Broken["web"]; got == nil || !strings.Contains(got.Error(), "outside the repository") {
				t.Errorf("Broken[web] = %v, want a refusal of the file outside the repository", got)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
				t.Errorf("the load allocated %d MiB", n>>20)
			}
		})
	}
}

// TestLoadStackHonoursContext: a cancelled load stops before compose-go
// parses anything, and says so.
func TestLoadStackHonoursContext(t *testing.T) {
	_, sd := mustLoadWeb(t, map[string]string{"web/compose.yaml": app}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := LoadStack(ctx, sd, Options{}); err == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Errorf("LoadStack with a cancelled context: err = %v, want %v", err, context.Canceled)
	}
}

// extendingFile is n services that extend the service fat of fat.yaml.
func extendingFile(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  s%d: {extends: {file: fat.yaml, service: fat}}\n", i)
	}
	return b.String()
}

// exposing is n services that expose every port.
func exposing(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d: {image: 'app:1', expose: ['1-65535']}\n", i)
	}
	return b.String()
}

// merged is n services that each merge a mapping of labels labels.
func merged(labels, n int) string {
	var b strings.Builder
	b.WriteString("x-big: &big\n  image: app:1\n  labels:\n")
	for i := range labels {
		fmt.Fprintf(&b, "    l%d: v\n", i)
	}
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d: {<<: *big}\n", i)
	}
	return b.String()
}

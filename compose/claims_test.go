package compose

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestClaimsAcrossStacks: two stacks that claim one host port or container
// name are both broken, each with a message that names both sides; the
// others load.
func TestClaimsAcrossStacks(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string // services of stacks a and b
		broken string // the error of both, "" for none
	}{
		{
			name:   "same port",
			a:      "  web:\n    image: x:1\n    ports: [\"8080:80\"]\n",
			b:      "  api:\n    image: x:1\n    ports: [\"9000:9000\", \"8080:8080\"]\n",
			broken: `stack a service web ports[0] "8080:80" and stack b service api ports[1] "8080:8080" both publish host port 8080/tcp; publish another host port in one of them`,
		},
		{
			name:   "a range overlaps a port",
			a:      "  web:\n    image: x:1\n    ports: [\"8000-8010:8000-8010\"]\n",
			b:      "  api:\n    image: x:1\n    ports: [\"8005:80\"]\n",
			broken: `stack a service web ports[0] "8000-8010:8000-8010" and stack b service api ports[0] "8005:80" both publish host port 8005/tcp`,
		},
		{
			name:   "an empty host IP overlaps every IP",
			a:      "  web:\n    image: x:1\n    ports: [\"127.0.0.1:8080:80\"]\n",
			b:      "  api:\n    image: x:1\n    ports: [\"8080:80\"]\n",
			broken: `both publish host port 127.0.0.1:8080/tcp`,
		},
		{
			name: "two host IPs",
			a:    "  web:\n    image: x:1\n    ports: [\"127.0.0.1:8080:80\"]\n",
			b:    "  api:\n    image: x:1\n    ports: [\"127.0.0.2:8080:80\"]\n",
		},
		{
			name: "two protocols",
			a:    "  web:\n    image: x:1\n    ports: [\"53:53/udp\"]\n",
			b:    "  api:\n    image: x:1\n    ports: [\"53:53\"]\n",
		},
		{
			name: "engine-picked ports",
			a:    "  web:\n    image: x:1\n    ports: [\"80\"]\n",
			b:    "  api:\n    image: x:1\n    ports: [\"80\"]\n",
		},
		{
			name:   "container_name twice",
			a:      "  web:\n    image: x:1\n    container_name: db\n",
			b:      "  db:\n    image: x:1\n    container_name: db\n",
			broken: `stack a service web container_name "db" and stack b service db container_name "db" both name container "db"; rename one`,
		},
		{
			name:   "container_name of another stack's replica",
			a:      "  web:\n    image: x:1\n    container_name: b-api-2\n",
			b:      "  api:\n    image: x:1\n    scale: 2\n",
			broken: `stack a service web container_name "b-api-2" and stack b service api replica 2 (its default name) both name container "b-api-2"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{
				"a/compose.yaml": "services:\n" + tt.a,
				"b/compose.yaml": "services:\n" + tt.b,
				"c/compose.yaml": "services:\n  other:\n    image: x:1\n    ports: [\"7000:80\"]\n",
			})
			d, err := Load(t.Context(), root, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.Stacks["c"]; !ok {
				t.Errorf("stack c did not load: %v", d.Broken["c"])
			}
			if tt.broken == "" {
				if len(d.Broken) > 0 {
					t.Errorf("broken: %v", d.Broken)
				}
				return
			}
			if got := slices.Sorted(maps.Keys(d.Stacks)); !slices.Equal(got, []string{"c"}) {
				t.Errorf("stacks = %v, want [c]", got)
			}
			for _, s := range []string{"a", "b"} {
				err := d.Broken[s]
				if err == nil || !strings.Contains(err.Error(), tt.broken) || !errors.Is(err, ErrConflict) {
					t.Errorf("stack %s: err = %v\nwant one containing %s", s, err, tt.broken)
				}
			}
		})
	}
}

// TestClaimsInsideAStack: two services of one stack, two entries of one
// service, and replicas of one service on a fixed host port.
func TestClaimsInsideAStack(t *testing.T) {
	tests := []struct {
		name, services, want string
	}{
		{
			name:     "two services",
			services: "  web:\n    image: x:1\n    ports: [\"8080:80\"]\n  api:\n    image: x:1\n    ports: [\"8080:8080\"]\n",
			want:     `stack web (web/compose.yaml): service api ports[0] "8080:8080" and service web ports[0] "8080:80" both publish host port 8080/tcp`,
		},
		{
			name:     "two entries of one service",
			services: "  web:\n    image: x:1\n    ports:\n      - 8080:80\n      - target: 81\n        published: 8080\n",
			want:     `stack web (web/compose.yaml): service web ports[0] "8080:80" and service web ports[1] "{target: 81, published: 8080}" both publish host port 8080/tcp`,
		},
		{
			name:     "replicas on one port",
			services: "  web:\n    image: x:1\n    ports: [\"8080:80\"]\n    deploy:\n      replicas: 3\n",
			want:     `stack web (web/compose.yaml): service web ports[0] "8080:80": 3 replicas cannot all publish host port 8080/tcp: the second cannot bind it; publish a range as wide as the replicas (8080-8082), or leave the host port out and let the engine pick`,
		},
		{
			name:     "replicas on a narrow range",
			services: "  web:\n    image: x:1\n    ports: [\"8080-8081:80\"]\n    scale: 3\n",
			want:     `service web ports[0] "8080-8081:80": 3 replicas cannot all publish host port 8080/tcp`,
		},
		{
			name:     "container_name of a replica",
			services: "  web:\n    image: x:1\n    container_name: web-api-1\n  api:\n    image: x:1\n",
			want:     `service api replica 1 (its default name) and service web container_name "web-api-1" both name container "web-api-1"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n" + tt.services}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConflict) {
				t.Errorf("err = %v\nwant one containing %s", err, tt.want)
			}
		})
	}
	// Replicas on a range as wide as they are, and on engine-picked
	// ports; a service with no replica, or on the host's network, holds
	// no port.
	for _, services := range []string{
		"  web:\n    image: x:1\n    ports: [\"8080-8082:80\", \"90\"]\n    scale: 3\n",
		"  web:\n    image: x:1\n    ports: [\"8080:80\"]\n  old:\n    image: x:1\n    ports: [\"8080:80\"]\n    scale: 0\n",
		"  web:\n    image: x:1\n    ports: [\"8080:80\"]\n  host:\n    image: x:1\n    network_mode: host\n    ports: [\"8080:80\"]\n",
	} {
		if _, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n" + services}, Options{}); err != nil {
			t.Errorf("%s: %v", services, err)
		}
	}
}

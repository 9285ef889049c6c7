package swarm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/swarm"
)

// BenchmarkEngineDeploy deploys a stack of six one-replica services on
// the test's swarm, and removes it, one service at a time and four at a
// time: go test ./swarm -run '^$' -bench EngineDeploy -benchtime 3x
func BenchmarkEngineDeploy(b *testing.B) {
	testkit.Swarm(b)
	img := testkit.TestImage(b)
	var compose strings.Builder
	compose.WriteString("services:\n")
	for i := range 6 {
		fmt.Fprintf(&compose, "  s%d:\n    image: %s\n    healthcheck: {test: [CMD, /testapp, health], interval: 1s}\n", i, img)
	}
	for _, parallel := range []int{1, 4} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			e, err := swarm.NewEngine(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			e.Parallel = parallel
			stack := "bench-deploy"
			testkit.CleanupSwarmStack(b, stack)
			d := load(b, stack, map[string]string{"compose.yaml": compose.String()})
			none := load(b, "bench-none", map[string]string{"compose.yaml": "services: {}\n"})
			for b.Loop() {
				converge(b, b.Context(), e, d)
				b.StopTimer()
				converge(b, b.Context(), e, none)
				b.StartTimer()
			}
		})
	}
}

package swarm_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
)

// Every test that needs a swarm lives in this package: the engine's
// swarm is initialised once (testkit.Swarm) and left here, as found.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := testkit.LeaveSwarm(); err != nil {
		fmt.Fprintln(os.Stderr, "leave swarm:", err)
		code = 1
	}
	os.Exit(code)
}

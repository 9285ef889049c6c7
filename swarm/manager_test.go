package swarm_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/swarm"
)

// fakeEngine answers /_ping and /info as an engine whose swarm is in the
// given state: the one fault the shared engine cannot show while the
// package's other tests use its swarm.
func fakeEngine(t *testing.T, state string, control bool) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/info"):
			json.NewEncoder(w).Encode(map[string]any{"Swarm": map[string]any{"LocalNodeState": state, "ControlAvailable": control}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "http://"))
}

// TestRefusedOffManager: a swarm source on an engine that is not a swarm
// manager is refused with an error that says so and what to do.
func TestRefusedOffManager(t *testing.T) {
	for _, tc := range []struct {
		state   string
		control bool
		want    string
	}{
		{"inactive", false, "runtime swarm: this Docker engine is not a swarm manager (swarm: inactive); run `docker swarm init` on it, or run moor on a manager"},
		{"active", false, "runtime swarm: this Docker engine is not a swarm manager (swarm: a worker); run `docker swarm init` on it, or run moor on a manager"},
	} {
		t.Run(tc.state, func(t *testing.T) {
			fakeEngine(t, tc.state, tc.control)
			e, err := swarm.NewEngine(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			err = e.CheckManager(t.Context())
			if err == nil || err.Error() != tc.want || !errors.Is(err, swarm.ErrNotManager) || fault.Of(err) != fault.Refused {
				t.Errorf("CheckManager: %v (class %v)\nwant %s (refused)", err, fault.Of(err), tc.want)
			}
		})
	}
	t.Run("manager", func(t *testing.T) {
		fakeEngine(t, "active", true)
		e, err := swarm.NewEngine(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if err := e.CheckManager(t.Context()); err != nil {
			t.Errorf("CheckManager on a manager: %v", err)
		}
	})
}

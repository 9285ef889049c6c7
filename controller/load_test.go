package controller_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
)

// TestLoadSeesTheWholeRepository: a source path is where the stacks are,
// not where the repository ends; a stack may use the repository's other
// files.
func TestLoadSeesTheWholeRepository(t *testing.T) {
	h := newHarness(t, map[string]string{
		"shared/common.env":          "COMMON=1\n",
		"hosts/one/web/compose.yaml": "services:\n  app:\n    image: app:1\n    env_file: [../../../shared/common.env]\n",
	}, func(s *config.Source) { s.Path = "hosts/one" })
	out, err := h.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Desired.Broken["web"]; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"COMMON=1"}, out.Desired.Stacks["web"].Services["app"].Spec.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
}

// TestLoadMaxReplicas: the source's max_replicas is the limit a stack's
// replicas are held to.
func TestLoadMaxReplicas(t *testing.T) {
	files := map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n    deploy:\n      replicas: 1500\n"}
	h := newHarness(t, files)
	out, err := h.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Desired.Broken["web"]; err == nil || !strings.Contains(err.Error(), "deploy.replicas 1500 is more than the limit of 1000") {
		t.Errorf("with the default limit: Broken[web] = %v", err)
	}
	h = newHarness(t, files, func(s *config.Source) { s.MaxReplicas = 1500 })
	if out, err = h.ctl.Plan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := out.Desired.Broken["web"]; err != nil {
		t.Errorf("with max_replicas 1500: Broken[web] = %v", err)
	}
}

// TestLoadHonoursTheTimeout: loading the stacks is held to the source's
// timeout, and a revision that takes longer is refused.
func TestLoadHonoursTheTimeout(t *testing.T) {
	h := newHarness(t, map[string]string{"web/compose.yaml": "services:\n  app:\n    image: app:1\n"},
		func(s *config.Source) { s.Timeout = time.Nanosecond })
	_, err := h.ctl.Plan(t.Context())
	if !errors.Is(err, controller.ErrRefused) || !strings.Contains(err.Error(), "longer than the source's timeout") {
		t.Errorf("err = %v, want the revision refused for its timeout", err)
	}
}

// TestDefaultMaxReplicas: the config file's default is the loader's.
func TestDefaultMaxReplicas(t *testing.T) {
	if config.DefaultMaxReplicas != compose.DefaultLimits.Replicas {
		t.Errorf("config.DefaultMaxReplicas %d != compose.DefaultLimits.Replicas %d", config.DefaultMaxReplicas, compose.DefaultLimits.Replicas)
	}
}

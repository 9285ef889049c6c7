package controller_test

import (
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
)

// TestStackHealth: what a canary host reports of a stack at its revision.
func TestStackHealth(t *testing.T) {
	const rev = "main@sha1:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	svc := func(stack, name, state string, health ...string) controller.ServiceReport {
		s := controller.ServiceReport{Stack: stack, Service: name, State: state}
		for _, h := range health {
			s.Containers = append(s.Containers, controller.ContainerReport{Name: stack + "-" + name + "-1", State: "running", Health: h})
		}
		return s
	}
	report := func(st controller.Status, rolling *controller.Rolling, svcs ...controller.ServiceReport) *controller.SourceReport {
		st.Revision = rev
		return &controller.SourceReport{Status: &st, Rolling: rolling, Services: svcs}
	}
	for _, tt := range []struct {
		name        string
		r           *controller.SourceReport
		health, why string
	}{
		{"no run", nil, controller.HealthPending, "no run yet"},
		{"in sync", report(controller.Status{}, nil, svc("web", "api", controller.StateInSync, "healthy"), svc("db", "pg", controller.StateDrifted)),
			controller.HealthHealthy, ""},
		{"a container starting", report(controller.Status{}, nil, svc("web", "api", controller.StateInSync, "starting")),
			controller.HealthPending, "container web-api-1 starting"},
		{"suspended", report(controller.Status{}, nil, svc("web", "api", controller.StateSuspended)),
			controller.HealthPending, "service web/api suspended"},
		{"rolling out", report(controller.Status{}, &controller.Rolling{Revision: rev, Started: time.Now()}, svc("web", "api", controller.StateRollingOut)),
			controller.HealthPending, "applying main@1a2b3c4"},
		{"its rollout failed at the revision", report(controller.Status{Failures: map[string]controller.Failure{
			"web/api": {Revision: rev, Reason: "new container is unhealthy"}, "webx/api": {Revision: rev, Reason: "another stack"}}}, nil,
			svc("web", "api", controller.StateDegraded)),
			controller.HealthFailed, "service web/api: new container is unhealthy"},
		{"a failure of an older revision", report(controller.Status{Failures: map[string]controller.Failure{
			"web/api": {Revision: "main@sha1:9f8e7d6c5b4a392817f6e5d4c3b2a1908f7e6d5c", Reason: "old"}}}, nil,
			svc("web", "api", controller.StateInSync, "healthy")),
			controller.HealthHealthy, ""},
		{"blocked", report(controller.Status{}, nil, svc("web", "api", controller.StateBlocked)),
			controller.HealthFailed, "service web/api blocked: "},
		{"broken", report(controller.Status{Broken: map[string]string{"web": "bad compose"}}, nil),
			controller.HealthFailed, "broken: bad compose"},
		{"not run here", report(controller.Status{}, nil, svc("db", "pg", controller.StateInSync)),
			controller.HealthPending, "does not run stack web"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			health, why := tt.r.StackHealth("web")
			if health != tt.health || why != tt.why {
				t.Errorf("StackHealth = %s, %q; want %s, %q", health, why, tt.health, tt.why)
			}
		})
	}
}

package controller

import (
	"testing"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/reconcile"
)

// TestConcerns: an engine event asks a source for a drift check when it
// is about one of the source's containers, or a network or volume the
// source had at its last observe, and the source's own apply is not
// running ops (their events are its own, and the apply observes after).
func TestConcerns(t *testing.T) {
	c := New(config.Source{Name: "prod"}, t.TempDir(), nil, nil, nil)
	c.observed(&reconcile.Observed{
		Networks: []reconcile.Network{{Name: "web_default", Source: "prod"}, {Name: "db_default", Source: "stage"}},
		Volumes:  []reconcile.Volume{{Name: "web_data", Source: "prod"}},
	})
	cases := []struct {
		ev   reconcile.Event
		want bool
	}{
		{reconcile.Event{Kind: reconcile.EventContainer, Action: "die", Name: "web-app-1", Stack: "web", Source: "prod"}, true},
		{reconcile.Event{Kind: reconcile.EventContainer, Action: "die", Name: "web-app-1", Stack: "web", Source: "stage"}, false},
		{reconcile.Event{Kind: reconcile.EventNetwork, Action: "destroy", Name: "web_default"}, true},
		{reconcile.Event{Kind: reconcile.EventNetwork, Action: "disconnect", Name: "db_default"}, false},
		{reconcile.Event{Kind: reconcile.EventNetwork, Action: "destroy", Name: "bridge"}, false},
		{reconcile.Event{Kind: reconcile.EventVolume, Action: "destroy", Name: "web_data"}, true},
		{reconcile.Event{Kind: reconcile.EventVolume, Action: "destroy", Name: "other_data"}, false},
	}
	for _, tc := range cases {
		if got := c.concerns(tc.ev); got != tc.want {
			t.Errorf("concerns(%+v) = %v, want %v", tc.ev, got, tc.want)
		}
	}
	c.drift.applying.Add(1)
	for _, tc := range cases {
		if c.concerns(tc.ev) {
			t.Errorf("concerns(%+v) while the source's ops run: want false, the event is its own", tc.ev)
		}
	}
	c.drift.applying.Add(-1)
	if !c.concerns(cases[0].ev) {
		t.Error("an event after the apply's ops is not the source's own")
	}
}

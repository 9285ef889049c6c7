package runtime_test

import (
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerEvents: a container of moor's stopped and removed, a network
// and a volume removed are reported, with the container's stack and
// source; a container without moor's labels is not.
func TestDockerEvents(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	img := testkit.TestImage(t)
	ctx := t.Context()
	evs, errc, err := d.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}

	id := create(t, d, stack, "web", 1, reconcile.ContainerSpec{Image: img})
	bystander := testkit.RunByHand(t, stack, stack+"-bystander", img)
	netName, volName := stack+"_default", stack+"_data"
	if err := d.CreateNetwork(ctx, reconcile.NetworkSpec{Name: netName}, map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, reconcile.VolumeSpec{Name: volName}, map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}); err != nil {
		t.Fatal(err)
	}
	grace := time.Duration(0)
	if err := d.StopContainer(ctx, id, &grace); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := testkit.Docker(t).ContainerRemove(ctx, bystander, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveNetwork(ctx, netName); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveVolume(ctx, volName); err != nil {
		t.Fatal(err)
	}

	want := map[string]bool{"container die": false, "container stop": false, "container destroy": false,
		"network destroy": false, "volume destroy": false}
	timeout := time.After(30 * time.Second)
	for done := 0; done < len(want); {
		select {
		case ev := <-evs:
			if ev.ID == bystander {
				t.Errorf("an event of a container without moor's labels: %+v", ev)
			}
			mine := ev.Kind == reconcile.EventContainer && ev.ID == id ||
				ev.Kind == reconcile.EventNetwork && ev.Name == netName ||
				ev.Kind == reconcile.EventVolume && ev.Name == volName
			if !mine {
				continue // another test's, on the same engine
			}
			if ev.Kind == reconcile.EventContainer && (ev.Stack != stack || ev.Source != "test") {
				t.Errorf("container event %+v: want stack %s, source test", ev, stack)
			}
			key := ev.Kind + " " + ev.Action
			if seen, ok := want[key]; ok && !seen {
				want[key] = true
				done++
			}
		case err := <-errc:
			t.Fatalf("the stream ended: %v", err)
		case <-timeout:
			t.Fatalf("events seen after 30s: %v", want)
		}
	}
}

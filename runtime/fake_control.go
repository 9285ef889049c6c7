package runtime

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/moor-dev/moor/reconcile"
)

// This file is the test side of Fake: setting up images, injecting faults,
// counting calls, and changes made "by hand" behind moor's back. None of
// these count as calls or trip faults.

// methods are the reconcile.Runtime methods faults can be injected into.
var methods = []string{
	"Observe", "Pull", "RegistryDigest", "Build", "CreateNetwork", "RemoveNetwork", "CreateVolume", "RemoveVolume",
	"CreateContainer", "Expose", "StartContainer", "StopContainer", "RemoveContainer",
	"RenameContainer", "InspectContainer", "Logs", "Exec",
}

// injected makes calls of method on name fail with err.
type injected struct {
	method, name string
	err          error
	once         bool
}

// FailOnce makes the next call of method (a reconcile.Runtime method name,
// "StartContainer") on name fail with err, once: the fault is gone after it
// fired. name is a container's name or ID, a network's or volume's name,
// an image reference, or "*" for any. Observe takes "*". The error is
// wrapped as the method wraps its own.
func (f *Fake) FailOnce(method, name string, err error) { f.addFault(method, name, err, true) }

// FailAlways is FailOnce that sticks until ClearFaults.
func (f *Fake) FailAlways(method, name string, err error) { f.addFault(method, name, err, false) }

// ClearFaults removes every injected fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

func (f *Fake) addFault(method, name string, err error, once bool) {
	if !slices.Contains(methods, method) {
		panic(fmt.Sprintf("runtime.Fake: no method %q to fail", method))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &injected{method: method, name: name, err: err, once: once})
}

// fault returns the error of the first fault on method matching one of
// names, and drops it if it fires once. The caller holds f.mu.
func (f *Fake) fault(method string, names ...string) error {
	for i, flt := range f.faults {
		if flt.method != method || (flt.name != "*" && !slices.Contains(names, flt.name)) {
			continue
		}
		if flt.once {
			f.faults = slices.Delete(f.faults, i, i+1)
		}
		return flt.err
	}
	return nil
}

// Calls returns how many times each method was called, faults included.
func (f *Fake) Calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls)
}

// Journal returns every change asked of the fake since it was made or
// since ResetCalls, in order, one line each: the method, the container's
// name at the time (or the network, volume or image), and whether the call
// failed: "StopContainer web-api-1", "RenameContainer web-api-1 ->
// web-api-1-retired", "StartContainer web-api-3-candidate: failed".
func (f *Fake) Journal() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

// journal appends one call to the journal. The caller holds f.mu.
func (f *Fake) journal(err *error, method, subject string) {
	line := method + " " + subject
	if *err != nil {
		line += ": failed"
	}
	f.changes = append(f.changes, line)
}

// label names a container by its current name, or as given when there is
// none. The caller holds f.mu.
func (f *Fake) label(idOrName string) string {
	if c := f.find(idOrName); c != nil {
		return c.name
	}
	return idOrName
}

// ResetCalls sets every call count back to zero and empties the journal.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
	f.changes = nil
}

// AddImage makes ref a local image with ID id, as if built or pulled; a
// ref that exists moves to id (a tag move).
func (f *Fake) AddImage(ref, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[familiarRef(ref)] = id
}

// Publish makes ref pullable as image id; a published ref moves to id (a
// tag pushed again).
func (f *Fake) Publish(ref, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registry[familiarRef(ref)] = id
}

// Unpublish makes ref unpullable.
func (f *Fake) Unpublish(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.registry, familiarRef(ref))
}

// LabelImage gives the local image ref the labels of a LABEL line: a
// container made from it carries them too, as the engine's do.
func (f *Fake) LabelImage(ref string, labels map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imgLabels[f.images[familiarRef(ref)]] = maps.Clone(labels)
}

// RunByHand starts a container of the local image ref as `docker run
// --name name` would: with no labels but the image's.
func (f *Fake) RunByHand(name, ref string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(name) != nil {
		panic(fmt.Sprintf("runtime.Fake: container name %q is taken", name))
	}
	imageID, ok := f.images[familiarRef(ref)]
	if !ok {
		panic(fmt.Sprintf("runtime.Fake: no local image %q", ref))
	}
	c := &fakeContainer{
		id: f.nextID("container"), name: name, spec: reconcile.ContainerSpec{Image: ref},
		labels: maps.Clone(f.imgLabels[imageID]), imageID: imageID, state: reconcile.StateRunning,
		created: fakeEpoch.Add(time.Duration(f.seq) * time.Second),
	}
	if c.labels == nil {
		c.labels = map[string]string{}
	}
	f.containers[c.id] = c
	return c.id
}

// UnhealthyImage makes the healthcheck of containers of ref fail: their
// health goes from "starting" to "unhealthy". ref is a reference, or an
// image ID: a tag pushed again whose new image is broken.
func (f *Fake) UnhealthyImage(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unhealthy[familiarRef(ref)] = true
}

// CrashImage makes containers of ref exit with code 1 as soon as they
// start ("restarting" under a restart policy that restarts on failure).
func (f *Fake) CrashImage(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crash[familiarRef(ref)] = true
}

// fakeJob is what a container of a job's image does when it starts.
type fakeJob struct {
	code   int
	output []string
}

// JobImage makes containers of ref run to completion as soon as they
// start: they print output, one line each, and exit with code, whatever
// their restart policy.
func (f *Fake) JobImage(ref string, code int, output ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[familiarRef(ref)] = fakeJob{code: code, output: output}
}

// mustFind resolves a container for a hand change; a test naming a
// container that does not exist is broken. The caller holds f.mu.
func (f *Fake) mustFind(name string) *fakeContainer {
	c := f.find(name)
	if c == nil {
		panic(fmt.Sprintf("runtime.Fake: no container %q", name))
	}
	return c
}

// StopByHand stops a container as `docker stop` would (exit code 0).
func (f *Fake) StopByHand(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mustFind(name).stop(0)
}

// Exit makes a running container's process exit with code.
func (f *Fake) Exit(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mustFind(name).stop(code)
}

// RemoveByHand removes a container as `docker rm -f` would.
func (f *Fake) RemoveByHand(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, f.mustFind(name).id)
}

// RenameByHand renames a container as `docker rename` would. The new name
// must be free.
func (f *Fake) RenameByHand(old, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.mustFind(old)
	if other := f.find(name); other != nil && other != c {
		panic(fmt.Sprintf("runtime.Fake: rename %s: %q is taken", old, name))
	}
	c.name = name
}

// SetHealth sets a container's health and pins it: it keeps that health,
// and has it again after each start once its check settles.
func (f *Fake) SetHealth(name, health string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.mustFind(name)
	c.pinned = health
	if c.state == reconcile.StateRunning {
		c.health = health
	}
}

// AddUnmanaged adds a running container without moor's labels, of image
// "busybox:latest" (added as a local image if missing), as a user would
// start by hand. Observe does not list it; it holds its name. It returns
// the container's ID.
func (f *Fake) AddUnmanaged(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(name) != nil {
		panic(fmt.Sprintf("runtime.Fake: container name %q is taken", name))
	}
	const image = "busybox:latest"
	if _, ok := f.images[image]; !ok {
		f.images[image] = "sha256:" + f.nextID("image")
	}
	c := &fakeContainer{
		id: f.nextID("container"), name: name, spec: reconcile.ContainerSpec{Image: image},
		labels: map[string]string{}, imageID: f.images[image], state: reconcile.StateRunning,
		created: fakeEpoch.Add(time.Duration(f.seq) * time.Second),
	}
	f.containers[c.id] = c
	return c.id
}

// Exposed reports whether a container gets traffic by its aliases: created
// under a canonical name, or exposed since.
func (f *Fake) Exposed(idOrName string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mustFind(idOrName).exposed
}

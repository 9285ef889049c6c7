package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Rolling is an apply under way: what status shows as "rolling-out".
type Rolling struct {
	Revision string    `json:"revision"`
	Started  time.Time `json:"started"`
	// Services are the services the apply changes, by "stack/service".
	Services []string `json:"services"`
}

// While an apply runs, STATE/sources/NAME/rollout.json says what it
// changes, and the applying process holds a lock on it: a marker whose
// lock is free was left by a process that died, and means nothing.
func rolloutPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "rollout.json")
}

// beginRollout records that out's plan is being applied, for this
// process's status and for `moor status` in another; the returned func
// ends it.
func (c *Controller) beginRollout(out *Outcome) (end func()) {
	r := &Rolling{Revision: out.Desired.Revision, Started: time.Now()}
	for key := range out.Plan.ServiceOps() {
		r.Services = append(r.Services, key)
	}
	c.mu.Lock()
	if c.report != nil {
		c.report = c.report.rollingOut(r)
	}
	c.mu.Unlock()
	c.deployStarted(out, r)
	if c.WorkDir != "" {
		return func() {}
	}
	path := rolloutPath(c.StateDir, c.Source.Name)
	f, err := c.lockedMarker(path, r)
	if err != nil {
		c.Log.Warn("record the rollout for moor status", zap.Error(err))
		return func() {}
	}
	return func() {
		os.Remove(path)
		f.Close() // releases the lock
	}
}

func (c *Controller) lockedMarker(path string, r *Rolling) (*os.File, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRolling returns the apply under way for a source, or nil when none
// is (no marker, or one whose process is gone).
func readRolling(stateDir, source string) *Rolling {
	f, err := os.Open(rolloutPath(stateDir, source))
	if err != nil {
		return nil
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return nil // nobody holds it: stale
	}
	var r Rolling
	if json.NewDecoder(f).Decode(&r) != nil {
		return nil
	}
	return &r
}

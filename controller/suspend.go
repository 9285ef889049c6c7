package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"time"
)

// Suspensions: an operator stops a source, or one stack of it, from
// changing the host (`moor suspend SOURCE [STACK]`, the API's Suspend)
// until it is resumed. They live in STATE/sources/NAME/suspended.json,
// written atomically by whoever suspends (a `moor suspend` of another
// process included) and read by the controller at the start of every run:
// a running `moor run` honours them at its next trigger, whatever the
// trigger (schedule, webhook, watch, engine event, image check, startup),
// without a restart. A suspended stack's ops are planned and held
// (reconcile.Constraints.Suspended), so plan and status say what waits.

// Suspension is one suspended stack, or the whole source (Stack "").
type Suspension struct {
	Stack string    `json:"stack,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Reason is how a suspension is explained in plans, status and logs.
func (s Suspension) Reason() string {
	return fmt.Sprintf("suspended (by %s at %s)", s.By, s.At.UTC().Format(time.RFC3339))
}

// Target names what is suspended: "stack NAME" or "the whole source".
func (s Suspension) Target() string {
	if s.Stack == "" {
		return "the whole source"
	}
	return "stack " + s.Stack
}

var stackNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func suspensionsPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "suspended.json")
}

// ReadSuspensions reads the suspensions of a source, sorted by stack (the
// whole source first); none when it has none. The error names the file.
func ReadSuspensions(stateDir, source string) ([]Suspension, error) {
	path := suspensionsPath(stateDir, source)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ss []Suspension
	if err := json.Unmarshal(b, &ss); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	slices.SortFunc(ss, func(a, b Suspension) int {
		switch {
		case a.Stack < b.Stack:
			return -1
		case a.Stack > b.Stack:
			return 1
		}
		return 0
	})
	return ss, nil
}

// SuspendSource suspends stack of source ("" the whole source) in the
// state dir, on behalf of by, at now. Suspending what is suspended
// already keeps the first suspension.
func SuspendSource(stateDir, source, stack, by string, now time.Time) error {
	if stack != "" && !stackNameRE.MatchString(stack) {
		return fmt.Errorf("suspend: %q is not a stack name", stack)
	}
	if by == "" {
		by = "unknown"
	}
	return editSuspensions(stateDir, source, func(m map[string]Suspension) {
		if _, ok := m[stack]; !ok {
			m[stack] = Suspension{Stack: stack, By: by, At: now.UTC().Truncate(time.Second)}
		}
	})
}

// ResumeSource ends the suspension of stack of source ("" the whole
// source's; the suspensions of its stacks stay). Resuming what is not
// suspended does nothing.
func ResumeSource(stateDir, source, stack string) error {
	return editSuspensions(stateDir, source, func(m map[string]Suspension) { delete(m, stack) })
}

// editSuspensions changes a source's suspensions under a lock, so that
// two processes suspending at once both count, and writes them atomically.
func editSuspensions(stateDir, source string, edit func(map[string]Suspension)) error {
	path := suspensionsPath(stateDir, source)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	ss, err := ReadSuspensions(stateDir, source)
	if err != nil {
		return err
	}
	m := map[string]Suspension{}
	for _, s := range ss {
		m[s.Stack] = s
	}
	edit(m)
	if len(m) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	out := make([]Suspension, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, true)
}

// suspendedReasons are the suspensions as the planner takes them: why, by
// stack ("" the whole source).
func suspendedReasons(ss []Suspension) map[string]string {
	if len(ss) == 0 {
		return nil
	}
	m := make(map[string]string, len(ss))
	for _, s := range ss {
		m[s.Stack] = s.Reason()
	}
	return m
}

// Suspend stops stack ("" the whole source) from changing the host until
// Resume, on behalf of by (who asked, as the ledger and status show it).
// It is honoured from the next run on, whatever triggers it; an apply
// under way finishes.
func (c *Controller) Suspend(stack, by string) error {
	if err := SuspendSource(c.StateDir, c.Source.Name, stack, by, time.Now()); err != nil {
		return err
	}
	c.noteSuspensions()
	return nil
}

// Resume ends the suspension of stack ("" the whole source) and asks for
// a run, which applies what waited.
func (c *Controller) Resume(stack string) error {
	if err := ResumeSource(c.StateDir, c.Source.Name, stack); err != nil {
		return err
	}
	c.noteSuspensions()
	c.Trigger()
	return nil
}

// Suspensions are the source's suspensions as they are now, sorted by
// stack, the whole source ("") first.
func (c *Controller) Suspensions() ([]Suspension, error) {
	return ReadSuspensions(c.StateDir, c.Source.Name)
}

// noteSuspensions updates the metric and the served report with the
// suspensions as they are now.
func (c *Controller) noteSuspensions() {
	ss, err := c.Suspensions()
	if err != nil {
		return // the next run reports it
	}
	c.Metrics.suspended(c.Source.Name, ss)
	c.mu.Lock()
	if c.report != nil {
		next := *c.report
		if next.Status != nil {
			st := *next.Status
			st.Suspended = ss
			next.Status = &st
		}
		c.report = &next
	}
	c.mu.Unlock()
}

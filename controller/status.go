package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
)

// Status is what moor last knew of one source, kept in
// STATE/sources/NAME/status.json so `moor status` can show it without
// contacting the repository.
type Status struct {
	Source string `json:"source"`
	Repo   string `json:"repo"`
	Ref    string `json:"ref"`
	Path   string `json:"path,omitempty"`

	// Revision is the revision the last run resolved (the desired one).
	Revision string    `json:"revision,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	LastRun  time.Time `json:"last_run"`
	Result   string    `json:"result"`
	Error    string    `json:"error,omitempty"`
	// Applied is the last revision the host fully matched, and when.
	Applied      string    `json:"applied,omitempty"`
	AppliedAt    time.Time `json:"applied_at,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// UnreachableSince is when the repository stopped answering; zero
	// while it answers.
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`

	Broken  map[string]string `json:"broken,omitempty"`  // stack -> why
	Blocked map[string]string `json:"blocked,omitempty"` // stack/service -> why
	// Services is what the revision wants, by "stack/service".
	Services map[string]DesiredService `json:"services,omitempty"`
	// Failures are the services whose rollout failed, by "stack/service".
	Failures map[string]Failure `json:"failures,omitempty"`
	// Drift lists what would repair the host, under drift: report.
	Drift []string `json:"drift,omitempty"`
}

// DesiredService is what a revision wants of one service.
type DesiredService struct {
	Replicas int    `json:"replicas"`
	Image    string `json:"image"`
	Hash     string `json:"hash"`
	// OneShot: a job whose exit with code 0 is completion, not drift.
	OneShot bool `json:"one_shot,omitempty"`
}

func statusPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "status.json")
}

// ReadStatus reads the status of one source; a source that never ran has
// none (fs.ErrNotExist).
func ReadStatus(stateDir, source string) (*Status, error) {
	b, err := os.ReadFile(statusPath(stateDir, source))
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read status of %s: %w", source, err)
	}
	return &s, nil
}

// ReadAllStatus reads the status of every source under the state dir.
func ReadAllStatus(stateDir string) ([]*Status, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "sources"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Status
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := ReadStatus(stateDir, e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Controller) writeStatus(out *Outcome, rec *ledger.Record, runErr error) error {
	if c.WorkDir != "" {
		return nil
	}
	prev, err := ReadStatus(c.StateDir, c.Source.Name)
	if err != nil {
		prev = &Status{}
	}
	s := &Status{
		Source: c.Source.Name, Repo: c.Source.Repo, Ref: c.Source.Ref, Path: c.Source.Path,
		Revision: rec.Revision, Subject: rec.Subject, LastRun: rec.Finished, Result: rec.Result, Error: rec.Error,
		Applied: prev.Applied, AppliedAt: prev.AppliedAt, FailingSince: prev.FailingSince,
		Services: prev.Services, Broken: prev.Broken, Blocked: prev.Blocked,
		Failures: prev.Failures, UnreachableSince: prev.UnreachableSince,
	}
	switch {
	case !errors.Is(runErr, gitsource.ErrUnreachable):
		s.UnreachableSince = time.Time{}
	case s.UnreachableSince.IsZero():
		s.UnreachableSince = rec.Started
	}
	if c.failures != nil {
		s.Failures = c.failures
	}
	if out != nil && out.Drift != nil {
		for _, op := range out.Drift.Ops {
			s.Drift = append(s.Drift, op.String())
		}
	}
	if rec.Revision == "" {
		s.Revision, s.Subject = prev.Revision, prev.Subject
	}
	switch rec.Result {
	case ResultSuccess, ResultNoop:
		s.Applied, s.AppliedAt, s.FailingSince = rec.Revision, rec.Finished, time.Time{}
	case ResultDrift:
		s.FailingSince = time.Time{}
	default:
		if s.FailingSince.IsZero() {
			s.FailingSince = rec.Finished
		}
	}
	if out != nil && out.Desired != nil {
		s.Services = map[string]DesiredService{}
		forEachService(out.Desired, func(stack string, svc *reconcile.Service) {
			s.Services[stack+"/"+svc.Name] = DesiredService{Replicas: svc.Replicas, Image: svc.Spec.Image, Hash: svc.Hash, OneShot: svc.OneShot()}
		})
		s.Broken, s.Blocked = nil, nil
		if out.Remaining != nil {
			s.Broken, s.Blocked = out.Remaining.Broken, out.Remaining.Blocked
		} else if out.Plan != nil {
			s.Broken, s.Blocked = out.Plan.Broken, out.Plan.Blocked
		}
	}
	c.Metrics.observe(c.Source.Name, s, rec.Duration())
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(statusPath(c.StateDir, c.Source.Name), b)
}

// writeFileAtomic writes a file so that a reader, or a crash, sees either
// the old content or the new, never a mix.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

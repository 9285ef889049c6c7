package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Status is what the last run of one source found, kept in
// STATE/sources/NAME/status.json so that `moor status` can show it without
// contacting the repository. It is output only: the controller never reads
// it back (its own memory between runs is in decisions.json).
type Status struct {
	Source string `json:"source"`
	Repo   string `json:"repo"` // redacted (repourl.Redact)
	Ref    string `json:"ref"`
	Path   string `json:"path,omitempty"`

	// Revision is the revision the last run resolved (the desired one).
	Revision string    `json:"revision,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	LastRun  time.Time `json:"last_run"`
	// LastDriftCheck is when a run last observed the engine: a poll of an
	// unchanged source does only when a drift check is due.
	LastDriftCheck time.Time `json:"last_drift_check,omitzero"`
	// LastImageCheck is the last time image_updates asked the registry
	// whether the source's tags moved, and what it found.
	LastImageCheck *ImageCheck `json:"last_image_check,omitempty"`
	Result         string      `json:"result"`
	Error          string      `json:"error,omitempty"`
	// ErrorClass is fault.Of the run's error: engine-unavailable,
	// source-unreachable, transient, refused or held.
	ErrorClass string `json:"error_class,omitempty"`
	// Applied is the last revision the host fully matched, and when.
	Applied      string    `json:"applied,omitempty"`
	AppliedAt    time.Time `json:"applied_at,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// UnreachableSince is when the repository stopped answering; zero
	// while it answers.
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`

	Broken  map[string]string `json:"broken,omitempty"`  // stack -> why
	Blocked map[string]string `json:"blocked,omitempty"` // stack/service -> why
	Held    map[string]string `json:"held,omitempty"`    // stack/service -> why
	// Conflicts are stacks holding another owner's containers, by name.
	Conflicts map[string]string `json:"conflicts,omitempty"`
	// Failures are the services whose rollout failed, by "stack/service".
	Failures map[string]Failure `json:"failures,omitempty"`
	// Drift lists what would repair the host, under drift: report.
	Drift []string `json:"drift,omitempty"`
	// Suspended are the source's suspensions (moor suspend): the whole
	// source (stack "") or stacks of it.
	Suspended []Suspension `json:"suspended,omitempty"`
	// Window, when the source's deploy window held the last run's ops,
	// says so: "waiting for window (opens at T)".
	Window string `json:"window,omitempty"`
	// Canary are the stacks whose change the last run held for their
	// canary hosts, by name, with why (canary.go).
	Canary map[string]string `json:"canary,omitempty"`
	// Waiting are the ops the last run held (suspensions, window), each
	// with why.
	Waiting []string `json:"waiting,omitempty"`
	// Warnings are the last things an apply did that the operator must
	// hear of (data made anew), newest first.
	Warnings []Warning `json:"warnings,omitempty"`
}

func statusPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "status.json")
}

// ReadStatus reads the status of one source; a source that never ran has
// none (fs.ErrNotExist). The error names the file.
func ReadStatus(stateDir, source string) (*Status, error) {
	path := statusPath(stateDir, source)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Source == "" {
		s.Source = source
	}
	return &s, nil
}

// sourceNames lists the sources that have a directory under the state dir.
func sourceNames(stateDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "sources"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// writeFileAtomic writes a file so that a reader, or a crash, sees either
// the old content or the new, never a mix. With durable, the content is
// on disk before the file is replaced; without, a power cut may lose the
// new content (fine for output that the next run writes again).
func writeFileAtomic(path string, data []byte, durable bool) error {
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
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

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

// decisions are what a source's controller remembers from one run to the
// next to decide what the next one does: the revision the host last
// matched (history rewrites, drift: report), the rollouts that failed
// (held services), and since when it fails or cannot reach its repository.
// They live in STATE/sources/NAME/decisions.json, a small versioned file
// of their own: the status file is output and is never read back.
type decisions struct {
	Version int `json:"version"`
	// Applied is the last revision the host fully matched, and when.
	Applied   string    `json:"applied,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// FailingSince is when runs started to fail; zero while they succeed.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// UnreachableSince is when the repository stopped answering.
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`
	// Failures are the services whose rollout failed, by "stack/service".
	Failures map[string]Failure `json:"failures,omitempty"`
	// Adopted are the containers docker compose made that this instance
	// took over, by ID, with their "stack/service".
	Adopted map[string]string `json:"adopted,omitempty"`
	// Ran are the stacks converged here before, with when first: what they
	// lack later (a volume, a data directory) is data that should be there.
	Ran map[string]time.Time `json:"ran,omitempty"`
	// Warnings are the last things the operator must hear of (data made
	// anew), newest first, at most maxWarnings.
	Warnings []Warning `json:"warnings,omitempty"`
	// Needs are the stacks each stack needed (x-moor.depends_on) as of the
	// last revision that held it, until it is gone from the host: a stack
	// removed from git is removed after those that needed it.
	Needs map[string][]string `json:"needs,omitempty"`
}

// Warning is one thing an apply did that the operator must hear of.
type Warning struct {
	At       time.Time `json:"at"`
	Revision string    `json:"revision"`
	Message  string    `json:"message"`
}

const maxWarnings = 10

// decisionsVersion is the format of decisions.json. A file of another
// version is not guessed at: the controller starts afresh and says so.
const decisionsVersion = 1

func decisionsPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "decisions.json")
}

// readDecisions reads a source's decisions. A source that never ran has
// none. A state dir written before decisions had their own file keeps
// them in status.json: they are taken from there, once.
func readDecisions(stateDir, source string) (*decisions, error) {
	b, err := os.ReadFile(decisionsPath(stateDir, source))
	if errors.Is(err, fs.ErrNotExist) {
		return migrateDecisions(stateDir, source), nil
	}
	if err != nil {
		return &decisions{}, err
	}
	var d decisions
	if err := json.Unmarshal(b, &d); err != nil {
		return &decisions{}, fmt.Errorf("%s: %w", decisionsPath(stateDir, source), err)
	}
	if d.Version != decisionsVersion {
		return &decisions{}, fmt.Errorf("%s has version %d, this moor reads version %d", decisionsPath(stateDir, source), d.Version, decisionsVersion)
	}
	return &d, nil
}

// migrateDecisions takes the decisions out of a status file of an earlier
// moor, which kept them there.
func migrateDecisions(stateDir, source string) *decisions {
	d := &decisions{}
	b, err := os.ReadFile(statusPath(stateDir, source))
	if err != nil {
		return d
	}
	var old struct {
		Applied          string             `json:"applied"`
		AppliedAt        time.Time          `json:"applied_at"`
		FailingSince     time.Time          `json:"failing_since"`
		UnreachableSince time.Time          `json:"unreachable_since"`
		Failures         map[string]Failure `json:"failures"`
	}
	if json.Unmarshal(b, &old) == nil {
		d.Applied, d.AppliedAt, d.FailingSince, d.UnreachableSince, d.Failures =
			old.Applied, old.AppliedAt, old.FailingSince, old.UnreachableSince, old.Failures
	}
	return d
}

func writeDecisions(stateDir, source string, d *decisions) error {
	d.Version = decisionsVersion
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(decisionsPath(stateDir, source), b, true)
}

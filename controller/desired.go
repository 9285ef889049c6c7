package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
)

// desiredFile is the desired state of the last revision a source loaded,
// kept in STATE/sources/NAME/desired.json so that `moor status` can plan
// against the engine as the controller would, without the repository or
// the source's settings.
type desiredFile struct {
	Version      int                         `json:"version"`
	Source       string                      `json:"source"`
	Owner        string                      `json:"owner,omitempty"`
	Revision     string                      `json:"revision"`
	Stacks       map[string]*reconcile.Stack `json:"stacks"`
	Broken       map[string]string           `json:"broken,omitempty"`
	PruneVolumes bool                        `json:"prune_volumes,omitempty"`
	// DriftReport is the source's drift: report, which decides what the
	// controller does with drift.
	DriftReport bool `json:"drift_report,omitempty"`
	// Load, when set, is the key of the load that gave Stacks, which a
	// later load with the same key takes as they are (loadcache.go).
	Load *loadCache `json:"load,omitempty"`
}

// desiredVersion is the format of desired.json; a file of another version
// is not read.
const desiredVersion = 1

func desiredPath(stateDir, source string) string {
	return filepath.Join(stateDir, "sources", source, "desired.json")
}

// writeDesired records d, and the key of the load that gave it unless
// key is "" or its stacks cannot be kept exactly (loadcache.go).
func writeDesired(stateDir string, d *reconcile.Desired, driftReport bool, key string) error {
	f := desiredFile{Version: desiredVersion, Source: d.Source, Owner: d.Owner, Revision: d.Revision, Stacks: d.Stacks,
		PruneVolumes: d.PruneVolumes, DriftReport: driftReport}
	cloned := false
	for name, st := range d.Stacks {
		if st == nil || !st.Sensitive() {
			continue
		}
		key = "" // decrypted values are not kept on disk
		if !cloned {
			f.Stacks, cloned = maps.Clone(d.Stacks), true
		}
		f.Stacks[name] = recordable(st)
	}
	if len(d.Broken) > 0 {
		key = "" // an error is not kept as what it is
		f.Broken = map[string]string{}
		for name, err := range d.Broken {
			f.Broken[name] = printable.Error(err)
		}
	}
	if key != "" {
		f.Load = &loadCache{Key: key}
		for name, st := range d.Stacks {
			if st != nil && st.Claims != nil {
				if f.Load.Claims == nil {
					f.Load.Claims = map[string][]reconcile.Claim{}
				}
				f.Load.Claims[name] = st.Claims
			}
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if f.Load != nil && !roundTrips(b, d.Stacks) {
		f.Load = nil
		if b, err = json.Marshal(f); err != nil {
			return err
		}
	}
	return writeFileAtomic(desiredPath(stateDir, d.Source), b, false)
}

// sameRecord reports whether f, taken from the load cache, records d as
// writeDesired would: the stacks are the key's, the rest is compared.
func (f *desiredFile) sameRecord(d *reconcile.Desired, driftReport bool) bool {
	return f.Source == d.Source && f.Owner == d.Owner && f.Revision == d.Revision &&
		f.PruneVolumes == d.PruneVolumes && f.DriftReport == driftReport
}

// readDesired reads the desired state a source recorded, and whether its
// drift is only reported; nil when it recorded none.
func readDesired(stateDir, source string) (*reconcile.Desired, bool, error) {
	b, err := os.ReadFile(desiredPath(stateDir, source))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var f desiredFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("%s: %w", desiredPath(stateDir, source), err)
	}
	if f.Version != desiredVersion {
		return nil, false, fmt.Errorf("%s has version %d, this moor reads version %d", desiredPath(stateDir, source), f.Version, desiredVersion)
	}
	d := &reconcile.Desired{Source: f.Source, Owner: f.Owner, Revision: f.Revision, Stacks: f.Stacks, Broken: map[string]error{}, PruneVolumes: f.PruneVolumes}
	if d.Stacks == nil {
		d.Stacks = map[string]*reconcile.Stack{}
	}
	for name, why := range f.Broken {
		d.Broken[name] = errors.New(why)
	}
	return d, f.DriftReport, nil
}

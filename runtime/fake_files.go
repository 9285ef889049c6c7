package runtime

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/moor-dev/moor/reconcile"
)

// FakeFiles is reconcile.Files in memory: which revision's tracked files
// each stack directory holds. Like Fake, it journals every change asked of
// it and can be made to fail by stack.
type FakeFiles struct {
	mu      sync.Mutex
	dirs    map[string]reconcile.StackFiles
	fail    map[string]error
	changes []string
}

var _ reconcile.Files = (*FakeFiles)(nil)

// NewFakeFiles returns stack directories that hold nothing yet.
func NewFakeFiles() *FakeFiles {
	return &FakeFiles{dirs: map[string]reconcile.StackFiles{}, fail: map[string]error{}}
}

// ObserveFiles returns what each stack directory holds.
func (f *FakeFiles) ObserveFiles(ctx context.Context) (map[string]reconcile.StackFiles, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.dirs), nil
}

// SyncFiles makes the stack's directory hold want.
func (f *FakeFiles) SyncFiles(ctx context.Context, stack string, want reconcile.StackFiles) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := fmt.Sprintf("SyncFiles %s %s", stack, want.Revision)
	if err := f.fail[stack]; err != nil {
		f.changes = append(f.changes, line+": failed")
		return fmt.Errorf("sync files of %s: %w", stack, err)
	}
	f.changes = append(f.changes, line)
	f.dirs[stack] = want
	return nil
}

// Fail makes syncs of stack fail with err (nil: succeed again).
func (f *FakeFiles) Fail(stack string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[stack] = err
}

// Journal returns every sync asked, in order.
func (f *FakeFiles) Journal() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

// String renders each stack directory as a line: "files web main@sha1:…".
func (f *FakeFiles) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, stack := range slices.Sorted(maps.Keys(f.dirs)) {
		lines = append(lines, "files "+stack+" "+f.dirs[stack].Revision)
	}
	return strings.Join(lines, "\n") + "\n"
}

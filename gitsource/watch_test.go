package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/moor-dev/moor/internal/testkit"
)

const watchWait = 10 * time.Second

// watchEvent is one event a watch saw, with the number of calls of changed
// made before it.
type watchEvent struct {
	rel      string
	relevant bool
	calls    int
}

// watchRecord records what a running watch saw and did.
type watchRecord struct {
	mu     sync.Mutex
	calls  int
	events []watchEvent
}

func (w *watchRecord) changed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
}

func (w *watchRecord) seen(rel string, relevant bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, watchEvent{rel, relevant, w.calls})
}

func (w *watchRecord) snapshot() (int, []watchEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls, append([]watchEvent(nil), w.events...)
}

// startWatch runs a watch of s until the test ends and waits for its first
// call, which says that it watches.
func startWatch(t *testing.T, s *Source, settle time.Duration) *watchRecord {
	t.Helper()
	rec := &watchRecord{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.watch(ctx, rec.changed, watchOptions{settle: settle, seen: rec.seen}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Watch returned %v after its context ended, want nil", err)
			}
		case <-time.After(watchWait):
			t.Errorf("Watch did not return after its context ended")
		}
	})
	testkit.Eventually(t, watchWait, "the first call, once the watch is set up", func() bool {
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("Watch: %v", err)
		default:
		}
		calls, _ := rec.snapshot()
		return calls == 1
	})
	return rec
}

// waitForChange waits until the watch has seen a change of rel after its
// first `from` events, and has called changed after that.
func waitForChange(t *testing.T, rec *watchRecord, from int, rel string) {
	t.Helper()
	var ev *watchEvent
	testkit.Eventually(t, watchWait, "a change of "+rel, func() bool {
		_, events := rec.snapshot()
		for _, e := range events[from:] {
			if e.rel == rel && e.relevant {
				ev = &e
				return true
			}
		}
		return false
	})
	testkit.Eventually(t, watchWait, "a call after the change of "+rel, func() bool {
		calls, _ := rec.snapshot()
		return calls > ev.calls
	})
}

// TestWatchPush pushes into a bare repository in every way that changes a
// ref and waits, for each, until the watch has seen the change and called
// back.
func TestWatchPush(t *testing.T) {
	r := testkit.NewRepo(t)
	r.Write("web/compose.yaml", "services: {web: {image: nginx}}\n")
	r.Commit("first")
	bare := r.Bare()
	path := strings.TrimPrefix(bare, "file://")
	rec := startWatch(t, &Source{URL: bare}, watchSettle)
	git := func(args ...string) { r.Git(append([]string{"-C", path}, args...)...) }

	steps := []struct {
		name string
		do   func()
		rel  string // a change the watch must see
	}{
		{"push to main", func() {
			r.Write("web/compose.yaml", "services: {web: {image: caddy}}\n")
			r.Commit("caddy")
			r.Push()
		}, "refs/heads/main"},
		{"new branch in a new directory", func() { r.Git("push", "--quiet", path, "main:refs/heads/feature/one") }, "refs/heads/feature"},
		// Seen only if the directory made by the step before is watched.
		{"second branch in that directory", func() { r.Git("push", "--quiet", path, "main:refs/heads/feature/two") }, "refs/heads/feature/two"},
		{"tag", func() {
			r.Git("tag", "v1")
			r.Git("push", "--quiet", path, "v1")
		}, "refs/tags/v1"},
		{"pack refs", func() { git("pack-refs", "--all") }, "packed-refs"},
		{"delete a packed branch", func() { r.Git("push", "--quiet", path, ":refs/heads/feature/two") }, "packed-refs"},
		{"HEAD", func() { git("symbolic-ref", "HEAD", "refs/heads/feature/one") }, "HEAD"},
	}
	for _, step := range steps {
		_, events := rec.snapshot()
		step.do()
		waitForChange(t, rec, len(events), step.rel)
	}
}

// TestWatchIgnoresOtherFiles makes changes in a working repository's .git
// that are not ref changes, then a ref change, and checks that the watch
// saw the first kind and did not count them.
func TestWatchIgnoresOtherFiles(t *testing.T) {
	r := testkit.NewRepo(t)
	r.Write("a", "a\n")
	r.Commit("first")
	rec := startWatch(t, &Source{URL: r.Dir}, watchSettle)
	gitDir := filepath.Join(r.Dir, ".git")

	r.Write("b", "b\n")
	r.Git("add", "b") // index, objects
	r.Git("config", "moor.test", "yes")
	if err := os.WriteFile(filepath.Join(gitDir, "description"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(gitDir, "refs", "heads", "main.lock")
	if err := os.WriteFile(lock, []byte(r.Head()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(gitDir, "refs", "heads", "main"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, before := rec.snapshot()
	r.Git("branch", "marker")
	waitForChange(t, rec, len(before), "refs/heads/marker")

	_, events := rec.snapshot()
	seen := map[string]bool{}
	for _, e := range events {
		if e.rel == "refs/heads/marker" {
			break
		}
		seen[e.rel] = true
		if e.relevant || e.calls != 1 {
			t.Errorf("%s counted as a ref change (calls before it: %d)", e.rel, e.calls)
		}
	}
	for _, rel := range []string{"index", "config", "description", "refs/heads/main.lock", "refs/heads/main"} {
		if !seen[rel] {
			t.Errorf("the watch never saw %s: the test proves nothing about it (saw %v)", rel, seen)
		}
	}
}

// TestWatchCoalesces writes many refs at once: with a settle time longer
// than the burst, the watch calls back once for all of them.
func TestWatchCoalesces(t *testing.T) {
	r := testkit.NewRepo(t)
	head := emptyCommits(r, 1)
	rec := startWatch(t, &Source{URL: r.Dir}, time.Second)
	const n = 50
	for i := range n {
		ref := filepath.Join(r.Dir, ".git", "refs", "tags", fmt.Sprintf("t%02d", i))
		if err := os.WriteFile(ref, []byte(head+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, watchWait, "a call after the burst", func() bool {
		calls, _ := rec.snapshot()
		return calls == 2
	})
	_, events := rec.snapshot()
	tags := map[string]bool{}
	for _, e := range events {
		if e.relevant {
			tags[e.rel] = true
			if e.calls != 1 {
				t.Errorf("%s seen after %d calls, want all of the burst before the second call", e.rel, e.calls)
			}
		}
	}
	if len(tags) != n {
		t.Errorf("the watch saw %d tags change, want %d", len(tags), n)
	}
}

func TestWatchErrors(t *testing.T) {
	for _, url := range []string{"https://example.invalid/deploy.git", "git@example.invalid:deploy.git", "ssh://example.invalid/deploy.git"} {
		err := (&Source{URL: url}).Watch(t.Context(), func() { t.Error("changed called") })
		if !errors.Is(err, ErrNotLocal) || !strings.Contains(err.Error(), url) {
			t.Errorf("Watch(%s) = %v, want ErrNotLocal naming the URL", url, err)
		}
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), t.TempDir()} {
		err := (&Source{URL: dir}).Watch(t.Context(), func() { t.Error("changed called") })
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), dir) {
			t.Errorf("Watch(%s) = %v, want ErrUnreachable naming the path", dir, err)
		}
	}
}

func TestRefChange(t *testing.T) {
	tests := []struct {
		rel  string
		op   fsnotify.Op
		want bool
	}{
		{"refs/heads/main", fsnotify.Create, true},
		{"refs/heads/main", fsnotify.Write, true},
		{"refs/heads/main", fsnotify.Remove, true},
		{"refs/heads/main", fsnotify.Chmod, false},
		{"refs/heads/main.lock", fsnotify.Create, false},
		{"refs/heads/main.lock", fsnotify.Rename, false},
		{"refs/tags/v1", fsnotify.Create, true},
		{"refs/heads/feature", fsnotify.Create, true},
		{"packed-refs", fsnotify.Create, true},
		{"packed-refs.lock", fsnotify.Create, false},
		{"HEAD", fsnotify.Write, true},
		{"HEAD.lock", fsnotify.Create, false},
		{"ORIG_HEAD", fsnotify.Create, false},
		{"FETCH_HEAD", fsnotify.Write, false},
		{"index", fsnotify.Write, false},
		{"config", fsnotify.Create, false},
		{"description", fsnotify.Write, false},
		{"logs", fsnotify.Create, false},
		{"refsx", fsnotify.Create, false},
	}
	for _, tt := range tests {
		if got := refChange(tt.rel, tt.op); got != tt.want {
			t.Errorf("refChange(%s, %s) = %v, want %v", tt.rel, tt.op, got, tt.want)
		}
	}
}

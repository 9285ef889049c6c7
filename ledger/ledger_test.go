package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func open(t *testing.T, path string) *Ledger {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendAll(t *testing.T, l *Ledger, recs ...*Record) {
	t.Helper()
	for _, r := range recs {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, path string) []Record {
	t.Helper()
	recs, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func seqs(recs []Record) []int64 {
	var s []int64
	for _, r := range recs {
		s = append(s, r.Seq)
	}
	return s
}

func sample(source, rev string) *Record {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Record{
		Source: source, Revision: rev, Subject: "bump api", Author: "ana",
		Started: start, Finished: start.Add(1500 * time.Millisecond),
		Result: "partial", Error: "1 of 2 ops failed",
		Stacks: []string{"web"}, Broken: map[string]string{"db": "compose.yaml: bad port"},
		Ops: []OpResult{
			{Op: "replace web/api/1 (config changed: env)", Stack: "web", Service: "api", Result: "ok", Duration: 800 * time.Millisecond},
			{Op: "create web/worker/1 (missing)", Stack: "web", Service: "worker", Result: "failed", Error: "pull: denied", Duration: time.Second},
		},
		Notes: []string{"pulled nginx:1 (pull_policy always)"},
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "ledger.jsonl")
	l := open(t, path)
	a, b := sample("prod", "main@sha1:aaaa"), &Record{Source: "prod", Revision: "main@sha1:bbbb", Result: "success"}
	appendAll(t, l, a, b)
	if a.Seq != 1 || b.Seq != 2 {
		t.Fatalf("seqs assigned = %d, %d; want 1, 2", a.Seq, b.Seq)
	}
	if diff := cmp.Diff([]Record{*a, *b}, read(t, path)); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	if got := a.Duration(); got != 1500*time.Millisecond {
		t.Errorf("Duration = %v, want 1.5s", got)
	}
}

func TestReadMissingFile(t *testing.T) {
	recs, err := Read(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil || recs != nil {
		t.Fatalf("Read of a missing file = %v, %v; want no records, no error", recs, err)
	}
}

func TestSeqContinuesAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l := open(t, path)
	appendAll(t, l, &Record{Source: "a"}, &Record{Source: "a"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(&Record{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	l = open(t, path)
	r := &Record{Source: "b"}
	appendAll(t, l, r)
	if r.Seq != 3 {
		t.Errorf("Seq after reopen = %d, want 3", r.Seq)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, seqs(read(t, path))); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
}

// TestTornTail writes half a record by hand, as a crash mid-write would
// leave it, both while a Ledger is open and before one is opened.
func TestTornTail(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.jsonl")
			l := open(t, path)
			appendAll(t, l, sample("prod", "main@sha1:aaaa"), sample("prod", "main@sha1:bbbb"))
			intact, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			torn := `{"seq":3,"source":"prod","revision":"TORN`
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(torn); err != nil {
				t.Fatal(err)
			}
			f.Close()

			recs, skipped, err := ReadTorn(path)
			if err != nil {
				t.Fatalf("Read with a torn tail: %v", err)
			}
			if diff := cmp.Diff([]int64{1, 2}, seqs(recs)); diff != "" {
				t.Errorf("seqs read (-want +got):\n%s", diff)
			}
			if skipped != int64(len(torn)) {
				t.Errorf("torn bytes = %d, want %d", skipped, len(torn))
			}

			if reopen {
				l.Close()
				l = open(t, path)
			}
			r := &Record{Source: "prod", Revision: "main@sha1:dddd", Result: "success"}
			appendAll(t, l, r)
			if r.Seq != 3 {
				t.Errorf("Seq after torn tail = %d, want 3", r.Seq)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, intact) {
				t.Fatalf("earlier records changed:\nbefore: %s\nafter:  %s", intact, got)
			}
			if rest := string(got[len(intact):]); strings.Contains(rest, "TORN") || strings.Count(rest, "\n") != 1 || !strings.HasSuffix(rest, "\n") {
				t.Errorf("after the intact records: %q, want the new record alone on its line", rest)
			}
			recs = read(t, path)
			if diff := cmp.Diff([]int64{1, 2, 3}, seqs(recs)); diff != "" {
				t.Errorf("seqs (-want +got):\n%s", diff)
			}
			if last := recs[len(recs)-1]; last.Revision != "main@sha1:dddd" {
				t.Errorf("last record = %+v, want the new one", last)
			}
		})
	}
}

func TestConcurrentAppend(t *testing.T) {
	const goroutines, each = 8, 25
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l := open(t, path)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			var last int64
			for i := range each {
				r := &Record{Source: fmt.Sprintf("g%d", g), Revision: fmt.Sprint(i)}
				if err := l.Append(r); err != nil {
					errs <- err
					return
				}
				if r.Seq <= last {
					errs <- fmt.Errorf("goroutine %d: seq %d after %d", g, r.Seq, last)
				}
				last = r.Seq
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	recs := read(t, path)
	if len(recs) != goroutines*each {
		t.Fatalf("read %d records, want %d", len(recs), goroutines*each)
	}
	perSource := map[string]int{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d, want %d", i, r.Seq, i+1)
		}
		// Each goroutine's records are in the order it appended them.
		if want := fmt.Sprint(perSource[r.Source]); r.Revision != want {
			t.Errorf("seq %d: %s's record %s, want %s", r.Seq, r.Source, r.Revision, want)
		}
		perSource[r.Source]++
	}
}

func TestCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l := open(t, path)
	appendAll(t, l, &Record{Source: "a"}, &Record{Source: "b"}, &Record{Source: "c"})
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[1] = `{"seq":2,"source":` + "\n"
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Read(path)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "ledger.jsonl:2:") {
		t.Errorf("Read = %v, want ErrCorrupt naming ledger.jsonl:2", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open = %v, want ErrCorrupt", err)
	}
}

func TestFilters(t *testing.T) {
	recs := []Record{
		{Seq: 1, Source: "prod", Stacks: []string{"web", "db"}},
		{Seq: 2, Source: "stage", Stacks: []string{"web"}},
		{Seq: 3, Source: "prod", Broken: map[string]string{"db": "bad"}},
		{Seq: 4, Source: "prod"},
	}
	for _, tt := range []struct {
		name string
		got  []Record
		want []int64
	}{
		{"source prod", BySource(recs, "prod"), []int64{1, 3, 4}},
		{"source none", BySource(recs, "dev"), nil},
		{"stack web", ByStack(recs, "web"), []int64{1, 2}},
		{"stack db (broken counts)", ByStack(recs, "db"), []int64{1, 3}},
		{"last 2", Last(recs, 2), []int64{3, 4}},
		{"last 0 is all", Last(recs, 0), []int64{1, 2, 3, 4}},
		{"last 9", Last(recs, 9), []int64{1, 2, 3, 4}},
		{"prod db last 1", Last(ByStack(BySource(recs, "prod"), "db"), 1), []int64{3}},
	} {
		if diff := cmp.Diff(tt.want, seqs(tt.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// BenchmarkAppend measures one Append of a typical record, fsync included.
//
//	go test -run '^$' -bench Append -benchtime 2000x ./ledger/
//
// 2-vCPU Xeon VM, ext4 on virtio disk, Go 1.26: ~270 µs/op (263-289 µs over
// three runs), nearly all of it the fsync. An apply takes seconds, so the
// ledger costs nothing that matters.
func BenchmarkAppend(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "ledger.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := sample("prod", "main@sha1:0123456789abcdef0123456789abcdef01234567")
	for b.Loop() {
		if err := l.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

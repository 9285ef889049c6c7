package ledger

import (
	"bytes"
	"encoding/json"
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
	recs, corrupt, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(corrupt) > 0 {
		t.Fatalf("corrupt lines: %v", corrupt)
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
	recs, corrupt, err := Read(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil || recs != nil || corrupt != nil {
		t.Fatalf("Read of a missing file = %v, %v, %v; want no records, no error", recs, corrupt, err)
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
// leave it, both while a Ledger is open and before one is opened. Read
// reports it; Append ends it with a '\n' and writes after it, so that it
// stays in the file as a line of its own.
func TestTornTail(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.jsonl")
			l := open(t, path)
			appendAll(t, l, sample("prod", "main@sha1:aaaa"), sample("prod", "main@sha1:bbbb"))
			torn := `{"seq":3,"source":"prod","revision":"TORN`
			appendBytes(t, path, torn)
			intact, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			recs, corrupt, err := Read(path)
			if err != nil {
				t.Fatalf("Read with a torn tail: %v", err)
			}
			if diff := cmp.Diff([]int64{1, 2}, seqs(recs)); diff != "" {
				t.Errorf("seqs read (-want +got):\n%s", diff)
			}
			want := Corrupt{Line: 3, Offset: int64(len(intact) - len(torn)), Size: int64(len(torn)), Torn: true}
			if len(corrupt) != 1 || corrupt[0].Why == "" {
				t.Fatalf("corrupt = %v, want the torn line", corrupt)
			}
			want.Why = corrupt[0].Why
			if diff := cmp.Diff(want, corrupt[0]); diff != "" {
				t.Errorf("torn line (-want +got):\n%s", diff)
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
				t.Fatalf("earlier bytes changed:\nbefore: %s\nafter:  %s", intact, got)
			}
			if rest := string(got[len(intact):]); !strings.HasPrefix(rest, "\n{") || strings.Count(rest, "\n") != 2 || !strings.HasSuffix(rest, "\n") {
				t.Errorf("after the torn line: %q, want its line end, then the new record alone on its line", rest)
			}
			recs, corrupt, err = Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]int64{1, 2, 3}, seqs(recs)); diff != "" {
				t.Errorf("seqs (-want +got):\n%s", diff)
			}
			if last := recs[len(recs)-1]; last.Revision != "main@sha1:dddd" {
				t.Errorf("last record = %+v, want the new one", last)
			}
			want.Torn = false
			if len(corrupt) != 1 || corrupt[0] != want {
				t.Errorf("corrupt after the append = %v, want %v", corrupt, want)
			}
		})
	}
}

func appendBytes(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
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

// TestCorrupt damages lines of a ledger by hand: Read and Open skip them and
// report their line numbers, every readable record is still read, and
// Append goes on after them without touching them.
func TestCorrupt(t *testing.T) {
	const garbage = "\x1b[31mnot json at all"
	tests := []struct {
		name  string
		lines []string // "" is a record; anything else is written as is
		bad   []int    // the corrupt line numbers
	}{
		{"middle", []string{"", `{"seq":2,"source":` + "\n", ""}, []int{2}},
		{"first", []string{garbage + "\n", "", ""}, []int{1}},
		{"last, with its line end", []string{"", "", garbage + "\n"}, []int{3}},
		{"torn last", []string{"", "", `{"seq":3,"sou`}, []int{3}},
		{"NULs a power cut left", []string{"", "\x00\x00\x00\x00"}, []int{2}},
		{"json, not a record", []string{"null\n", "", "{}\n", `[1,2]` + "\n", ""}, []int{1, 3, 4}},
		{"several, and blank lines", []string{"", "\n", garbage + "\n", "", "  \n", "}{\n", ""}, []int{3, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.jsonl")
			var b strings.Builder
			var want []int64
			for _, line := range tt.lines {
				if line != "" {
					b.WriteString(line)
					continue
				}
				want = append(want, int64(len(want)+1))
				j, err := json.Marshal(Record{Seq: int64(len(want)), Source: "prod"})
				if err != nil {
					t.Fatal(err)
				}
				b.Write(append(j, '\n'))
			}
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			check := func(when string, want []int64) {
				t.Helper()
				recs, corrupt, err := Read(path)
				if err != nil {
					t.Fatalf("%s: Read: %v", when, err)
				}
				if diff := cmp.Diff(want, seqs(recs)); diff != "" {
					t.Errorf("%s: seqs (-want +got):\n%s", when, diff)
				}
				var lines []int
				for _, c := range corrupt {
					lines = append(lines, c.Line)
					if c.Why == "" || !strings.Contains(c.String(), fmt.Sprintf("line %d ", c.Line)) {
						t.Errorf("%s: corrupt line says nothing: %v", when, c)
					}
					if strings.Contains(c.String(), "\x1b") {
						t.Errorf("%s: the report of a corrupt line holds its bytes: %q", when, c.String())
					}
				}
				if diff := cmp.Diff(tt.bad, lines); diff != "" {
					t.Errorf("%s: corrupt lines (-want +got):\n%s", when, diff)
				}
			}
			check("before", want)

			l := open(t, path)
			var damaged []int
			l.OnDamage(func(cs []Corrupt) {
				for _, c := range cs {
					damaged = append(damaged, c.Line)
				}
			})
			corrupt, err := l.Corrupt()
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, c := range corrupt {
				lines = append(lines, c.Line)
			}
			if diff := cmp.Diff(tt.bad, damaged); diff != "" {
				t.Errorf("OnDamage: corrupt lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.bad, lines); diff != "" {
				t.Errorf("Open: corrupt lines (-want +got):\n%s", diff)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := &Record{Source: "prod", Revision: "main@sha1:eeee"}
			appendAll(t, l, r)
			if r.Seq != int64(len(want)+1) {
				t.Errorf("Seq of the new record = %d, want %d", r.Seq, len(want)+1)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(after, before) {
				t.Errorf("Append changed what was there:\nbefore: %q\nafter:  %q", before, after)
			}
			check("after an append", append(want, r.Seq))
		})
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

// BenchmarkOpenLongHistory measures what a process that records nothing (a
// no-op `moor apply`) pays for a ledger of 5,000 records: Open and Close,
// and, apart, the first read that an Append or Corrupt makes.
//
//	go test -run '^$' -bench OpenLongHistory ./ledger/
func BenchmarkOpenLongHistory(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.jsonl")
	l, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	r := sample("prod", "main@sha1:0123456789abcdef0123456789abcdef01234567")
	var lines []byte
	for i := range 5000 {
		rec := *r
		rec.Seq = int64(i + 1)
		line, err := json.Marshal(&rec)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(append(lines, line...), '\n')
	}
	l.Close()
	if err := os.WriteFile(path, lines, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			l, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
	b.Run("first-read", func(b *testing.B) {
		for b.Loop() {
			l, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Corrupt(); err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
}

// TestOpenReadsNothing: opening a ledger does not read its records; the
// first Corrupt (or Append) does, once.
func TestOpenReadsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	if err := os.WriteFile(path, []byte("not a record\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.scanned || l.size != -1 {
		t.Fatalf("Open read the file (scanned %v, size %d)", l.scanned, l.size)
	}
	c, err := l.Corrupt()
	if err != nil || len(c) != 1 || !l.scanned {
		t.Fatalf("Corrupt: %v, %v; scanned %v", c, err, l.scanned)
	}
}

package scalerepo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/internal/scalerepo"
)

// TestGeneratedStacksLoad: every generated stack loads through moor's
// compose loader with the services the layout says, flat and per host.
func TestGeneratedStacksLoad(t *testing.T) {
	for _, l := range []scalerepo.Layout{{Stacks: 20}, {Stacks: 20, Hosts: 4}} {
		dir := t.TempDir()
		if err := scalerepo.Write(dir, l); err != nil {
			t.Fatal(err)
		}
		roots := []string{""}
		if l.Hosts > 0 {
			roots = []string{"hosts/h001", "hosts/h002", "hosts/h003", "hosts/h004"}
		}
		stacks, services := 0, 0
		for _, root := range roots {
			d, err := compose.Load(t.Context(), filepath.Join(dir, root), compose.Options{Repo: dir, StacksRoot: t.TempDir()})
			if err != nil {
				t.Fatalf("%+v: load %q: %v", l, root, err)
			}
			for name, err := range d.Broken {
				t.Errorf("%+v: stack %s broken: %v", l, name, err)
			}
			stacks += len(d.Stacks)
			for _, st := range d.Stacks {
				services += len(st.Services)
			}
		}
		if stacks != l.Stacks || services != l.Services() {
			t.Errorf("%+v: loaded %d stacks, %d services; want %d, %d", l, stacks, services, l.Stacks, l.Services())
		}
	}
}

// TestChangeTouchesOneStack: a change rewrites the .env of one stack.
func TestChangeTouchesOneStack(t *testing.T) {
	l := scalerepo.Layout{Stacks: 3, Hosts: 2}
	dir := t.TempDir()
	if err := scalerepo.Write(dir, l); err != nil {
		t.Fatal(err)
	}
	p, err := scalerepo.Change(dir, l, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if p != "hosts/h002/s0001/.env" {
		t.Errorf("changed %s, want hosts/h002/s0001/.env", p)
	}
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil || !strings.Contains(string(b), "RELEASE=2026.12.7") {
		t.Errorf("%s: %q, %v; want RELEASE=2026.12.7", p, b, err)
	}
}

package gitsource_test

import "testing"

// BenchmarkResolveUnchanged is the cost of a sync when nothing changed:
// one ls-remote of a local repository.
func BenchmarkResolveUnchanged(b *testing.B) {
	r, _ := newOrigin(b)
	s := newSource(b, r.Dir, "main")
	for b.Loop() {
		if _, err := s.Resolve(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckoutReuse is Checkout of a revision already on disk.
func BenchmarkCheckoutReuse(b *testing.B) {
	r, _ := newOrigin(b)
	s := newSource(b, r.Dir, "main")
	rev, err := s.Resolve(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Checkout(b.Context(), rev); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Checkout(b.Context(), rev); err != nil {
			b.Fatal(err)
		}
	}
}

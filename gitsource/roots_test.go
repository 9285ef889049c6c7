package gitsource

import (
	"testing"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

func TestFallbackPoolHoldsTheBundle(t *testing.T) {
	want := 0
	for range bundle.Roots() {
		want++
	}
	//lint:ignore SA1019 the count of subjects is all this test needs
	got := len(fallbackPool().Subjects()) //nolint:staticcheck
	if want < 100 || got != want {
		t.Fatalf("fallback pool holds %d roots, the bundle %d", got, want)
	}
}

package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseInitTrace(t *testing.T) {
	out := `moor dev
init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
init golang.org/x/crypto/x509roots/fallback @75 ms, 186 ms clock, 662648 bytes, 8766 allocs
some other line
init github.com/santhosh-tekuri/jsonschema/v6 @41 ms, 0.5 ms clock, 1701096 bytes, 21285 allocs
`
	want := []initCost{
		{pkg: "internal/bytealg"},
		{pkg: "golang.org/x/crypto/x509roots/fallback", clock: 186 * time.Millisecond, bytes: 662648, allocs: 8766},
		{pkg: "github.com/santhosh-tekuri/jsonschema/v6", clock: 500 * time.Microsecond, bytes: 1701096, allocs: 21285},
	}
	if diff := cmp.Diff(want, parseInitTrace(out), cmp.AllowUnexported(initCost{})); diff != "" {
		t.Errorf("parseInitTrace (-want +got):\n%s", diff)
	}
}

package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// registryContract checks RegistryDigest on rt: it names what a pull of
// the tag records among the image's repo digests, it pulls nothing, it
// follows the tag when the tag is pushed again, and a tag the registry
// does not have is ErrNotFound. push makes the registry name the tag by
// image n (0 or 1).
func registryContract(t *testing.T, rt reconcile.Runtime, ref, repo string, push func(n int)) {
	ctx := t.Context()
	push(0)
	first, err := rt.RegistryDigest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "sha256:") || len(first) != len("sha256:")+64 {
		t.Fatalf("RegistryDigest(%s) = %q, want a sha256 digest", ref, first)
	}
	if obs, _ := rt.Observe(ctx); obs.Images[ref] != "" {
		t.Fatalf("RegistryDigest pulled %s", ref)
	}
	if err := rt.Pull(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	obs, err := rt.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id := obs.Images[repo+"@"+first]; id == "" || id != obs.Images[ref] {
		t.Errorf("after the pull Images[%s@%s] = %q, want the image of %s (%q)", repo, first, id, ref, obs.Images[ref])
	}

	push(1)
	moved, err := rt.RegistryDigest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if moved == first {
		t.Errorf("RegistryDigest after the tag was pushed again = %s, the digest of before", moved)
	}

	_, err = rt.RegistryDigest(ctx, repo+":absent")
	if !errors.Is(err, reconcile.ErrNotFound) || !strings.HasPrefix(err.Error(), "registry digest of "+repo+":absent: ") {
		t.Errorf("RegistryDigest of a missing tag = %v, want ErrNotFound naming it", err)
	}
}

func TestDockerRegistryDigest(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	reg := testkit.Registry(t)
	repo := reg + "/moor/digest"
	ref := repo + ":v1"
	images := []string{testkit.TestImage(t), testkit.VariantImage(t, "digest")}
	registryContract(t, d, ref, repo, func(n int) { testkit.Push(t, reg, images[n], "moor/digest:v1") })
	removeImage(t, ref)
}

func TestFakeRegistryDigest(t *testing.T) {
	f := runtime.NewFake()
	registryContract(t, f, "reg:5000/app:1", "reg:5000/app", func(n int) {
		f.Publish("reg:5000/app:1", []string{"sha256:one", "sha256:two"}[n])
	})
}

package testkit

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Image names. The tags carry the hash of the test app binary, so an image
// is rebuilt exactly when the app changes and is otherwise reused across test
// processes and runs.
const (
	testImageRepo    = "moor-testapp"
	variantImageRepo = "moor-testapp-variant"
	// LabelTestImage is carried by every image testkit builds.
	LabelTestImage = "moor.test"
)

var testImage struct {
	once sync.Once
	ref  string
	hash string // first 12 hex of the binary's sha256
	err  error
}

// TestImage returns the reference of the test app image
// ("moor-testapp:<12 hex of the binary's sha256>"), building it once per
// test process: a static build of ./internal/testapp in a FROM scratch
// image with entrypoint /testapp. An existing tag is reused.
func TestImage(t testing.TB) string {
	t.Helper()
	cli := Docker(t)
	testImage.once.Do(func() {
		testImage.ref, testImage.hash, testImage.err = buildTestImage(cli)
	})
	if testImage.err != nil {
		t.Fatalf("test image: %v", testImage.err)
	}
	return testImage.ref
}

var variantNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// VariantImage returns an image that runs the same app as TestImage but has
// a different image ID: TestImage plus LABEL variant=<name>, tagged
// "moor-testapp-variant:<name>-<hash12>". Like TestImage it is cached.
func VariantImage(t testing.TB, name string) string {
	t.Helper()
	return derivedImage(t, "variant", name, fmt.Sprintf("LABEL variant=%q\n", name))
}

// LabelledImage returns TestImage with the given labels added by LABEL
// lines, tagged "moor-testapp-variant:<name>-<hash12>": what an image
// that carries someone else's labels looks like. Like TestImage it is
// cached; name must differ for different labels.
func LabelledImage(t testing.TB, name string, labels map[string]string) string {
	t.Helper()
	var lines string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		lines += fmt.Sprintf("LABEL %q=%q\n", k, labels[k])
	}
	return derivedImage(t, "labelled", name, lines)
}

// EnvImage returns TestImage with the given environment set by ENV lines,
// tagged "moor-testapp-variant:<name>-<hash12>": an image that behaves
// otherwise under the same configuration (UNHEALTHY=1: a broken build of
// the same tag). Like TestImage it is cached; name must differ for
// different environments.
func EnvImage(t testing.TB, name string, env map[string]string) string {
	t.Helper()
	var lines string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		lines += fmt.Sprintf("ENV %s=%q\n", k, env[k])
	}
	return derivedImage(t, "env", name, lines)
}

// derivedImage builds TestImage plus the Dockerfile lines, tagged
// "moor-testapp-variant:<name>-<hash12>", once.
func derivedImage(t testing.TB, kind, name, lines string) string {
	t.Helper()
	if !variantNameRE.MatchString(name) {
		t.Fatalf("%s image name %q: want %s", kind, name, variantNameRE)
	}
	cli := Docker(t)
	base := TestImage(t)
	ref := fmt.Sprintf("%s:%s-%s", variantImageRepo, name, testImage.hash)
	dockerfile := "FROM " + base + "\n" + lines
	err := withBuildLock(func() error {
		if imageExists(cli, ref) {
			return nil
		}
		return buildImage(cli, ref, map[string][]byte{"Dockerfile": []byte(dockerfile)}, nil)
	})
	if err != nil {
		t.Fatalf("%s image %s: %v", kind, name, err)
	}
	return ref
}

// TagImage tags ref as newRef and removes the tag newRef at cleanup. A tag
// shares the image ID of ref; use VariantImage for a distinct one.
func TagImage(t testing.TB, ref, newRef string) {
	t.Helper()
	cli := Docker(t)
	if _, err := cli.ImageTag(t.Context(), client.ImageTagOptions{Source: ref, Target: newRef}); err != nil {
		t.Fatalf("tag %s as %s: %v", ref, newRef, err)
	}
	t.Cleanup(func() { untag(t, newRef) })
}

// untag removes the local tag ref, leaving the image itself when other tags
// still name it. A tag that is already gone is fine.
func untag(t testing.TB, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Docker(t).ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil && !isNotFound(err) {
		t.Errorf("remove image tag %s: %v", ref, err)
	}
}

func buildTestImage(cli *client.Client) (ref, hash string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	dir, err := os.MkdirTemp("", "moor-testapp-")
	if err != nil {
		return "", "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "testapp")
	// -trimpath and -buildvcs=false make the binary, and so the tag, depend
	// only on the source and the toolchain, not on the checkout's path or
	// dirty state.
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./internal/testapp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./internal/testapp: %w\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return "", "", fmt.Errorf("read test app binary: %w", err)
	}
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:])[:12]
	ref = testImageRepo + ":" + hash

	// /tmp exists so that the app's /tmp/unhealthy switch works in scratch.
	files := map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY testapp /testapp\nCOPY tmp /tmp\nENTRYPOINT [\"/testapp\"]\n"),
		"testapp":    b,
	}
	err = withBuildLock(func() error {
		if imageExists(cli, ref) {
			return nil
		}
		if err := buildImage(cli, ref, files, []string{"tmp"}); err != nil {
			return err
		}
		pruneStale(cli, hash)
		return nil
	})
	return ref, hash, err
}

// pruneStale removes the cached test images of older test app binaries, so
// that editing the app does not pile up images. It is best effort: an image
// a container still uses stays.
func pruneStale(cli *client.Client, hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelTestImage+"=1")})
	if err != nil {
		return
	}
	// Variants first: their base cannot go while they exist.
	for _, repo := range []string{variantImageRepo, testImageRepo} {
		for _, img := range imgs.Items {
			for _, tag := range img.RepoTags {
				r, version, _ := strings.Cut(tag, ":")
				if r == repo && !strings.HasSuffix(version, hash) {
					cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true})
				}
			}
		}
	}
}

// withBuildLock serialises image builds across test processes (go test runs
// packages in parallel), so that a tag, once it exists, is never re-pointed
// to a new image ID under a running test.
func withBuildLock(f func() error) error {
	path := filepath.Join(os.TempDir(), "moor-testkit-build.lock")
	lock, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return fmt.Errorf("open build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return f()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

func imageExists(cli *client.Client, ref string) bool {
	_, err := cli.ImageInspect(context.Background(), ref)
	return err == nil
}

// buildImage builds a context of files (plus empty dirs) with the classic
// builder, which needs no pull for FROM scratch or a local base, and tags the
// result ref.
func buildImage(cli *client.Client, ref string, files map[string][]byte, dirs []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	buildCtx, err := tarContext(files, dirs)
	if err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelTestImage: "1"},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	defer res.Body.Close()
	var log strings.Builder
	if err := readJSONStream(res.Body, &log); err != nil {
		return fmt.Errorf("build %s: %w\n%s", ref, err, log.String())
	}
	if !imageExists(cli, ref) {
		return fmt.Errorf("build %s: no such image after build\n%s", ref, log.String())
	}
	return nil
}

func tarContext(files map[string][]byte, dirs []string) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o1777}); err != nil {
			return nil, fmt.Errorf("tar dir %s: %w", d, err)
		}
	}
	for name, b := range files {
		mode := int64(0o644)
		if name != "Dockerfile" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b))}); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := tw.Write(b); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return &buf, nil
}

package testkit

import (
	"errors"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium browser (Debian's package
// chromium) for tests that drive one, skipping the test when there is
// none, except under CI, where .ci/run installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, errors.New("no Chromium on PATH (apt-get install chromium)"))
	return ""
}

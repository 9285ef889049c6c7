package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// maxStackName bounds StackName so container names built from it stay short.
const maxStackName = 40

// StackName returns the stack name of the test: "t-", then t.Name()
// lowercased with every run of characters outside [a-z0-9] turned into "-",
// then a 6-hex hash of the package directory and the full test name, at most
// 40 characters. The hash keeps names unique when truncated and across
// packages that run at the same time with equal test names; the name is
// stable across runs, so CleanupStack at the start removes a crashed run's
// leftovers.
func StackName(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("stack name: %v", err)
	}
	sum := sha256.Sum256([]byte(dir + "\x00" + t.Name()))
	suffix := "-" + hex.EncodeToString(sum[:])[:6]

	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(t.Name()) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.Trim(b.String(), "-")
	if max := maxStackName - len("t-") - len(suffix); len(slug) > max {
		slug = strings.TrimRight(slug[:max], "-")
	}
	if slug == "" {
		return "t" + suffix
	}
	return "t-" + slug + suffix
}

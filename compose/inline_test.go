package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

const inlineCompose = `
services:
  api:
    image: app:1
    configs:
      - source: greeting
        target: /etc/greeting
        mode: 0440
        uid: "1000"
        gid: "1001"
      - source: from_file
        uid: "1000"
    secrets: [token, api_key]
configs:
  greeting:
    content: hello ${NAME}
  from_file:
    file: ./f.txt
secrets:
  token:
    environment: TOKEN
  api_key:
    environment: API_KEY
`

func sum(s string) string {
	b := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(b[:])
}

// TestLoadStackInlineConfigsAndSecrets: configs and secrets whose content
// the compose file gives become files written into the container, their
// content from the stack's .env or the configured variables, and hashed
// by digest only.
func TestLoadStackInlineConfigsAndSecrets(t *testing.T) {
	files := map[string]string{
		"web/compose.yaml": inlineCompose,
		"web/.env":         "NAME=moor\nTOKEN=t0ken\nAPI_KEY=from-env-file\n",
		"web/f.txt":        "f",
	}
	st, _ := mustLoadWeb(t, files, Options{Variables: map[string]string{"API_KEY": "k3y"}})
	spec := st.Services["api"].Spec
	want := []reconcile.File{
		{Target: "/etc/greeting", Digest: sum("hello moor"), Mode: 0o440, UID: "1000", GID: "1001", Content: "hello moor"},
		{Target: "/run/secrets/api_key", Digest: sum("k3y"), Content: "k3y"},
		{Target: "/run/secrets/token", Digest: sum("t0ken"), Content: "t0ken"},
	}
	if d := cmp.Diff(want, spec.Files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	if len(spec.Mounts) != 1 || spec.Mounts[0].Target != "/from_file" {
		t.Errorf("mounts = %+v, want the file-based config only", spec.Mounts)
	}
	if d := cmp.Diff([]string{"service api: uid, gid and mode of config from_file have no effect on a config from a file"}, st.Warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"t0ken", "k3y", "hello moor"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the spec's JSON holds %q", secret)
		}
	}

	// A changed value changes the hash: the container is replaced.
	files["web/.env"] = "NAME=moor\nTOKEN=n3w\n"
	again, _ := mustLoadWeb(t, files, Options{Variables: map[string]string{"API_KEY": "k3y"}})
	if again.Services["api"].Hash == st.Services["api"].Hash {
		t.Error("a changed secret kept the hash")
	}
}

// TestLoadStackInlineContentBudget: inline content counts against the
// stack's HashBytes.
func TestLoadStackInlineContentBudget(t *testing.T) {
	_, _, err := loadWeb(t, map[string]string{
		"web/compose.yaml": "services:\n  api:\n    image: app:1\n    configs: [c]\nconfigs:\n  c:\n    content: " + strings.Repeat("x", 2048) + "\n",
	}, Options{Limits: Limits{HashBytes: 1024}})
	if err == nil || !strings.Contains(err.Error(), "binds, configs and secrets of a stack may hold 1 KiB together") {
		t.Fatalf("err = %v, want the HashBytes limit", err)
	}
}

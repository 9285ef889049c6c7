package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/moor-dev/moor/internal/testkit"
)

// secretsTmpfs is a directory of a tmpfs for a test's decrypted files.
func secretsTmpfs(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "moor-secrets-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skipf("/dev/shm is not a tmpfs here")
	}
	return dir
}

func sopsCompose(img string, port int) string {
	return fmt.Sprintf(`services:
  web:
    image: %s
    environment:
      VERSION: "1"
      DB_PASSWORD: ${DB_PASSWORD}
    ports: ["%d:8080"]
    secrets: [api]
  worker:
    image: %s
    env_file: worker.env
secrets:
  api:
    file: ./api.secret
`, img, port, img)
}

// TestSOPSDeploy: a stack's encrypted .env, env_file and secret file reach
// its containers decrypted; what is decrypted is in the containers and the
// tmpfs alone (not in the state directory, the stack directory, the
// snapshot, the ledger, or anything moor prints); a changed secret
// replaces exactly the container that uses it; the decrypted files go with
// their containers.
func TestSOPSDeploy(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	k := testkit.NewSOPSKeys(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	shm := secretsTmpfs(t)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	plain := []string{"e2e-db-pass-0001", "e2e-worker-tok-0002", "e2e-api-key-v1-0003", "e2e-api-key-v2-0004"}
	flags := []string{"--sops-age-key-file", k.AgeFile, "--secrets-dir", shm, "--allow-empty"}

	repo.Write(".sops.yaml", "creation_rules:\n  - path_regex: (\\.env|\\.secret)$\n    age: "+k.AgeRecipient+"\n")
	repo.Write(stack+"/compose.yaml", sopsCompose(img, port))
	repo.Write(stack+"/.env", k.Encrypt(t, ".env", "DB_PASSWORD="+plain[0]+"\n"))
	repo.Write(stack+"/worker.env", k.Encrypt(t, "worker.env", "TOKEN="+plain[1]+"\n"))
	repo.Write(stack+"/api.secret", k.Encrypt(t, "api.secret", plain[2]))
	repo.Commit("encrypted secrets")
	var printed strings.Builder
	apply := func() {
		t.Helper()
		code, out := m.run(append([]string{"apply"}, flags...)...)
		printed.WriteString(out)
		if code != exitOK {
			t.Fatalf("apply exited %d:\n%s", code, out)
		}
	}
	apply()
	if got := get(t, url+"/env?name=DB_PASSWORD"); got != plain[0] {
		t.Errorf("DB_PASSWORD = %q", got)
	}
	if got := get(t, url+"/file?path=/run/secrets/api"); got != plain[2] {
		t.Errorf("/run/secrets/api holds %q", got)
	}
	ids := containers(t, cli, stack)
	worker := stack + "-worker-1"
	inspect, err := cli.ContainerInspect(t.Context(), ids[worker], client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(inspect.Container.Config.Env, "\n"), "TOKEN="+plain[1]) {
		t.Errorf("worker's environment lacks its token")
	}
	files := tmpfsFiles(t, shm)
	if len(files) != 1 {
		t.Fatalf("decrypted files on the tmpfs: %v", files)
	}

	// A changed secret replaces the web container alone.
	repo.Write(stack+"/api.secret", k.Encrypt(t, "api.secret", plain[3]))
	repo.Commit("rotate the api key")
	code, out := m.run(append([]string{"plan"}, flags...)...)
	printed.WriteString(out)
	if code != exitOK || !strings.Contains(out, "replace "+stack+"/web/1 (config changed: volumes (secret changed))") || strings.Contains(out, "/worker/1") {
		t.Fatalf("plan of the rotation: exit %d\n%s", code, out)
	}
	apply()
	got := containers(t, cli, stack)
	if got[worker] != ids[worker] || got[stack+"-web-1"] == ids[stack+"-web-1"] {
		t.Errorf("containers %v -> %v: want web replaced, worker kept", ids, got)
	}
	if body := get(t, url+"/file?path=/run/secrets/api"); body != plain[3] {
		t.Errorf("/run/secrets/api holds %q after the rotation", body)
	}
	if after := tmpfsFiles(t, shm); len(after) != 1 || after[0] == files[0] {
		t.Errorf("decrypted files after the rotation: %v (before %v)", after, files)
	}
	for _, cmd := range [][]string{{"status"}, {"history"}} {
		_, out := m.run(cmd...)
		printed.WriteString(out)
	}

	// Nothing decrypted outside the containers and the tmpfs.
	for _, v := range plain {
		if strings.Contains(printed.String(), v) {
			t.Errorf("moor printed a decrypted value (%.12s…)", v)
		}
		for _, root := range []string{m.stateDir, repo.Dir} {
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return nil
				}
				if b, _ := os.ReadFile(p); strings.Contains(string(b), v) {
					t.Errorf("%s holds a decrypted value (%.12s…)", p, v)
				}
				return nil
			})
		}
	}

	// The stack removed, its decrypted files go too.
	repo.Remove(stack)
	repo.Commit("remove the stack")
	apply()
	if left := tmpfsFiles(t, shm); len(left) != 0 {
		t.Errorf("decrypted files left after the stack's removal: %v", left)
	}
}

func tmpfsFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

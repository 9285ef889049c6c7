package compose

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/secrets"
)

const sopsCompose = `services:
  app:
    image: app:1
    environment:
      DSN: postgres://app:${DB_PASSWORD}@db/app
    env_file: app.env
    volumes:
      - ./tls.pem:/etc/tls.pem
    secrets:
      - api
    ports:
      - "${PORT}:80"
secrets:
  api:
    file: ./api.json
`

func sopsStack(t *testing.T, k *testkit.SOPSKeys) map[string]string {
	return map[string]string{
		".sops.yaml":       "creation_rules:\n  - path_regex: (^|/)(\\.env|.*\\.pem|app\\.env|api\\.json)$\n    age: " + k.AgeRecipient + "\n",
		"web/compose.yaml": sopsCompose,
		"web/.env":         k.Encrypt(t, ".env", "DB_PASSWORD=correct-horse\nPORT=8080\n"),
		"web/app.env":      k.Encrypt(t, "app.env", "API_TOKEN=tok-123456\n"),
		"web/tls.pem":      k.Encrypt(t, "tls.pem", "-----BEGIN PRIVATE KEY-----\nkey-material\n"),
		"web/api.json":     k.Encrypt(t, "api.json", `{"token": "json-secret"}`),
	}
}

// Encrypted .env, env_file, bind and secret files are decrypted in
// memory: values into the environment, files into SecretFiles bound
// read-only from the secrets directory, never from the stack directory.
func TestLoadDecryptsSOPSFiles(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	files := sopsStack(t, k)
	st, _ := mustLoadWeb(t, files, Options{StacksRoot: t.TempDir(), Secrets: Secrets{Keys: keys, Dir: "/dev/shm/moor-test"}})
	app := st.Services["app"]
	env := strings.Join(app.Spec.Env, "\n")
	for _, want := range []string{"DSN=postgres://app:correct-horse@db/app", "API_TOKEN=tok-123456"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if len(app.Spec.Ports) != 1 || app.Spec.Ports[0].Published != "8080" {
		t.Errorf("ports = %+v", app.Spec.Ports)
	}
	if len(st.Secrets) != 2 {
		t.Fatalf("secret files = %d, want 2", len(st.Secrets))
	}
	byTarget := map[string]reconcile.Mount{}
	for _, m := range app.Spec.Mounts {
		byTarget[m.Target] = m
	}
	for target, want := range map[string]string{"/etc/tls.pem": "key-material", "/run/secrets/api": "json-secret"} {
		m := byTarget[target]
		if !strings.HasPrefix(m.Source, "/dev/shm/moor-test/") || !m.ReadOnly {
			t.Errorf("%s: bound from %s (read-only %v), want the secrets directory, read-only", target, m.Source, m.ReadOnly)
		}
		i := slices.IndexFunc(st.Secrets, func(f reconcile.SecretFile) bool { return f.Path == m.Source })
		if i < 0 || !strings.Contains(string(st.Secrets[i].Data), want) || st.Secrets[i].Digest != m.Content {
			t.Errorf("%s: no decrypted file holding %q for %s", target, want, m.Source)
		}
	}
	if got := app.SecretFields; !slices.Equal(got, []string{"environment", "ports", "volumes"}) {
		t.Errorf("SecretFields = %v", got)
	}
	for _, v := range []string{"correct-horse", "tok-123456", "8080"} {
		if !slices.Contains(st.Redact, v) {
			t.Errorf("Redact lacks %q", v)
		}
	}
}

// A stack that does not load says why without a decrypted value.
func TestLoadErrorsHideDecryptedValues(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	files := sopsStack(t, k)
	files["web/.env"] = k.Encrypt(t, ".env", "DB_PASSWORD=correct-horse\nPORT=not-a-port-xyz\n")
	_, _, err = loadWeb(t, files, Options{Secrets: Secrets{Keys: keys}})
	if err == nil {
		t.Fatal("loaded")
	}
	if strings.Contains(err.Error(), "not-a-port-xyz") || !strings.Contains(err.Error(), "[secret]") {
		t.Fatalf("error: %v", err)
	}
}

// Every way an encrypted file can fail names the file, never its values.
func TestLoadRefusesUnreadableSecrets(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	other := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := secrets.LoadKeys(other.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := sopsStack(t, k)
	plain["web/app.env"] = "API_TOKEN=tok-123456\n"
	tampered := sopsStack(t, k)
	tampered["web/tls.pem"] = strings.Replace(tampered["web/tls.pem"], `"data": "ENC[AES256_GCM,data:`, `"data": "ENC[AES256_GCM,data:AAAA`, 1)
	for name, c := range map[string]struct {
		files map[string]string
		keys  *secrets.Keys
		want  []string
	}{
		"no key":       {sopsStack(t, k), nil, []string{`.env "web/.env"`, "no sops key file is configured"}},
		"wrong key":    {sopsStack(t, k), otherKeys, []string{`.env "web/.env"`, k.AgeRecipient, other.AgeFile}},
		"plaintext":    {plain, keys, []string{`env_file "web/app.env"`, "is not encrypted", ".sops.yaml"}},
		"tampered pem": {tampered, keys, []string{"web/tls.pem", "does not decrypt"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := loadWeb(t, c.files, Options{Secrets: Secrets{Keys: c.keys}})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), "tok-123456") {
				t.Errorf("error shows a value: %v", err)
			}
		})
	}
}

// Without a key (moor validate), encrypted files are checked and the
// stack loads with their values empty; a plaintext file marked as
// encrypted is still refused.
func TestLoadUnkeyed(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	files := sopsStack(t, k)
	files["web/.env"] = k.Encrypt(t, ".env", "DB_PASSWORD=correct-horse\nPORT_unencrypted=8080\n", "--unencrypted-suffix", "_unencrypted")
	files["web/compose.yaml"] = strings.ReplaceAll(sopsCompose, "${PORT}", "${PORT_unencrypted}")
	st, _ := mustLoadWeb(t, files, Options{Secrets: Secrets{Unkeyed: true}})
	if len(st.Secrets) != 0 || len(st.Redact) != 0 {
		t.Fatalf("decrypted without a key: %d files, %d values", len(st.Secrets), len(st.Redact))
	}
	if env := strings.Join(st.Services["app"].Spec.Env, "\n"); !strings.Contains(env, "DSN=postgres://app:@db/app") {
		t.Fatalf("environment:\n%s", env)
	}
	files["web/app.env"] = "API_TOKEN=tok-123456\n"
	_, _, err := loadWeb(t, files, Options{Secrets: Secrets{Unkeyed: true}})
	if err == nil || !strings.Contains(err.Error(), "is not encrypted") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, secrets.ErrNotEncrypted) {
		t.Fatal("the marked file's error is the reader's, not the stack's")
	}
}

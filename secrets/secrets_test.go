package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/secrets"
)

// The reader gives what `sops decrypt` gives, for files the sops command
// encrypted, with either key.
func TestDecryptAsSops(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	ageOnly, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	pgpOnly, err := secrets.LoadKeys("", k.PGPFile)
	if err != nil {
		t.Fatal(err)
	}
	macOnly := filepath.Join(t.TempDir(), "sops.yaml")
	if err := os.WriteFile(macOnly, []byte("creation_rules:\n  - encrypted_regex: ^password$\n    mac_only_encrypted: true\n    age: "+k.AgeRecipient+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, content string
		args          []string
	}{
		{".env", "DB_PASSWORD=hunter2 x\n# a comment\nTOKEN=abc$def\nMULTI=one\\ntwo\nEMPTY=\n", nil},
		{"app.env", "A=1\nB_unencrypted=plain\n", []string{"--unencrypted-suffix", "_unencrypted"}},
		{"config.yaml", "db:\n  user: app # who\n  password: s3cret\n  port: 5432\n  ratio: 0.25\n  on: true\nlist:\n  - one\n  - 2\n  - nested: x\nempty: \"\"\nnothing: null\ntext: |\n  line one\n  line two\n", nil},
		{"mixed.yaml", "user: app\npassword: s3cret\n", []string{"--encrypted-regex", "^password$"}},
		{"maconly.yaml", "user: app\npassword: s3cret\n", []string{"--config", macOnly}},
		{"config.json", `{"b": {"password": "s3cret", "n": 3, "f": 1.5, "t": false, "l": ["x", 1, null]}, "a": "first"}`, nil},
		{"cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\x00binary\xff\n-----END CERTIFICATE-----\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := k.Encrypt(t, c.name, c.content, c.args...)
			f := secrets.FormatOf(c.name)
			if !secrets.Encrypted([]byte(enc), f) {
				t.Fatalf("Encrypted says no:\n%s", enc)
			}
			if err := secrets.Check([]byte(enc), f); err != nil {
				t.Fatalf("Check: %v", err)
			}
			want := k.Decrypt(t, c.name, enc)
			for _, keys := range []*secrets.Keys{ageOnly, pgpOnly} {
				got, err := secrets.Decrypt([]byte(enc), f, keys)
				if err != nil {
					t.Fatalf("Decrypt: %v\n%s", err, enc)
				}
				if f == secrets.YAML || f == secrets.JSON {
					if diff := cmp.Diff(decodeAny(t, f, want), decodeAny(t, f, string(got))); diff != "" {
						t.Fatalf("not what sops decrypts (-sops +moor):\n%s\nmoor:\n%s", diff, got)
					}
					continue
				}
				if string(got) != want {
					t.Fatalf("got %q, sops decrypts %q", got, want)
				}
			}
		})
	}
}

// A file whose values were changed, moved or dropped without the key does
// not decrypt, and the error holds no value.
func TestDecryptRefusesTampering(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	enc := k.Encrypt(t, ".env", "A=alpha-secret\nB=bravo-secret\n")
	lines := strings.Split(enc, "\n")
	var a, b int
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "A="):
			a = i
		case strings.HasPrefix(l, "B="):
			b = i
		}
	}
	swapped := append([]string(nil), lines...)
	swapped[a], swapped[b] = "A="+strings.TrimPrefix(lines[b], "B="), "B="+strings.TrimPrefix(lines[a], "A=")
	dropped := append(append([]string(nil), lines[:b]...), lines[b+1:]...)
	plain := append([]string(nil), lines...)
	plain[a] = "A=injected"
	for name, text := range map[string]string{
		"swapped": strings.Join(swapped, "\n"),
		"dropped": strings.Join(dropped, "\n"),
		"plain":   strings.Join(plain, "\n"),
	} {
		_, err := secrets.Decrypt([]byte(text), secrets.Dotenv, keys)
		if err == nil {
			t.Fatalf("%s: decrypted", name)
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "injected") {
			t.Fatalf("%s: the error shows a value: %v", name, err)
		}
	}
}

// Without the right key the error names the recipients and the key file.
func TestDecryptWithoutTheKey(t *testing.T) {
	k := testkit.NewSOPSKeys(t)
	other := testkit.NewSOPSKeys(t)
	enc := k.Encrypt(t, "a.yaml", "password: x\n")
	keys, err := secrets.LoadKeys(other.AgeFile, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = secrets.Decrypt([]byte(enc), secrets.YAML, keys)
	if err == nil || !strings.Contains(err.Error(), k.AgeRecipient) || !strings.Contains(err.Error(), other.AgeFile) {
		t.Fatalf("err = %v", err)
	}
	if _, err := secrets.Decrypt([]byte(enc), secrets.YAML, nil); err == nil || !strings.Contains(err.Error(), "no sops key file") {
		t.Fatalf("no keys: err = %v", err)
	}
}

// A file in the clear is told apart without a key.
func TestCheckPlaintext(t *testing.T) {
	for name, text := range map[string]string{
		".env":     "PASSWORD=x\n",
		"a.yaml":   "password: x\n",
		"a.json":   `{"password": "x"}`,
		"cert.pem": "-----BEGIN PRIVATE KEY-----\n",
	} {
		f := secrets.FormatOf(name)
		if err := secrets.Check([]byte(text), f); !errors.Is(err, secrets.ErrNotEncrypted) {
			t.Errorf("%s: Check = %v", name, err)
		}
		if secrets.Encrypted([]byte(text), f) {
			t.Errorf("%s: Encrypted", name)
		}
	}
}

package secrets_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/secrets"
)

// BenchmarkDecryptDotenv: what decrypting a stack's .env of 20 values
// costs each load (age key; the data key, then every value and the MAC).
func BenchmarkDecryptDotenv(b *testing.B) {
	k := testkit.NewSOPSKeys(b)
	keys, err := secrets.LoadKeys(k.AgeFile, "")
	if err != nil {
		b.Fatal(err)
	}
	var env strings.Builder
	for i := range 20 {
		fmt.Fprintf(&env, "SECRET_%d=value-%d-%s\n", i, i, strings.Repeat("x", 32))
	}
	enc := []byte(k.Encrypt(b, ".env", env.String()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := secrets.Decrypt(enc, secrets.Dotenv, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptedCheckPlain: what a file in the clear costs the check
// every .env, env_file and bound file goes through.
func BenchmarkEncryptedCheckPlain(b *testing.B) {
	data := []byte(strings.Repeat("KEY=value\n", 100))
	for b.Loop() {
		if secrets.Encrypted(data, secrets.Dotenv) {
			b.Fatal("encrypted")
		}
	}
}

package secrets_test

import (
	"encoding/json"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/moor-dev/moor/secrets"
)

func decodeAny(t *testing.T, f secrets.Format, s string) any {
	t.Helper()
	var v any
	var err error
	if f == secrets.JSON {
		err = json.Unmarshal([]byte(s), &v)
	} else {
		err = yaml.Unmarshal([]byte(s), &v)
	}
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

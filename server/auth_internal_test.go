package server

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTokenCompareIsConstantTime: checking a token takes as long whatever
// is wrong with it: its first byte, its last, or its length. A compare that
// stops at the first difference (bytes.Equal), or at a length mismatch
// (subtle.ConstantTimeCompare), would tell a client timing its attempts
// how much of the token it has right, or how long it is. The token is
// long enough that such a compare differs by an order of magnitude; the
// fastest of many rounds is compared, so the machine's load cancels out.
func TestTokenCompareIsConstantTime(t *testing.T) {
	token := []byte(strings.Repeat("a", 64<<10))
	wrong := map[string]string{
		"first byte": "b" + string(token[1:]),
		"last byte":  string(token[:len(token)-1]) + "b",
		"length":     string(token[:len(token)/2]),
	}
	fastest := map[string]time.Duration{}
	for range 100 {
		for name, cred := range wrong {
			r := httptest.NewRequest("GET", "/api/v1/sources", nil)
			r.Header.Set("Authorization", "Bearer "+cred)
			start := time.Now()
			for range 5 {
				if ok, err := authorized(r, token); ok || err == nil {
					t.Fatalf("a token wrong in its %s is accepted", name)
				}
			}
			if d := time.Since(start); fastest[name] == 0 || d < fastest[name] {
				fastest[name] = d
			}
		}
	}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for _, d := range fastest {
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi > 3*lo {
		t.Errorf("checking a wrong token takes from %v to %v, by what is wrong: %v", lo, hi, fastest)
	}
}

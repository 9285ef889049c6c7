package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var fuzzProviders = []string{"github", "gitlab", "gitea", "generic"}

// FuzzHandler feeds arbitrary bodies, events and credentials to every
// provider. When sign is set the fuzzer's body is signed with the real
// secret, so it also explores the payload parser; otherwise cred is sent as
// the credential. Invariants: no panic, a known status with a JSON body that
// does not contain the secret, and no trigger without a valid credential.
//
// The seed corpus runs with every `go test`; explore with
//
//	go test -fuzz FuzzHandler ./webhook/
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		provider uint8
		file     string
		event    string
	}{
		{0, "github_push.json", "push"},
		{0, "github_tag.json", "push"},
		{0, "github_ping.json", "ping"},
		{1, "gitlab_push.json", "Push Hook"},
		{1, "gitlab_tag.json", "Tag Push Hook"},
		{2, "gitea_push.json", "push"},
		{2, "gitea_tag.json", "push"},
		{3, "generic_push.json", ""},
		{3, "generic_empty.json", ""},
	}
	for _, s := range seeds {
		body := payload(f, s.file)
		_, cred := authHeader(fuzzProviders[s.provider], secret, body)
		f.Add(s.provider, s.event, cred, body, true)
		f.Add(s.provider, s.event, cred, body, false)
		f.Add(s.provider, s.event, "sha256="+strings.Repeat("0", 64), body, false)
	}
	f.Add(uint8(3), "", "", []byte(`{"ref": 1}`), true)
	f.Add(uint8(0), "push", "", []byte(`{"ref": "refs/heads/main"}`+strings.Repeat(" ", 5000)), true)

	f.Fuzz(func(t *testing.T, p uint8, event, cred string, body []byte, sign bool) {
		provider := fuzzProviders[int(p)%len(fuzzProviders)]
		c := new(counter)
		h := New([]Target{{Source: "prod", Branch: "main", Secret: []byte(secret), Trigger: c.trigger}})
		h.MaxBody = 4096 // reach the limit without megabyte inputs

		name, good := authHeader(provider, secret, body)
		if sign {
			cred = good
		}
		r := httptest.NewRequest(http.MethodPost, "/hooks/"+provider+"/prod", bytes.NewReader(body))
		r.Header.Set(name, cred)
		if hdr, ok := eventHeader[provider]; ok {
			r.Header.Set(hdr, event)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		switch w.Code {
		case 200, 202, 400, 401, 413, 422:
		default:
			t.Errorf("status %d", w.Code)
		}
		var resp map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Errorf("response %q is not a JSON object of strings: %v", w.Body, err)
		}
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("response leaks the secret: %s", w.Body)
		}
		n := c.n.Load()
		switch {
		case n > 1:
			t.Errorf("triggered %d times", n)
		case n == 1 && cred != good:
			t.Errorf("triggered with credential %q, want %q", cred, good)
		case n == 1 && (w.Code != 202 || resp["triggered"] != "prod"):
			t.Errorf("triggered but answered %d %v", w.Code, resp)
		case n == 0 && resp["triggered"] != "":
			t.Errorf("answered %v without triggering", resp)
		case n == 1 && len(body) > 4096:
			t.Errorf("triggered on a %d-byte body over the limit", len(body))
		}
	})
}

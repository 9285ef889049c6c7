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

// FuzzHandler feeds arbitrary methods, paths, bodies, events, credentials,
// one more header of any name, declared or chunked lengths and body
// budgets to every provider. When sign is set the fuzzer's body is signed
// with the real secret, so it also explores the payload parser; otherwise
// cred is sent as the credential. Invariants: no panic, a known status
// with a JSON body that does not contain the secret, no trigger without a
// valid credential on the right path, and every byte and place of the
// body budget given back.
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
		f.Add(s.provider, s.event, cred, body, true, "POST", "prod", "", "", false, uint16(0))
		f.Add(s.provider, s.event, cred, body, false, "POST", "prod", "", "", true, uint16(0))
		f.Add(s.provider, s.event, "sha256="+strings.Repeat("0", 64), body, false, "POST", "prod", "", "", false, uint16(0))
		f.Add(s.provider, s.event, cred, body, true, "POST", "prod", "", "", true, uint16(1000))
	}
	f.Add(uint8(3), "", "", []byte(`{"ref": 1}`), true, "POST", "prod", "", "", false, uint16(0))
	f.Add(uint8(0), "push", "", []byte(`{"ref": "refs/heads/main"}`+strings.Repeat(" ", 5000)), true, "POST", "prod", "", "", false, uint16(0))
	f.Add(uint8(2), "push", "", payload(f, "gitea_push.json"), true, "POST", "prod", "X-Forgejo-Signature", strings.Repeat("ab", 32), false, uint16(0))
	f.Add(uint8(1), "Push Hook", secret, payload(f, "gitlab_push.json"), false, "POST", "prod", "X-Gitlab-Token", "", false, uint16(0))
	f.Add(uint8(0), "push", "", payload(f, "github_push.json"), true, "GET", "prod", "", "", false, uint16(0))
	f.Add(uint8(0), "push", "", payload(f, "github_push.json"), true, "POST", "prod/x", "", "", false, uint16(0))
	f.Add(uint8(0), "push", "", payload(f, "github_push.json"), true, "POST", "lab", "", "", false, uint16(0))

	f.Fuzz(func(t *testing.T, p uint8, event, cred string, body []byte, sign bool,
		method, source, name, value string, chunked bool, budget uint16) {
		provider := fuzzProviders[int(p)%len(fuzzProviders)]
		c := new(counter)
		h := New([]Target{{Source: "prod", Branch: "main", Secret: []byte(secret), Trigger: c.trigger}})
		h.MaxBody = 4096 // reach the limit without megabyte inputs
		if budget > 0 {
			h.MaxBuffered = int64(budget) // reach the budget too
		}

		authName, good := authHeader(provider, secret, body)
		if sign {
			cred = good
		}
		if !validMethod(method) {
			method = http.MethodPost
		}
		path := "/hooks/" + provider + "/" + source
		r := httptest.NewRequest(method, "/", bytes.NewReader(body))
		r.URL.Path = path // any bytes, as the server's mux would pass them
		if chunked {
			r.ContentLength = -1
		}
		if name != "" {
			r.Header.Set(name, value)
		}
		r.Header.Set(authName, cred)
		if hdr, ok := eventHeader[provider]; ok {
			r.Header.Set(hdr, event)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		switch w.Code {
		case 200, 202, 400, 401, 404, 405, 413, 422, 503:
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
		if n, m := h.reading.Load(), h.buffered.Load(); n != 0 || m != 0 {
			t.Errorf("after the answer, %d bodies reading and %d bytes buffered, want none", n, m)
		}
		// A body's buffer starts at 4 KiB (less for a known length) and
		// doubles.
		if w.Code == 503 && (budget == 0 || int(budget) >= firstChunk+2*(len(body)+1)) {
			t.Errorf("503 for a %d-byte body with a budget of %d", len(body), budget)
		}
		n := c.n.Load()
		switch {
		case n > 1:
			t.Errorf("triggered %d times", n)
		case n == 1 && !sameCredential(provider, cred, good):
			t.Errorf("triggered with credential %q, want %q", cred, good)
		case n == 1 && (method != http.MethodPost || source != "prod"):
			t.Errorf("triggered by %s %s", method, path)
		case n == 1 && (w.Code != 202 || resp["triggered"] != "prod"):
			t.Errorf("triggered but answered %d %v", w.Code, resp)
		case n == 0 && resp["triggered"] != "":
			t.Errorf("answered %v without triggering", resp)
		case n == 1 && len(body) > 4096:
			t.Errorf("triggered on a %d-byte body over the limit", len(body))
		}
	})
}

// validMethod reports whether m is a token httptest.NewRequest accepts.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// sameCredential reports whether cred proves what good proves: the same
// token, or the same MAC in hex of either case after the same prefix.
func sameCredential(provider, cred, good string) bool {
	if provider == "gitlab" {
		return cred == good
	}
	prefix := providers[provider].sigPrefix
	c, ok := strings.CutPrefix(cred, prefix)
	g, _ := strings.CutPrefix(good, prefix)
	return ok && strings.EqualFold(c, g)
}

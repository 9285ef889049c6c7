package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// provider describes how one forge authenticates a hook and names its event.
type provider struct {
	// sigHeaders carry sigPrefix + hex(HMAC-SHA256(secret, body)); the first
	// one present is used.
	sigHeaders []string
	sigPrefix  string
	// tokenHeader carries the secret itself (GitLab); set instead of sigHeaders.
	tokenHeader string
	// eventHeaders name the event, first present wins; none means every hook
	// is a push.
	eventHeaders []string
	pushEvents   []string
	pingEvent    string
	// refOptional lets a payload omit "ref" (or be empty): such a hook
	// triggers whatever the source follows.
	refOptional bool
}

var providers = map[string]provider{
	"github": {
		sigHeaders:   []string{"X-Hub-Signature-256"},
		sigPrefix:    "sha256=",
		eventHeaders: []string{"X-GitHub-Event"},
		pushEvents:   []string{"push"},
		pingEvent:    "ping",
	},
	// Forgejo sends both its own headers and Gitea's.
	"gitea": {
		sigHeaders:   []string{"X-Gitea-Signature", "X-Forgejo-Signature"},
		eventHeaders: []string{"X-Gitea-Event", "X-Forgejo-Event"},
		pushEvents:   []string{"push"},
	},
	"gitlab": {
		tokenHeader:  "X-Gitlab-Token",
		eventHeaders: []string{"X-Gitlab-Event"},
		pushEvents:   []string{"Push Hook", "Tag Push Hook"},
	},
	"generic": {
		sigHeaders:  []string{"X-Moor-Signature"},
		sigPrefix:   "sha256=",
		refOptional: true,
	},
}

// credential is what a hook presents as proof that its sender knows the
// secret: either a MAC of the body or the secret itself.
type credential struct {
	mac   []byte
	token []byte
}

// credential extracts the hook's credential from h without judging it; the
// error says which header is missing or malformed, never what it should hold.
func (p provider) credential(h http.Header) (credential, error) {
	if p.tokenHeader != "" {
		v := h.Get(p.tokenHeader)
		if v == "" {
			return credential{}, fmt.Errorf("missing %s header", p.tokenHeader)
		}
		return credential{token: []byte(v)}, nil
	}
	name, v := first(h, p.sigHeaders)
	if v == "" {
		return credential{}, fmt.Errorf("missing %s header", p.sigHeaders[0])
	}
	hexMAC, ok := strings.CutPrefix(v, p.sigPrefix)
	mac, err := hex.DecodeString(hexMAC)
	if !ok || err != nil || len(mac) != sha256.Size {
		return credential{}, fmt.Errorf("malformed %s header, want %s<hex HMAC-SHA256 of the body>", name, p.sigPrefix)
	}
	return credential{mac: mac}, nil
}

// verify reports, in constant time, whether c proves knowledge of secret.
func (c credential) verify(secret, body []byte) bool {
	if c.token != nil {
		// Compare digests: ConstantTimeCompare returns at once on a length
		// mismatch, which would tell the caller how long the secret is.
		got, want := sha256.Sum256(c.token), sha256.Sum256(secret)
		return hmac.Equal(got[:], want[:])
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(c.mac, m.Sum(nil))
}

// event returns the hook's event name, "" if absent.
func (p provider) event(h http.Header) string {
	_, v := first(h, p.eventHeaders)
	return v
}

func (p provider) isPush(event string) bool { return slices.Contains(p.pushEvents, event) }

// ref returns the pushed ref from an authenticated payload. Every forge's
// push payload has a top-level "ref"; the rest is of no interest, since the
// poll that follows reads the repository itself.
func (p provider) ref(body []byte) (string, error) {
	if p.refOptional && len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	var payload struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		// Forges can also post form-encoded payloads; say what to change.
		return "", fmt.Errorf("malformed JSON payload (is the webhook's content type application/json?): %w", err)
	}
	if payload.Ref == "" && !p.refOptional {
		return "", errors.New(`push payload has no "ref"`)
	}
	return payload.Ref, nil
}

// first returns the first of names present in h, and its value.
func first(h http.Header, names []string) (name, value string) {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

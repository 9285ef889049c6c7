package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sessions. The token is given once, in the login form; the browser then
// holds a session cookie (HttpOnly: no script reads it; SameSite=Strict:
// no other site's page sends it) and every form carries the session's own
// CSRF token besides.
const (
	cookieName = "moor_session"
	// SessionTTL is how long a login lasts.
	SessionTTL = 12 * time.Hour
	// MaxSessions bounds the sessions kept; a login beyond it ends the
	// oldest. Only a client with the token can make one.
	MaxSessions = 32
)

type session struct {
	csrf    string
	expires time.Time
}

// sessions are the logins of a dashboard, in memory: a restart of moor
// logs everyone out.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	// by is keyed by the digest of the cookie's value, so that a lookup
	// takes no time that depends on how much of a guess is right.
	by map[[32]byte]*session
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// start makes a session; it returns the cookie's value.
func (s *sessions) start() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.by {
		if !now.Before(v.expires) {
			delete(s.by, k)
		}
	}
	for len(s.by) >= MaxSessions {
		var oldest [32]byte
		var first time.Time
		for k, v := range s.by {
			if first.IsZero() || v.expires.Before(first) {
				oldest, first = k, v.expires
			}
		}
		delete(s.by, oldest)
	}
	id := newID()
	s.by[sha256.Sum256([]byte(id))] = &session{csrf: newID(), expires: now.Add(SessionTTL)}
	return id
}

// of returns the session of r's cookie, or nil.
func (s *sessions) of(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sha256.Sum256([]byte(c.Value))
	se := s.by[k]
	if se == nil {
		return nil
	}
	if !s.now().Before(se.expires) {
		delete(s.by, k)
		return nil
	}
	return se
}

// end forgets the session of r's cookie.
func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.by, sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

func sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// equal compares two secrets in constant time. It compares digests:
// ConstantTimeCompare returns at once on a length mismatch, which would
// tell the caller how long the secret is.
func equal(got string, want []byte) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(want)
	return hmac.Equal(a[:], b[:])
}

// bearer reports whether r carries the token in an Authorization header,
// for scripts that read the page.
func bearer(r *http.Request, token []byte) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return token != nil && ok && strings.EqualFold(scheme, "Bearer") && equal(strings.TrimSpace(cred), token)
}

// sameOrigin refuses a POST that a browser says came from another origin:
// SameSite=Strict already keeps the cookie from it, and the CSRF token
// is checked besides; a request without Origin (an older browser, curl)
// is left to those.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	return o == "http://"+r.Host || o == "https://"+r.Host
}

// Loopback reports whether the listen address addr ("127.0.0.1:9100",
// "[::1]:9100", "localhost:9100") is reachable from this host only: there
// the pages may be read without the token. Any other address, or one
// that does not parse, is not.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

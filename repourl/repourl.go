// Package repourl is moor's rule for credentials in a repository URL: there
// are none. A token in a URL (https://TOKEN@host/..., a password after the
// user, ?private_token=...) would travel wherever the URL goes — status
// files, /status, the ledger's errors, logs, the terminal — so Check refuses
// such a URL before anything uses it, and Redact hides whatever of it might
// be a secret wherever a URL is shown anyway. Credentials go in a source's
// auth block (password_file or password_env, ssh_key_file), which names
// where the secret is and never holds it.
//
// URLs are read the way gitsource reads them: a local path (starting with
// '/' or '.', or without any ':') is not a URL and is taken as written;
// "scheme://..." is a URL; anything else is scp-style SSH,
// "[user@]host:path".
package repourl

import (
	"errors"
	"regexp"
	"strings"
	"sync"
)

// ErrCredentials is wrapped by every error of Check.
var ErrCredentials = errors.New("the repository URL may hold a credential")

// Hidden replaces what Redact hides.
const Hidden = "***"

// plainUser is an SSH user name as the URL may give it: it names an account
// and never authenticates (moor's SSH auth is a key).
var plainUser = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`) })

// scpLike is go-git's reading of "[user@]host:path".
var scpLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:([^@]+)@)?([^:\s]+):`) })

// parts is a URL cut where credentials can hide.
type parts struct {
	local  bool
	scheme string // "" for scp-style
	user   string // the user part, without the '@'; may hold ":password"
	hasAt  bool   // user part present, even empty
	host   string // the rest of the authority (host[:port]), or of scp-style up to the ':'
	path   string // from the '/' (or, scp-style, from after the ':') up to any '?' or '#'
	query  string // from the first '?' or '#' on (URLs only)
}

func split(url string) parts {
	if isLocal(url) {
		return parts{local: true, path: url}
	}
	if scheme, rest, ok := strings.Cut(url, "://"); ok {
		p := parts{scheme: strings.ToLower(scheme)}
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest, p.query = rest[:i], rest[i:]
		}
		authority := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			authority, p.path = rest[:i], rest[i:]
		}
		if i := strings.LastIndexByte(authority, '@'); i >= 0 {
			p.user, p.hasAt, authority = authority[:i], true, authority[i+1:]
		}
		p.host = authority
		return p
	}
	m := scpLike().FindStringSubmatchIndex(url)
	if m == nil {
		return parts{scheme: "", host: url}
	}
	p := parts{path: url[m[1]:]}
	if m[2] >= 0 {
		p.user, p.hasAt = url[m[2]:m[3]], true
	}
	p.host = url[m[4]:m[5]]
	return p
}

// isLocal tells a path from a URL, as gitsource does.
func isLocal(url string) bool {
	if strings.Contains(url, "://") {
		return false
	}
	return strings.HasPrefix(url, "/") || strings.HasPrefix(url, ".") || !strings.Contains(url, ":")
}

func (p parts) ssh() bool {
	switch p.scheme {
	case "", "ssh", "git+ssh", "ssh+git":
		return true
	}
	return false
}

// userShown reports whether the user part may be shown and used: a plain
// user name of an SSH URL.
func (p parts) userShown() bool {
	return p.ssh() && plainUser().MatchString(p.user)
}

// Check returns nil for a repository URL that carries no credential, and
// otherwise an error wrapping ErrCredentials that says what to do instead.
// Refused are:
//
//   - a user part in any URL but SSH: https://TOKEN@host/... and
//     https://user:TOKEN@host/... alike (the user goes in auth.username);
//   - a password in any URL: ssh://git:TOKEN@host/... too;
//   - an SSH user that is not a plain user name (letters, digits, '.',
//     '_' and '-', at most 64): git@host:path and ssh://deploy@host/path
//     are fine;
//   - any query or fragment in a URL (https://host/r.git?private_token=...):
//     Git needs none, and a query is where tokens hide.
//
// The error holds no part of the URL: the caller names the URL, with
// Redact.
func Check(url string) error {
	p := split(url)
	switch {
	case p.local:
		return nil
	case strings.Contains(p.user, ":"):
		return refused("it holds a password")
	case p.hasAt && !p.ssh():
		return refused("it has a user part, which may be a token (https://TOKEN@host/...); the user goes in auth.username")
	case p.hasAt && !p.userShown():
		return refused("its SSH user is not a plain user name (letters, digits, '.', '_', '-')")
	case p.query != "":
		return refused("it has a query or fragment (?... or #...), where tokens hide; Git needs none")
	}
	return nil
}

func refused(why string) error {
	return &checkError{why: why}
}

type checkError struct{ why string }

func (e *checkError) Error() string {
	return "the URL is refused: " + e.why + ". moor takes no credentials in URLs: put the password or token in a file or environment variable named by the source's auth (password_file or password_env, with username; ssh_key_file for SSH)"
}

func (e *checkError) Unwrap() error { return ErrCredentials }

// Redact returns url with whatever may be a credential replaced by Hidden:
// the user part (but the plain user of an SSH URL), a password, and the
// query and fragment (but the one Git's smart HTTP adds itself,
// "?service=git-upload-pack"). A URL that Check accepts comes back
// unchanged. It is what moor shows of a URL, anywhere: status, errors, logs.
func Redact(url string) string {
	p := split(url)
	hideUser := p.hasAt && !p.userShown()
	hideQuery := p.query != "" && !gitQuery[p.query]
	if p.local || !hideUser && !hideQuery {
		return url
	}
	var b strings.Builder
	if p.scheme != "" {
		b.WriteString(url[:strings.Index(url, "://")+3])
	}
	switch {
	case hideUser:
		b.WriteString(Hidden + "@")
	case p.hasAt:
		b.WriteString(p.user + "@")
	}
	b.WriteString(p.host)
	if p.scheme == "" {
		b.WriteByte(':')
	}
	b.WriteString(p.path)
	switch {
	case hideQuery:
		b.WriteString(p.query[:1] + Hidden)
	default:
		b.WriteString(p.query)
	}
	return b.String()
}

// gitQuery are the queries Git's smart HTTP protocol adds to a URL, which
// hold nothing secret.
var gitQuery = map[string]bool{"?service=git-upload-pack": true, "?service=git-receive-pack": true}

// RedactText returns s with every URL in it ("scheme://" up to a space, a
// quote or a bracket) redacted: for text that moor did not compose itself,
// or that an older moor wrote before it refused credentials in URLs.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			break
		}
		start := i
		for start > 0 && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !strings.ContainsRune(" \t\r\n\"'`<>()[]{}", rune(s[end])) {
			end++
		}
		b.WriteString(s[:start])
		if start == i { // no scheme: not a URL
			b.WriteString(s[start:end])
		} else {
			b.WriteString(Redact(s[start:end]))
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

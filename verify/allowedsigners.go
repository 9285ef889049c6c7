package verify

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// gitNamespace is the SSHSIG namespace git signs commits and tags in.
const gitNamespace = "git"

// allowedSigner is one line of an allowed-signers file (ssh-keygen(1),
// "ALLOWED SIGNERS").
type allowedSigner struct {
	principals string        // as written: comma-separated patterns
	key        ssh.PublicKey //
	namespaces []string      // nil: any namespace
	// validAfter and validBefore bound the committer date; zero is open.
	validAfter, validBefore time.Time
	where                   string // "path:line", for messages
}

// loadAllowedSigners reads an allowed-signers file. Every error names the
// file and line, since a half-read trust file must not load.
func loadAllowedSigners(path string) ([]allowedSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load ssh allowed signers: %w", err)
	}
	var signers []allowedSigner
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		where := fmt.Sprintf("%s:%d", path, n)
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseAllowedSigner(line)
		if err != nil {
			return nil, fmt.Errorf("load ssh allowed signers %s: %w", where, err)
		}
		s.where = where
		signers = append(signers, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load ssh allowed signers %s: %w", path, err)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("load ssh allowed signers %s: no signers", path)
	}
	return signers, nil
}

// parseAllowedSigner parses "principals [options] keytype base64key
// [comment]", a line already trimmed and known not to be a comment.
func parseAllowedSigner(line string) (allowedSigner, error) {
	principals, rest, err := splitPrincipals(line)
	if err != nil {
		return allowedSigner{}, err
	}
	if rest == "" {
		return allowedSigner{}, errors.New("missing key after principals")
	}
	// The remainder is exactly an authorized_keys entry, options included.
	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return allowedSigner{}, fmt.Errorf("parse key: %w", err)
	}
	s := allowedSigner{principals: principals, key: key}
	for _, opt := range options {
		if err := s.applyOption(opt); err != nil {
			return allowedSigner{}, err
		}
	}
	return s, nil
}

// splitPrincipals takes the first field, which may be double-quoted.
func splitPrincipals(line string) (principals, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return "", "", errors.New("unterminated quote in principals")
		}
		principals, rest = line[1:end+1], line[end+2:]
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return "", "", errors.New("missing key after principals")
		}
		principals, rest = line[:i], line[i:]
	}
	if principals == "" {
		return "", "", errors.New("empty principals")
	}
	return principals, strings.TrimSpace(rest), nil
}

// applyOption interprets one option the way ssh-keygen does: names are
// case-insensitive and unknown options are an error, so a restriction we do
// not understand never silently widens trust.
func (s *allowedSigner) applyOption(opt string) error {
	name, value, hasValue := strings.Cut(opt, "=")
	value = strings.TrimSuffix(strings.TrimPrefix(value, `"`), `"`)
	var err error
	switch strings.ToLower(name) {
	case "namespaces":
		if !hasValue || value == "" {
			return errors.New(`option namespaces needs a value, e.g. namespaces="git"`)
		}
		s.namespaces = strings.Split(value, ",")
	case "valid-after":
		s.validAfter, err = parseSSHTime(value)
	case "valid-before":
		s.validBefore, err = parseSSHTime(value)
	case "cert-authority":
		return errors.New("option cert-authority is not supported: list the signing keys themselves")
	default:
		return fmt.Errorf("unknown option %q", name)
	}
	if err != nil {
		return fmt.Errorf("option %s: %w", name, err)
	}
	return nil
}

// parseSSHTime parses ssh-keygen's YYYYMMDD[HHMM[SS]][Z]: UTC with a
// trailing Z, local time without.
func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("time %q is not YYYYMMDD[HHMM[SS]][Z]", v)
	}
	return time.ParseInLocation(layout, v, loc)
}

// validAt reports whether the line's validity window admits a commit
// committed at when, and why not.
func (s *allowedSigner) validAt(when time.Time) (bool, string) {
	if !s.validAfter.IsZero() && when.Before(s.validAfter) {
		return false, fmt.Sprintf("%s: key valid only after %s, commit dated %s", s.where, s.validAfter.Format(time.RFC3339), when.Format(time.RFC3339))
	}
	if !s.validBefore.IsZero() && when.After(s.validBefore) {
		return false, fmt.Sprintf("%s: key valid only before %s, commit dated %s", s.where, s.validBefore.Format(time.RFC3339), when.Format(time.RFC3339))
	}
	return true, ""
}

// allowsGit reports whether the line lets its key sign in git's namespace,
// and why not.
func (s *allowedSigner) allowsGit() (bool, string) {
	if s.namespaces != nil && !matchPatternList(gitNamespace, s.namespaces) {
		return false, fmt.Sprintf("%s restricts the key to namespaces %q", s.where, strings.Join(s.namespaces, ","))
	}
	return true, ""
}

// matchPatternList is OpenSSH's match_pattern_list: s must match a pattern
// and no negated ("!") pattern.
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if matchPattern(s, neg) {
				return false
			}
			continue
		}
		if matchPattern(s, p) {
			matched = true
		}
	}
	return matched
}

// matchPattern is OpenSSH's match_pattern: '*' matches any run of
// characters and '?' any one character.
func matchPattern(s, p string) bool {
	for p != "" {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}

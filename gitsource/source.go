package gitsource

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/repourl"
)

// Classes of failure, for errors.Is. Every error of this package names the
// URL (redacted: repourl.Redact) and the ref where there is one, and wraps
// the cause. Each carries its fault class.
var (
	// ErrUnreachable: the repository could not be listed or fetched (network,
	// DNS, timeout, missing local path, no such repository). Transient:
	// fault.SourceUnreachable.
	ErrUnreachable = fault.Mark(fault.ErrSourceUnreachable, errors.New("repository unreachable"))
	// ErrRefNotFound: the repository answered but has no such branch, tag
	// or commit. Stalled until the repository or the configuration
	// changes: fault.Refused.
	ErrRefNotFound = fault.Mark(fault.ErrRefused, errors.New("ref not found"))
	// ErrAuth: the server rejected the credentials (or asked for some).
	// Stalled until the configuration changes: fault.Refused.
	ErrAuth = fault.Mark(fault.ErrRefused, errors.New("authentication failed"))
)

// DefaultRef is the ref of a Source whose Ref is empty.
const DefaultRef = "main"

// DefaultTimeout bounds each network operation of a Source whose Timeout is
// zero.
const DefaultTimeout = 60 * time.Second

// Source is one repository and ref, and the directory where its snapshots
// live. A Source is not safe for concurrent use: the controller runs one sync
// of a source at a time.
type Source struct {
	// URL is a local path ("/abs", "./rel"), a file://, https://, http://
	// or ssh:// URL, or scp-style "user@host:path" (SSH).
	URL string
	// Ref is a branch (default "main"), a tag (annotated or lightweight), a
	// full reference name ("refs/heads/x"), or a full 40-hex commit sha.
	Ref string
	// Dir is the state directory for this source, e.g. STATE/sources/NAME.
	Dir string
	// Auth authenticates network operations; nil for none.
	Auth transport.AuthMethod
	// Timeout bounds each network operation; zero means DefaultTimeout.
	Timeout time.Duration
	// Listed are directories whose entries, and their ancestors', every
	// snapshot lists (Snapshot.Trees).
	Listed []string
	// Omit, when set, names the directories (slash paths) to leave out
	// of a commit's snapshot, given the trees it lists: each is made an
	// empty directory, its name kept. A stored snapshot that left out
	// more than Omit names is not reused.
	Omit func(Trees) []string
}

func (s *Source) ref() string {
	if s.Ref == "" {
		return DefaultRef
	}
	return s.Ref
}

func (s *Source) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// remoteURL is the URL handed to go-git: local paths are made absolute so
// the result does not depend on a later chdir; everything else is passed
// through after checking that go-git can parse it. A URL that may hold a
// credential (repourl.Check) is never used: so no error of go-git's, which
// may quote the URL, can carry one.
func (s *Source) remoteURL() (string, error) {
	installTransports()
	if err := repourl.Check(s.URL); err != nil {
		return "", fmt.Errorf("repository %s: %w: %w", s.shownURL(), ErrAuth, err)
	}
	ep, err := Endpoint(s.URL)
	if err != nil {
		return "", err
	}
	if ep.Protocol == "file" {
		return ep.Path, nil
	}
	return s.URL, nil
}

// Endpoint parses a source URL the way fetches will use it. Local paths
// (absolute, "./rel", "../rel", or without any ':') get protocol "file" and
// an absolute Path; "user@host:path" is SSH. Its errors show the URL
// redacted (repourl.Redact).
func Endpoint(url string) (*transport.Endpoint, error) {
	if url == "" {
		return nil, errors.New("empty repository URL")
	}
	shown := repourl.Redact(url)
	if isLocalPath(url) {
		abs, err := filepath.Abs(url)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", shown, err)
		}
		url = abs
	}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		// net/url's error quotes the whole URL: keep only what it says.
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("repository %s: %w", shown, err)
	}
	return ep, nil
}

// shownURL is the source's URL as errors and logs show it.
func (s *Source) shownURL() string { return repourl.Redact(s.URL) }

// isLocalPath tells a path from a URL. A path that starts with '/' or '.'
// is local even when it holds a ':'; scp-style "host:path" never starts
// with either.
func isLocalPath(url string) bool {
	if strings.Contains(url, "://") {
		return false
	}
	return strings.HasPrefix(url, "/") || strings.HasPrefix(url, ".") || !strings.Contains(url, ":")
}

// candidates are the reference names ref may denote, in order of preference.
func candidates(ref string) []plumbing.ReferenceName {
	if strings.HasPrefix(ref, "refs/") {
		return []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	}
	return []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)}
}

// Resolve lists the remote's refs (one ls-remote, nothing fetched) and
// returns the commit the source's ref points at: the branch of that name
// first, then the tag (peeled to its commit). A full commit sha is returned
// as is, without any network call.
func (s *Source) Resolve(ctx context.Context) (Revision, error) {
	ref := s.ref()
	if isFullSHA(strings.ToLower(ref)) {
		return Revision{Ref: ref, Commit: strings.ToLower(ref)}, nil
	}
	url, err := s.remoteURL()
	if err != nil {
		return Revision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.Auth, PeelingOption: git.AppendPeeled})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return Revision{}, fmt.Errorf("ref %s not found in %s (the repository is empty): %w", ref, s.shownURL(), ErrRefNotFound)
	}
	if err != nil {
		return Revision{}, classify(fmt.Sprintf("list refs of %s", s.shownURL()), err)
	}
	byName := make(map[plumbing.ReferenceName]plumbing.Hash, len(refs))
	for _, r := range refs {
		if r.Type() == plumbing.HashReference {
			byName[r.Name()] = r.Hash()
		}
	}
	for _, name := range candidates(ref) {
		h, ok := byName[name]
		if !ok {
			continue
		}
		// An annotated tag's ref holds the tag object; "^{}" is its commit.
		if peeled, ok := byName[name+"^{}"]; ok {
			h = peeled
		}
		return Revision{Ref: ref, Commit: h.String()}, nil
	}
	return Revision{}, fmt.Errorf("ref %s not found in %s (%s): %w", ref, s.shownURL(), listRefs(byName), ErrRefNotFound)
}

// listRefs names a few branches and tags for an error message.
func listRefs(refs map[plumbing.ReferenceName]plumbing.Hash) string {
	var branches, tags []string
	for name := range refs {
		switch {
		case name.IsBranch():
			branches = append(branches, name.Short())
		case name.IsTag() && !strings.HasSuffix(name.String(), "^{}"):
			tags = append(tags, name.Short())
		}
	}
	return "branches: " + few(branches) + "; tags: " + few(tags)
}

func few(names []string) string {
	const max = 5
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	if len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(", and %d more", len(names)-max)
	}
	return strings.Join(names, ", ")
}

// classify wraps a transport error with its class and what was being done.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return fmt.Errorf("%s: %w: %w", what, ErrAuth, err)
	default:
		return fmt.Errorf("%s: %w: %w", what, ErrUnreachable, err)
	}
}

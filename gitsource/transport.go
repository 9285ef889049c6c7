package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// go-git's file transport (local paths and file:// URLs) runs the
// git-upload-pack binary, found on PATH or through `git --exec-path`. moor's
// container image holds no git at all, so on a host or image where neither
// binary is found, "file" is served in process instead: go-git's upload-pack
// server reads the repository directly. It differs from git-upload-pack in
// two ways that moor absorbs: it refuses depth-limited fetches (Checkout then
// fetches the ref with its history, see shallowUnsupported), and it
// advertises no peeled tags, which inProcessFile adds so that Resolve gives
// an annotated tag's commit, as it does through git-upload-pack.
//
// The choice is made on the first remote URL a Source uses, not at start-up:
// a command that reaches no repository pays nothing for the PATH search.
var installTransports = sync.OnceFunc(func() {
	if t := fileTransport(exec.LookPath); t != nil {
		client.InstallProtocol("file", t)
	}
	useFallbackRoots()
})

// fileTransport returns the transport to install for "file", or nil to keep
// go-git's, which works whenever lookPath finds git-upload-pack or git.
func fileTransport(lookPath func(string) (string, error)) transport.Transport {
	for _, bin := range []string{transport.UploadPackServiceName, "git"} {
		if _, err := lookPath(bin); err == nil {
			return nil
		}
	}
	return inProcessFile{}
}

// inProcessFile serves fetches from local repositories without any binary:
// bare repositories, working trees (their .git) and linked worktrees alike.
// It only reads; a push is refused.
type inProcessFile struct{}

var _ transport.Transport = inProcessFile{}

func (inProcessFile) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	st, err := openLocal(ep.Path)
	if err != nil {
		return nil, err
	}
	// server.NewClient, unlike NewServer, answers an empty repository with
	// transport.ErrEmptyRemoteRepository, as the binary transport does.
	sess, err := server.NewClient(storerLoader{st}).NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return peelingSession{UploadPackSession: sess, objects: st}, nil
}

func (inProcessFile) NewReceivePackSession(ep *transport.Endpoint, _ transport.AuthMethod) (transport.ReceivePackSession, error) {
	return nil, fmt.Errorf("push to %s: the in-process file transport only serves fetches", ep.Path)
}

// openLocal opens the repository at path: bare, or the .git (a directory,
// or a file naming one) of a working tree.
func openLocal(path string) (storer.Storer, error) {
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%s: %w", path, transport.ErrRepositoryNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return repo.Storer, nil
}

// storerLoader hands the server the repository already opened.
type storerLoader struct{ st storer.Storer }

func (l storerLoader) Load(*transport.Endpoint) (storer.Storer, error) { return l.st, nil }

// peelingSession adds the peeled commit of every annotated tag to the
// advertisement ("refs/tags/v1^{}" in ls-remote), which go-git's server
// leaves out.
type peelingSession struct {
	transport.UploadPackSession
	objects storer.EncodedObjectStorer
}

func (s peelingSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	return s.AdvertisedReferencesContext(context.Background())
}

func (s peelingSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	ar, err := s.UploadPackSession.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	if ar.Peeled == nil {
		ar.Peeled = map[string]plumbing.Hash{}
	}
	for name, h := range ar.References {
		if !strings.HasPrefix(name, "refs/tags/") {
			continue
		}
		if target, ok := peelTagObject(s.objects, h); ok {
			ar.Peeled[name] = target
		}
	}
	return ar, nil
}

// peelTagObject follows the tag object h (and tags of tags) to the first
// object that is not a tag. ok is false when h is not a tag object (a
// lightweight tag names its commit already) or cannot be read.
func peelTagObject(objects storer.EncodedObjectStorer, h plumbing.Hash) (plumbing.Hash, bool) {
	peeled := false
	for range 10 {
		obj, err := objects.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		if obj.Type() != plumbing.TagObject {
			return h, peeled
		}
		tag, err := object.DecodeTag(objects, obj)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		h, peeled = tag.Target, true
	}
	return plumbing.ZeroHash, false
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"

	"github.com/moor-dev/moor/internal/githttp"
)

// gitServer serves the bare repositories under a directory over git's
// smart HTTP protocol (git http-backend behind Go's CGI host) on
// 127.0.0.1: a remote as a forge is one, which moor can only poll (a
// repository on the same host it also watches).
type gitServer struct {
	root string
	url  string // http://127.0.0.1:PORT
	srv  *http.Server
}

func startGitServer(root string) (*gitServer, error) {
	backend, err := githttp.Backend(root, io.Discard)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	s := &gitServer{root: root, url: "http://" + l.Addr().String()}
	s.srv = &http.Server{Handler: backend}
	go s.srv.Serve(l)
	return s, nil
}

func (s *gitServer) close() { s.srv.Close() }

// bare makes an empty bare repository NAME.git under the server's root and
// returns its URL and its path.
func (s *gitServer) bare(ctx context.Context, name string) (url, path string, err error) {
	path = filepath.Join(s.root, name+".git")
	r := &repo{dir: s.root}
	if err := r.git(ctx, "init", "--quiet", "--bare", "--initial-branch=main", path); err != nil {
		return "", "", err
	}
	return s.url + "/" + name + ".git", path, nil
}

// push makes main of the bare repository at path equal to r's main.
func (r *repo) push(ctx context.Context, path string) error {
	return r.git(ctx, "push", "--quiet", "--force", path, "main:main")
}

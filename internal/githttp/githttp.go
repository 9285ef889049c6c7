// Package githttp is git's smart HTTP protocol for moor's tests and
// benchmarks: git http-backend behind Go's CGI host, serving every
// repository under a root.
package githttp

import (
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
)

// Backend returns a handler that serves the repositories under root, every
// one exported (GIT_HTTP_EXPORT_ALL), with git's own configuration files
// ignored. http-backend's error output goes to stderr.
func Backend(root string, stderr io.Writer) (http.Handler, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	return &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
			// Repositories may belong to another user than the one git
			// runs as here; "dubious ownership" would then refuse them.
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*",
		},
		InheritEnv: []string{"PATH"},
		Logger:     log.New(io.Discard, "", 0), // copy errors of clients that hang up
		Stderr:     stderr,
	}, nil
}

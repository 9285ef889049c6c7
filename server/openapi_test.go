package server_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/moor-dev/moor/server"
)

// TestOpenAPIDocumentsEveryRoute: docs/openapi.yaml and the handler agree.
// The server's mux remembers every pattern it was given (server/mux.go), so
// a route added under /api anywhere in the package — through the API's
// route table or straight on the mux — is among Patterns, and fails here
// until the file documents it with its method. Every operation the file
// documents must be served, and by the pattern of that very path and
// method. (The answers' bodies are checked against the file's schemas by
// every request of api_test.go.)
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	a := newAPI(t, "127.0.0.1:9100", true, twoReplicas, nil)
	var served []string
	for _, p := range server.Patterns(a.h) {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		switch {
		case !strings.HasPrefix(path, "/api"):
		case method == "" && path == "/api/v1/":
			// The JSON answer to paths no route serves (404, 405).
		case method == "":
			t.Errorf("%s serves every method: an API route names its method", p)
		default:
			served = append(served, p)
		}
	}
	slices.Sort(served)
	documented := a.spec.Operations()
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("%s is served but not in docs/openapi.yaml", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s is in docs/openapi.yaml but not served", op)
		}
		method, path, _ := strings.Cut(op, " ")
		target := strings.NewReplacer("{source}", "prod", "{stack}", "web").Replace(path)
		if got := server.Pattern(a.h, httptest.NewRequest(method, target, nil)); got != op {
			t.Errorf("%s %s is served by %q, want %q", method, target, got, op)
		}
	}
	if len(served) < 14 {
		t.Errorf("the mux serves %d API routes: %v", len(served), served)
	}
}

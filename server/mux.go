package server

import "net/http"

// mux is the server's ServeMux, which remembers every pattern it was
// given: the test of docs/openapi.yaml checks them all, so an endpoint
// cannot be served without being documented.
type mux struct {
	*http.ServeMux
	patterns []string
}

func newMux() *mux { return &mux{ServeMux: http.NewServeMux()} }

func (m *mux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

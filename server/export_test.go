package server

import "net/http"

// Patterns are every pattern h, a Handler, was given.
func Patterns(h http.Handler) []string { return h.(*mux).patterns }

// Pattern is the pattern of h, a Handler, that serves r.
func Pattern(h http.Handler, r *http.Request) string {
	_, p := h.(*mux).Handler(r)
	return p
}

package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// DefaultMaxBody is the largest body a Handler reads unless told otherwise.
// Push payloads are a few KiB (forges list a bounded number of commits), so
// 1 MiB leaves room for big pushes while bounding what an anonymous caller
// can make the handler buffer.
const DefaultMaxBody int64 = 1 << 20

// Defaults of the budget all requests share. A forge sends one small hook
// per push, so a few bodies at a time are plenty; the budget is what N
// clients that send a body slowly, or never finish it, can cost together:
// not N×MaxBody, but at most DefaultMaxBuffered.
const (
	DefaultMaxReading        = 8
	DefaultMaxBuffered int64 = 2 << 20
)

// Target is one source that accepts webhooks.
type Target struct {
	// Source is the source's name, the {source} path segment.
	Source string
	// Branch is the branch or tag name the source follows. A push to
	// refs/heads/Branch or refs/tags/Branch triggers; a push to any other ref
	// does not. Empty means the source follows the remote's default branch,
	// which payloads do not name uniformly, so every push triggers.
	Branch string
	// Secret is the shared secret. A Target without one accepts no hooks.
	Secret []byte
	// Trigger asks for an immediate poll of Source. It is called on the
	// request's goroutine and must not block; the caller coalesces.
	Trigger func()
}

// Handler serves POST /hooks/{provider}/{source}. See the package comment for
// the checks it makes and the status codes it answers with.
type Handler struct {
	// MaxBody is the largest body, in bytes, the handler reads. New sets
	// DefaultMaxBody; change it only before serving.
	MaxBody int64
	// MaxReading is how many bodies the handler reads at once; a request
	// beyond it is answered 503 without reading its body. New sets
	// DefaultMaxReading; change it only before serving.
	MaxReading int
	// MaxBuffered bounds the memory that the bodies of all requests hold
	// at once, in bytes; a request whose body needs more than what is left
	// is answered 503. New sets DefaultMaxBuffered; change it only before
	// serving.
	MaxBuffered int64

	targets map[string]Target
	counts  [numOutcomes]atomic.Int64
	// reading and buffered are what requests hold of MaxReading and
	// MaxBuffered now.
	reading  atomic.Int64
	buffered atomic.Int64
}

// New returns a Handler for targets. Targets without a Secret or a Trigger
// are left out (their hooks get 404); a later Target with the same Source
// replaces an earlier one.
func New(targets []Target) *Handler {
	h := &Handler{MaxBody: DefaultMaxBody, MaxReading: DefaultMaxReading, MaxBuffered: DefaultMaxBuffered,
		targets: make(map[string]Target, len(targets))}
	for _, t := range targets {
		if len(t.Secret) == 0 || t.Trigger == nil {
			continue
		}
		t.Secret = bytes.Clone(t.Secret)
		h.targets[t.Source] = t
	}
	return h
}

// outcome classifies a request for Counts; each outcome has one status code.
type outcome int

const (
	triggered outcome = iota
	pong
	ignored
	rejectedMethod
	rejectedNotFound
	rejectedUnauthorized
	rejectedTooLarge
	rejectedBadRequest
	rejectedOtherRef
	rejectedBusy
	numOutcomes
)

var outcomes = [numOutcomes]struct {
	name   string
	status int
}{
	triggered:            {"triggered", http.StatusAccepted},
	pong:                 {"pong", http.StatusOK},
	ignored:              {"ignored", http.StatusAccepted},
	rejectedMethod:       {"rejected_method", http.StatusMethodNotAllowed},
	rejectedNotFound:     {"rejected_not_found", http.StatusNotFound},
	rejectedUnauthorized: {"rejected_unauthorized", http.StatusUnauthorized},
	rejectedTooLarge:     {"rejected_too_large", http.StatusRequestEntityTooLarge},
	rejectedBadRequest:   {"rejected_bad_request", http.StatusBadRequest},
	rejectedOtherRef:     {"rejected_other_ref", http.StatusUnprocessableEntity},
	rejectedBusy:         {"rejected_busy", http.StatusServiceUnavailable},
}

func (o outcome) String() string { return outcomes[o].name }

// Counts returns how many requests ended in each outcome since New: the keys
// "triggered", "pong", "ignored" and "rejected_<reason>" are always present.
func (h *Handler) Counts() map[string]int64 {
	m := make(map[string]int64, numOutcomes)
	for o := range numOutcomes {
		m[o.String()] = h.counts[o].Load()
	}
	return m
}

// reply is the answer to one request. msg goes into the JSON field named
// after the outcome: "triggered", "pong", "ignored", or "error".
type reply struct {
	outcome outcome
	msg     string
}

func fail(o outcome, format string, args ...any) reply {
	return reply{outcome: o, msg: fmt.Sprintf(format, args...)}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := h.handle(w, r)
	h.counts[rep.outcome].Add(1)
	key := "error"
	switch rep.outcome {
	case triggered, pong, ignored:
		key = rep.outcome.String()
	}
	var body bytes.Buffer
	json.NewEncoder(&body).Encode(map[string]string{key: rep.msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
	switch rep.outcome {
	case rejectedBusy:
		w.Header().Set("Retry-After", "5")
		fallthrough
	case rejectedTooLarge:
		// Whatever is left of the body is not read: the connection goes.
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(outcomes[rep.outcome].status)
	// An error here means the client went away; there is no one left to tell.
	_, _ = w.Write(body.Bytes())
}

// handle makes the checks in the order the package comment gives: everything
// that can be decided without the body first, the signature before the JSON.
func (h *Handler) handle(w http.ResponseWriter, r *http.Request) reply {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(rejectedMethod, "method %s not allowed, webhooks are POSTed", r.Method)
	}
	p, t, ok := h.route(r.URL.Path)
	if !ok {
		return fail(rejectedNotFound, "no webhook at %s", r.URL.Path)
	}
	cred, err := p.credential(r.Header)
	if err != nil {
		return fail(rejectedUnauthorized, "%v", err)
	}
	// A token says nothing about the body: reject a wrong one before reading.
	if cred.token != nil && !cred.verify(t.Secret, nil) {
		return fail(rejectedUnauthorized, "%s does not match the secret of source %s", p.tokenHeader, t.Source)
	}
	body, release, rep := h.readBody(w, r)
	if body == nil {
		return rep
	}
	defer release()
	if cred.mac != nil && !cred.verify(t.Secret, body) {
		return fail(rejectedUnauthorized, "signature does not match the body and the secret of source %s", t.Source)
	}

	// Authenticated from here on.
	switch ev := p.event(r.Header); {
	case len(p.eventHeaders) == 0: // every hook is a push
	case ev == "":
		return fail(rejectedBadRequest, "missing %s header", p.eventHeaders[0])
	case ev == p.pingEvent:
		return reply{outcome: pong, msg: t.Source}
	case !p.isPush(ev):
		return fail(ignored, "event %q is not a push", ev)
	}
	ref, err := p.ref(body)
	if err != nil {
		return fail(rejectedBadRequest, "%v", err)
	}
	if ref != "" && !t.follows(ref) {
		return fail(rejectedOtherRef, "push to %s does not concern source %s (follows %s)", ref, t.Source, t.Branch)
	}
	t.Trigger()
	return reply{outcome: triggered, msg: t.Source}
}

// route resolves /hooks/{provider}/{source}. A source without a secret is
// not in h.targets, so it is as unknown as a misspelt one.
func (h *Handler) route(path string) (provider, Target, bool) {
	rest, ok := strings.CutPrefix(path, "/hooks/")
	if !ok {
		return provider{}, Target{}, false
	}
	name, source, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(source, "/") {
		return provider{}, Target{}, false
	}
	p, ok := providers[name]
	if !ok {
		return provider{}, Target{}, false
	}
	t, ok := h.targets[source]
	return p, t, ok
}

// follows reports whether a push to ref concerns t.
func (t Target) follows(ref string) bool {
	return t.Branch == "" || ref == "refs/heads/"+t.Branch || ref == "refs/tags/"+t.Branch
}

// Package fault classifies failures where they arise, so that the class
// survives every wrapping on the way up and decides what happens next:
// whether the controller's loop retries, waits for a new revision, or
// backs off, and what status and metrics say.
//
// A class is attached with errors.Is semantics: an adapter wraps its error
// with one of the sentinel errors below (fmt.Errorf("...: %w: %w",
// fault.ErrRefused, err), or Mark, which keeps the message as it is), and
// Of finds it again through any chain, errors.Join included.
package fault

import "errors"

// Class is what kind of failure an error is.
type Class string

// Classes, from the most to the least urgent for the loop.
const (
	// EngineUnavailable: the container engine did not answer. Retried with
	// a short backoff; nothing about the revision is wrong.
	EngineUnavailable Class = "engine-unavailable"
	// SourceUnreachable: the repository did not answer. Retried with
	// backoff; the host keeps what runs.
	SourceUnreachable Class = "source-unreachable"
	// Transient: anything that may work on the next try (a registry, a
	// daemon call, the disk). Retried with backoff; a new revision retries
	// at once. Errors nobody classified are transient.
	Transient Class = "transient"
	// Refused: the input is wrong (a compose file that does not load, an
	// unsigned commit, rejected credentials, a missing ref). Retrying the
	// same input cannot help: it waits for a new revision or configuration.
	Refused Class = "refused"
	// Held: a rollout failed and its service is held back on its own
	// schedule (or until a new revision); the loop need not retry.
	Held Class = "held"
)

// Sentinels carrying each class, for errors.Is and for wrapping.
var (
	ErrEngineUnavailable = errors.New("engine unavailable")
	ErrSourceUnreachable = errors.New("source unreachable")
	ErrTransient         = errors.New("transient")
	ErrRefused           = errors.New("refused")
	ErrHeld              = errors.New("held")
)

// Of returns the class of err: the first of EngineUnavailable,
// SourceUnreachable, Transient, Refused and Held that err carries, or
// Transient for an error that carries none. For several problems put
// together by Join, it is the most urgent class of any of them, an
// unclassified one counting as Transient. Of(nil) is "".
func Of(err error) Class {
	var j joined
	switch {
	case err == nil:
		return ""
	case errors.As(err, &j):
		class := Held
		for _, e := range j.errs {
			if c := Of(e); rank(c) < rank(class) {
				class = c
			}
		}
		return class
	case errors.Is(err, ErrEngineUnavailable):
		return EngineUnavailable
	case errors.Is(err, ErrSourceUnreachable):
		return SourceUnreachable
	case errors.Is(err, ErrTransient):
		return Transient
	case errors.Is(err, ErrRefused):
		return Refused
	case errors.Is(err, ErrHeld):
		return Held
	}
	return Transient
}

func rank(c Class) int {
	switch c {
	case EngineUnavailable:
		return 0
	case SourceUnreachable:
		return 1
	case Transient:
		return 2
	case Refused:
		return 3
	}
	return 4
}

// Join is errors.Join of problems that are independent of each other (the
// failures of one run): Of the result is the most urgent class among them.
func Join(errs ...error) error {
	var keep []error
	for _, e := range errs {
		if e != nil {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return joined{err: errors.Join(keep...), errs: keep}
}

type joined struct {
	err  error
	errs []error
}

func (j joined) Error() string   { return j.err.Error() }
func (j joined) Unwrap() []error { return j.errs }

// Mark returns err carrying class (one of the sentinels): errors.Is finds
// both, and the message is err's own.
func Mark(class, err error) error {
	if err == nil {
		return nil
	}
	return marked{class: class, err: err}
}

type marked struct{ class, err error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.class} }

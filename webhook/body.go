package webhook

import (
	"errors"
	"io"
	"net/http"
)

// firstChunk is the buffer a body starts with; it doubles as the body
// arrives. A client holds only the memory of what it actually sent (at most
// twice that), not what its Content-Length promises.
const firstChunk = 4 << 10

// readBody reads at most MaxBody+1 bytes of r.Body, and none at all when the
// declared Content-Length is already too large or when MaxReading bodies
// are being read already. The buffer is taken from the MaxBuffered budget as
// it grows; release gives it back and must be called once the body is no
// longer used. On refusal the body is nil and rep says why.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, release func(), rep reply) {
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return nil, nil, fail(rejectedTooLarge, "body of %d bytes exceeds the limit of %d", r.ContentLength, limit)
	}
	maxReading := int64(h.MaxReading)
	if maxReading <= 0 {
		maxReading = DefaultMaxReading
	}
	if h.reading.Add(1) > maxReading {
		h.reading.Add(-1)
		return nil, nil, fail(rejectedBusy, "%d webhook bodies are being read already; retry later", maxReading)
	}
	defer h.reading.Add(-1)

	var held int64
	release = func() { h.buffered.Add(-held) }
	src := http.MaxBytesReader(w, r.Body, limit)
	body = []byte{}
	// A body of known length takes no more than it needs (and a byte to
	// see its end).
	first := int64(firstChunk)
	if r.ContentLength >= 0 {
		first = min(first, r.ContentLength+1)
	}
	for {
		if len(body) == cap(body) {
			size := min(max(2*int64(cap(body)), first), limit+1)
			if !h.take(size - int64(cap(body))) {
				release()
				return nil, nil, fail(rejectedBusy, "webhook bodies hold %d bytes already; retry later", h.maxBuffered())
			}
			held += size - int64(cap(body))
			next := make([]byte, len(body), size)
			copy(next, body)
			body = next
		}
		n, err := src.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		var tooLarge *http.MaxBytesError
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return body, release, reply{}
		case errors.As(err, &tooLarge):
			release()
			return nil, nil, fail(rejectedTooLarge, "body exceeds the limit of %d bytes", limit)
		default:
			release()
			return nil, nil, fail(rejectedBadRequest, "read body: %v", err)
		}
	}
}

// take reserves n bytes of the MaxBuffered budget, if that many are left.
func (h *Handler) take(n int64) bool {
	if h.buffered.Add(n) > h.maxBuffered() {
		h.buffered.Add(-n)
		return false
	}
	return true
}

func (h *Handler) maxBuffered() int64 {
	if h.MaxBuffered <= 0 {
		return DefaultMaxBuffered
	}
	return h.MaxBuffered
}

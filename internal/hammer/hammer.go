// Package hammer is the client side of moor's rollout tests: it GETs one URL
// in a loop, with a small pause between requests, and sums up what the
// service answered while moor replaced its containers. `testapp hammer`
// runs it inside a container on a stack's network; tests run it in-process
// against a published port.
//
// Every request uses a fresh connection (no keep-alive), so each one
// resolves the name and dials again and sees the service as a new client
// would. A request fails when, within Timeout, it gets no answer, an error
// after the connection was made (reset, EOF, timeout) or a status other
// than 200. A request whose dial fails (connection refused, no such host, no
// connection within DialTimeout: nothing was sent), or whose connection the
// server closed before any answer (a connection still in the accept queue
// of a listener that closed), is retried once at once with a fresh lookup,
// as a load balancer would (nginx's default proxy_next_upstream error does
// both for a GET), and counted in DialRetries or UnansweredRetries, not as
// failed; only a second failure makes it fail. A request cut short because
// the hammer is stopping is not counted at all.
//
// The summary also notes the slowest successful request and where the slow
// ones dialled: a stall is no failure, but it is worth seeing.
//
// The package uses the standard library only: testapp links it into a
// static binary that runs FROM scratch.
package hammer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxErrors is how many error strings a Summary keeps (the first ones).
const maxErrors = 5

// slowRequest is how long a successful request may take before Summary.Slow
// notes it.
const slowRequest = 500 * time.Millisecond

// Summary is what a hammer saw.
type Summary struct {
	// Requests counts every request that was made and completed (successes
	// and failures; a dial retry is part of its request).
	Requests int `json:"requests"`
	// Failed counts requests that got no 200 answer.
	Failed int `json:"failed"`
	// DialRetries counts requests whose first dial failed and that were
	// dialled again.
	DialRetries int `json:"dial_retries"`
	// UnansweredRetries counts requests whose first connection was closed
	// by the server before any answer, and that were sent again.
	UnansweredRetries int `json:"unanswered_retries"`
	// Versions counts the 200 answers by the "version=V" of their body
	// ("unknown" when the body has none).
	Versions map[string]int `json:"versions"`
	// LongestOutageMS is the longest run of consecutive failures, in
	// milliseconds: from the start of its first failed request to the
	// start of the next successful one (or the end of its last failed one
	// when the hammer stopped during it).
	LongestOutageMS int64 `json:"longest_outage_ms"`
	// SlowestMS is the longest time a successful request took, in
	// milliseconds, its dial retry included: a stall that was not a
	// failure.
	SlowestMS int64 `json:"slowest_ms"`
	// Errors are the first few failures, in order.
	Errors []string `json:"errors,omitempty"`
	// Slow are the first few successful requests that took longer than
	// slowRequest, with the addresses they dialled: where stalls were.
	Slow []string `json:"slow,omitempty"`
	// DialErrors are the first few dial failures that were retried.
	DialErrors []string `json:"dial_errors,omitempty"`
	// AddressDialFailures counts connection attempts to one address that
	// failed, including those the dialer followed with the name's next
	// address and those a dial retry made good: any sign that a name
	// pointed at something that did not accept connections.
	AddressDialFailures int `json:"address_dial_failures"`
	// AddressDialErrors are the first few of them.
	AddressDialErrors []string `json:"address_dial_errors,omitempty"`
}

// LongestOutage returns LongestOutageMS as a duration.
func (s Summary) LongestOutage() time.Duration {
	return time.Duration(s.LongestOutageMS) * time.Millisecond
}

// Hammer GETs URL until its Run's context ends. Set the fields before Run;
// Summary may be called at any time, from any goroutine.
type Hammer struct {
	URL string
	// Timeout bounds each attempt of a request (default 2s).
	Timeout time.Duration
	// DialTimeout bounds connecting (default three quarters of Timeout),
	// so that a dial to an address that has gone away fails as a dial, in
	// time for the retry, instead of using up the request's Timeout. It is
	// longer than the kernel's first SYN retransmission (1s), so that one
	// lost SYN costs latency, not a retry.
	DialTimeout time.Duration
	// Pause is the wait between two requests (default 5ms). It keeps the
	// rate (and the sockets left in TIME_WAIT) bounded.
	Pause time.Duration
	// Progress, when set, is called after each counted request with the
	// number of requests and failures so far.
	Progress func(requests, failed int)

	// dial replaces the dialer in tests.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu           sync.Mutex
	sum          Summary
	outageStart  time.Time // start of the current run of failures; zero when none
	lastFailDone time.Time // end of the last failed request of the current run
}

// Summary returns what the hammer saw so far.
func (h *Hammer) Summary() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sum
	s.Versions = make(map[string]int, len(h.sum.Versions))
	for v, n := range h.sum.Versions {
		s.Versions[v] = n
	}
	s.Errors = append([]string(nil), h.sum.Errors...)
	s.DialErrors = append([]string(nil), h.sum.DialErrors...)
	s.Slow = append([]string(nil), h.sum.Slow...)
	s.AddressDialErrors = append([]string(nil), h.sum.AddressDialErrors...)
	if !h.outageStart.IsZero() {
		s.LongestOutageMS = max(s.LongestOutageMS, h.lastFailDone.Sub(h.outageStart).Milliseconds())
	}
	return s
}

// Run sends requests until ctx ends and returns the summary.
func (h *Hammer) Run(ctx context.Context) Summary {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	pause := h.Pause
	if pause <= 0 {
		pause = 5 * time.Millisecond
	}
	dialTimeout := h.DialTimeout
	if dialTimeout <= 0 || dialTimeout >= timeout {
		dialTimeout = timeout * 3 / 4
	}
	dial := h.dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			Proxy:             nil, // never a proxy from the environment
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				ctx, cancel := context.WithTimeout(ctx, dialTimeout)
				defer cancel()
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, &dialError{err: err}
				}
				return c, nil
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	h.mu.Lock()
	if h.sum.Versions == nil {
		h.sum.Versions = map[string]int{}
	}
	h.mu.Unlock()
	pauseTimer := time.NewTimer(0)
	defer pauseTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			return h.Summary()
		case <-pauseTimer.C:
		}
		start := time.Now()
		r := h.once(ctx, client)
		if ctx.Err() != nil {
			return h.Summary() // cut short by the stop: not the service's fault
		}
		h.count(start, time.Now(), r)
		pauseTimer.Reset(pause)
	}
}

// result is what became of one request.
type result struct {
	version string
	dialErr error  // the first attempt's dial failure, when it was retried
	closed  error  // the first attempt's connection closed unanswered, when it was retried
	err     error  // the request failed
	dialled []dial // every connection attempt, in order
}

// dial is one connection attempt to one address.
type dial struct {
	addr string
	took time.Duration
	err  error
}

func (d dial) String() string {
	s := fmt.Sprintf("%s in %dms", d.addr, d.took.Milliseconds())
	if d.err != nil {
		s += " (" + d.err.Error() + ")"
	}
	return s
}

// once makes one request, with one dial retry.
func (h *Hammer) once(ctx context.Context, client *http.Client) result {
	var r result
	r.version, r.err = get(ctx, client, h.URL, &r.dialled)
	var de *dialError
	var ce *closedError
	switch {
	case errors.As(r.err, &de):
		r.dialErr = r.err
	case errors.As(r.err, &ce):
		r.closed = r.err
	default:
		return r
	}
	if r.version, r.err = get(ctx, client, h.URL, &r.dialled); r.err != nil {
		r.err = fmt.Errorf("retried once: %w", r.err)
	}
	return r
}

func (h *Hammer) count(start, end time.Time, r result) {
	h.mu.Lock()
	s := &h.sum
	s.Requests++
	at := start.UTC().Format("15:04:05.000")
	for _, d := range r.dialled {
		if d.err != nil {
			s.AddressDialFailures++
			if len(s.AddressDialErrors) < maxErrors {
				s.AddressDialErrors = append(s.AddressDialErrors, fmt.Sprintf("%s: %v", at, d))
			}
		}
	}
	if r.closed != nil {
		s.UnansweredRetries++
	}
	if r.dialErr != nil {
		s.DialRetries++
		if len(s.DialErrors) < maxErrors {
			s.DialErrors = append(s.DialErrors, fmt.Sprintf("%s: %v", at, r.dialErr))
		}
	}
	if err := r.err; err != nil {
		s.Failed++
		if len(s.Errors) < maxErrors {
			s.Errors = append(s.Errors, fmt.Sprintf("%s: %v", start.UTC().Format("15:04:05.000"), err))
		}
		if h.outageStart.IsZero() {
			h.outageStart = start
		}
		h.lastFailDone = end
	} else {
		s.Versions[r.version]++
		took := end.Sub(start)
		s.SlowestMS = max(s.SlowestMS, took.Milliseconds())
		if took > slowRequest && len(s.Slow) < maxErrors {
			var ds []string
			for _, d := range r.dialled {
				ds = append(ds, d.String())
			}
			s.Slow = append(s.Slow, fmt.Sprintf("%s: %dms, dialled %s", at, took.Milliseconds(), strings.Join(ds, ", ")))
		}
		if !h.outageStart.IsZero() {
			s.LongestOutageMS = max(s.LongestOutageMS, start.Sub(h.outageStart).Milliseconds())
			h.outageStart = time.Time{}
		}
	}
	requests, failed := s.Requests, s.Failed
	h.mu.Unlock()
	if h.Progress != nil {
		h.Progress(requests, failed)
	}
}

// get GETs url and returns the version its 200 answer reports. It appends
// its connection attempts to dialled.
func get(ctx context.Context, client *http.Client, url string, dialled *[]dial) (string, error) {
	// The transport may go on dialling after Do returned (the request was
	// cancelled): the trace writes into its own slice, under mu, and get
	// copies what it holds on return.
	var (
		mu    sync.Mutex
		began = map[string]time.Time{}
		seen  []dial
	)
	defer func() {
		mu.Lock()
		*dialled = append(*dialled, seen...)
		mu.Unlock()
	}()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectStart: func(_, addr string) {
			mu.Lock()
			began[addr] = time.Now()
			mu.Unlock()
		},
		ConnectDone: func(_, addr string, err error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, dial{addr: addr, took: time.Since(began[addr]), err: err})
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	var de *dialError
	if err != nil && !errors.As(err, &de) && ctx.Err() == nil &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		return "", &closedError{err: err}
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return Version(string(body)), nil
}

// closedError is a connection the server closed before any answer.
type closedError struct{ err error }

func (e *closedError) Error() string { return "closed before an answer: " + e.err.Error() }
func (e *closedError) Unwrap() error { return e.err }

// Version returns V from the first "version=V" field of a test app's
// answer, or "unknown".
func Version(body string) string {
	for _, f := range strings.Fields(body) {
		if v, ok := strings.CutPrefix(f, "version="); ok && v != "" {
			return v
		}
	}
	return "unknown"
}

// dialError marks a failure to connect: nothing was sent, so the request
// may be tried again without harm.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

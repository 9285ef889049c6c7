package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// httpClient makes a new connection per request, as a fresh client would: a
// kept-alive connection to an old container says nothing about the port.
var httpClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// get GETs url and returns the body of a 200 answer.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// waitServes waits until the test app on port reports want as its VERSION
// and returns when it first did. It starts a GET every 2ms without waiting
// for the ones before, since during a replacement a request can hang until
// its timeout.
func waitServes(ctx context.Context, port int, want string, timeout time.Duration) (time.Time, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/env?name=VERSION", port)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	served := make(chan time.Time, 1)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	inFlight := make(chan struct{}, 1000)
	for {
		select {
		case at := <-served:
			return at, nil
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("port %d serving VERSION=%s: %w", port, want, ctx.Err())
		case <-tick.C:
		}
		select {
		case inFlight <- struct{}{}:
		default:
			continue
		}
		go func() {
			defer func() { <-inFlight }()
			if got, err := get(ctx, url); err == nil && got == want {
				select {
				case served <- time.Now():
				default:
				}
			}
		}()
	}
}

// prober starts a GET of a URL every 2ms, each on a new connection and
// without waiting for the ones before (a request to a port whose container
// is gone can hang until its timeout), and keeps when each one started and
// whether it got a 200.
type prober struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	probes []probe
}

type probe struct {
	start time.Time
	ok    bool
}

func startProber(ctx context.Context, url string) *prober {
	p := &prober{url: url, stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		inFlight := make(chan struct{}, 1000)
		for {
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case inFlight <- struct{}{}:
			default:
				continue // a thousand requests hang: skip a beat
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() { <-inFlight }()
				start := time.Now()
				_, err := get(ctx, p.url)
				p.mu.Lock()
				p.probes = append(p.probes, probe{start: start, ok: err == nil})
				p.mu.Unlock()
			}()
		}
	}()
	return p
}

// ready waits for the first successful answer.
func (p *prober) ready(ctx context.Context) error {
	return poll(ctx, 30*time.Second, 2*time.Millisecond, func() (bool, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pr := range p.probes {
			if pr.ok {
				return true, nil
			}
		}
		return false, nil
	})
}

// finish stops the prober, waits for the requests in flight, and returns
// the longest window in which every request started failed (from the start
// of the first failed one to the start of the next successful one), and how
// many failed.
func (p *prober) finish() (time.Duration, int) {
	close(p.stop)
	p.wg.Wait()
	slices.SortFunc(p.probes, func(a, b probe) int { return a.start.Compare(b.start) })
	var longest time.Duration
	var from time.Time // start of the first failed request of the window; zero: none open
	fails := 0
	for _, pr := range p.probes {
		switch {
		case !pr.ok:
			fails++
			if from.IsZero() {
				from = pr.start
			}
		case !from.IsZero():
			longest = max(longest, pr.start.Sub(from))
			from = time.Time{}
		}
	}
	return longest, fails
}

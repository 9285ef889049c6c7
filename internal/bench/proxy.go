package main

import (
	"github.com/moor-dev/moor/internal/engineproxy"
)

// proxy is the counting proxy in front of the engine that every tool of
// the bench, and its floor, talk to (engineproxy).
type proxy struct {
	*engineproxy.Proxy
	path string
}

// counts are requests by endpoint ("GET /containers/json").
type counts map[string]int

func (c counts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// minus returns the counts of c that are not in before.
func (c counts) minus(before counts) counts {
	out := counts{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (c counts) add(o counts) {
	for k, v := range o {
		c[k] += v
	}
}

func startProxy(path, engine string) (*proxy, error) {
	p, err := engineproxy.Start(path, engine)
	if err != nil {
		return nil, err
	}
	return &proxy{Proxy: p, path: path}, nil
}

// snapshot returns the counts so far.
func (p *proxy) snapshot() counts { return p.Calls() }

func (p *proxy) close() { p.Close() }

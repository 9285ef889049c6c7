package server

import (
	"os"
	"sync"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/dashboard"
	"github.com/moor-dev/moor/ledger"
)

// dashboardHandler is the dashboard at /, on cfg's sources and their
// ledger (one ledger serves every source of a process). Its pages are open
// without the token on a loopback listen address only.
func dashboardHandler(cfg Config, token []byte) *dashboard.Handler {
	dc := dashboard.Config{Token: token, Open: dashboard.Loopback(cfg.Addr)}
	var l *ledger.Ledger
	var names []string
	for _, ctl := range cfg.Sources {
		dc.Sources = append(dc.Sources, dashboard.Source(ctl))
		names = append(names, ctl.Source.Name)
		if ctl.Ledger != nil {
			l = ctl.Ledger
		}
	}
	if l != nil {
		lr := &lastRuns{path: l.Path(), sources: names}
		dc.Runs = lr.read
	}
	return dashboard.New(dc)
}

var _ dashboard.Source = (*controller.Controller)(nil)

// lastRuns reads each source's last runs from the ledger file again only
// when the file has changed: a page load costs a stat, not a read of the
// whole ledger, and what is kept is the few runs the page shows.
type lastRuns struct {
	path    string
	sources []string

	mu      sync.Mutex
	size    int64
	modTime time.Time
	recs    []ledger.Record
}

func (lr *lastRuns) read() ([]ledger.Record, error) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	fi, err := os.Stat(lr.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if lr.recs != nil && fi.Size() == lr.size && fi.ModTime().Equal(lr.modTime) {
		return lr.recs, nil
	}
	all, _, err := ledger.Read(lr.path)
	if err != nil {
		return nil, err
	}
	recs := []ledger.Record{}
	for _, s := range lr.sources {
		recs = append(recs, ledger.Last(ledger.BySource(all, s), dashboard.RunsShown)...)
	}
	lr.recs, lr.size, lr.modTime = recs, fi.Size(), fi.ModTime()
	return recs, nil
}

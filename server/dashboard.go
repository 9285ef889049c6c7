package server

import (
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
	for _, ctl := range cfg.Sources {
		dc.Sources = append(dc.Sources, dashboard.Source(ctl))
		if ctl.Ledger != nil {
			l = ctl.Ledger
		}
	}
	if l != nil {
		dc.Runs = func() ([]ledger.Record, error) {
			recs, _, err := ledger.Read(l.Path())
			return recs, err
		}
	}
	return dashboard.New(dc)
}

var _ dashboard.Source = (*controller.Controller)(nil)

package server

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moor-dev/moor/webhook"
)

var (
	connsDesc = prometheus.NewDesc("moor_http_connections",
		"Connections open on the listen address.", nil, nil)
	evictedDesc = prometheus.NewDesc("moor_http_connections_evicted_total",
		"Connections closed to make room for a new one, at the connection limit.", nil, nil)
	hooksDesc = prometheus.NewDesc("moor_webhook_requests_total",
		"Webhook requests, by outcome (triggered, pong, ignored, rejected_<reason>).", []string{"outcome"}, nil)
)

// collector exports the listener's and the webhooks' counters, read when
// /metrics is scraped.
type collector struct {
	conns *connLimit
	hooks *webhook.Handler
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsDesc
	ch <- evictedDesc
	ch <- hooksDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(c.conns.open.Load()))
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(c.conns.evicted.Load()))
	counts := c.hooks.Counts()
	for _, outcome := range slices.Sorted(maps.Keys(counts)) {
		ch <- prometheus.MustNewConstMetric(hooksDesc, prometheus.CounterValue, float64(counts[outcome]), outcome)
	}
}

package forge

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the posts of every Reporter of a process; a nil *Metrics
// counts nothing.
type Metrics struct {
	posts *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{posts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "moor_commit_status_posts_total",
		Help: "Commit statuses posted to the forge, by result: posted, retried (an attempt failed; another follows), failed (given up).",
	}, []string{"source", "result"})}
	reg.MustRegister(m.posts)
	return m
}

func (m *Metrics) count(source, result string) {
	if m != nil {
		m.posts.WithLabelValues(source, result).Inc()
	}
}

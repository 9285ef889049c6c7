package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moor-dev/moor/fault"
)

// Metrics are what moor exports on /metrics, by source. One Metrics serves
// every controller of a process; a nil *Metrics records nothing.
type Metrics struct {
	runs        *prometheus.CounterVec
	runErrors   *prometheus.CounterVec
	runSeconds  *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	lastCheck   *prometheus.GaugeVec
	driftOps    *prometheus.GaugeVec
	degraded    *prometheus.GaugeVec
	unreachable *prometheus.GaugeVec
	imageChecks *prometheus.CounterVec
	lastImage   *prometheus.GaugeVec
	suspension  *prometheus.GaugeVec
	windowOpen  *prometheus.GaugeVec
}

// NewMetrics creates moor's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moor_runs_total", Help: "Runs of a source's pipeline, by result (success, noop, partial, failed, refused, drift, waiting).",
		}, []string{"source", "result"}),
		runErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moor_run_errors_total", Help: "Runs of a source's pipeline that failed, by class (engine-unavailable, source-unreachable, transient, refused, held).",
		}, []string{"source", "class"}),
		runSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "moor_run_duration_seconds", Help: "Duration of one run of a source's pipeline.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"source"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_last_converged_timestamp_seconds", Help: "When the host last matched the source's revision.",
		}, []string{"source"}),
		lastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_last_drift_check_timestamp_seconds", Help: "When a run last observed the engine to find drift (an unchanged poll does only when a check is due).",
		}, []string{"source"}),
		driftOps: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_drift_operations", Help: "Operations that would repair drift left unrepaired (drift: report).",
		}, []string{"source"}),
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_degraded_services", Help: "Services whose rollout to the current revision failed and that run an older one.",
		}, []string{"source"}),
		unreachable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_source_unreachable", Help: "1 while the source's repository does not answer.",
		}, []string{"source"}),
		imageChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moor_image_checks_total", Help: "Checks of the registry for tags that moved (image_updates), by result (unchanged, updated, failed, skipped).",
		}, []string{"source", "result"}),
		lastImage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_last_image_check_timestamp_seconds", Help: "When image_updates last asked the registry whether the source's tags moved.",
		}, []string{"source"}),
		suspension: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_suspended", Help: "1 for each suspended stack of a source (moor suspend); stack is empty for the whole source.",
		}, []string{"source", "stack"}),
		windowOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moor_deploy_window_open", Help: "1 while the source's deploy windows allow changes, 0 while they hold them; absent for a source without windows.",
		}, []string{"source"}),
	}
	reg.MustRegister(m.runs, m.runErrors, m.runSeconds, m.lastSuccess, m.lastCheck, m.driftOps, m.degraded, m.unreachable,
		m.imageChecks, m.lastImage, m.suspension, m.windowOpen)
	return m
}

// observe records one run, whose error was of class (or "").
func (m *Metrics) observe(source string, st *Status, class fault.Class, took time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(source, st.Result).Inc()
	if class != "" {
		m.runErrors.WithLabelValues(source, string(class)).Inc()
	}
	m.runSeconds.WithLabelValues(source).Observe(took.Seconds())
	if !st.AppliedAt.IsZero() {
		m.lastSuccess.WithLabelValues(source).Set(float64(st.AppliedAt.Unix()))
	}
	if !st.LastDriftCheck.IsZero() {
		m.lastCheck.WithLabelValues(source).Set(float64(st.LastDriftCheck.Unix()))
	}
	m.driftOps.WithLabelValues(source).Set(float64(len(st.Drift)))
	m.degraded.WithLabelValues(source).Set(float64(len(st.Held)))
	unreachable := 0.0
	if !st.UnreachableSince.IsZero() {
		unreachable = 1
	}
	m.unreachable.WithLabelValues(source).Set(unreachable)
}

// imageCheck records one image check (images.go).
func (m *Metrics) imageCheck(source string, ic *ImageCheck) {
	if m == nil {
		return
	}
	m.imageChecks.WithLabelValues(source, ic.result()).Inc()
	if ic.Skipped == "" {
		m.lastImage.WithLabelValues(source).Set(float64(ic.At.Unix()))
	}
}

// suspended records the source's suspensions as they are now.
func (m *Metrics) suspended(source string, ss []Suspension) {
	if m == nil {
		return
	}
	m.suspension.DeletePartialMatch(prometheus.Labels{"source": source})
	for _, s := range ss {
		m.suspension.WithLabelValues(source, s.Stack).Set(1)
	}
}

// window records whether the source's deploy windows allow changes now.
func (m *Metrics) window(source string, has, open bool) {
	if m == nil || !has {
		return
	}
	v := 0.0
	if open {
		v = 1
	}
	m.windowOpen.WithLabelValues(source).Set(v)
}

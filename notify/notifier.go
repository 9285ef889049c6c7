package notify

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/controller"
)

// Sender delivers one event to one target. It is called from the target's
// own goroutine, one event at a time; an error means "try again later".
type Sender interface {
	Send(ctx context.Context, e Event) error
}

// Target is a Sender and which events it is sent.
type Target struct {
	// Name identifies the target in logs and metrics, never its URL:
	// "notifications[0]".
	Name   string
	Sender Sender
	// Events and Sources filter what it is sent; empty: everything.
	Events  []string
	Sources []string
}

func (t *Target) wants(e Event) bool {
	if len(t.Sources) > 0 && !slices.Contains(t.Sources, e.Source) {
		return false
	}
	if len(t.Events) == 0 {
		return true
	}
	for _, f := range t.Events {
		if e.Kind.matches(f) {
			return true
		}
	}
	return false
}

// Defaults of the delivery.
const (
	DefaultQueue       = 64              // events waiting per target; more are dropped (logged, counted)
	DefaultAttempts    = 6               // tries per event before it is given up
	DefaultBackoff     = 2 * time.Second // before the second try; doubled each time, jittered
	DefaultMaxBackoff  = 2 * time.Minute
	DefaultSendTimeout = 30 * time.Second
)

// Notifier detects the changes of every source's runs and delivers them.
// Observe never blocks: each target has a bounded queue and a goroutine
// that sends with retries, so a slow or dead receiver never slows a run.
type Notifier struct {
	Log *zap.Logger
	// UnreachableAfter is how long a repository must stay unreachable
	// before it is reported.
	UnreachableAfter time.Duration
	// Queue, Attempts, Backoff, MaxBackoff and SendTimeout tune delivery;
	// zero: the defaults.
	Queue       int
	Attempts    int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	SendTimeout time.Duration
	// StateDir, when set, keeps what detection knows of each source in
	// StateDir/NAME.json, so that a restarted moor neither tells a change
	// again nor misses one made while it was down. Written on change only.
	StateDir string
	// Now and After are the clock; nil: the real one.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time

	targets []*queue
	metrics *Metrics
	mu      sync.Mutex
	states  map[string]State
	wg      sync.WaitGroup
}

type queue struct {
	Target
	ch chan Event
}

// Start begins delivering to targets until ctx ends; Wait waits for the
// goroutines. metrics may be nil.
func (n *Notifier) Start(ctx context.Context, targets []Target, metrics *Metrics) {
	if n.Log == nil {
		n.Log = zap.NewNop()
	}
	if n.Now == nil {
		n.Now = time.Now
	}
	if n.After == nil {
		n.After = time.After
	}
	n.Queue = orInt(n.Queue, DefaultQueue)
	n.Attempts = orInt(n.Attempts, DefaultAttempts)
	n.Backoff = orDuration(n.Backoff, DefaultBackoff)
	n.MaxBackoff = orDuration(n.MaxBackoff, DefaultMaxBackoff)
	n.SendTimeout = orDuration(n.SendTimeout, DefaultSendTimeout)
	n.metrics = metrics
	n.states = map[string]State{}
	for _, t := range targets {
		q := &queue{Target: t, ch: make(chan Event, n.Queue)}
		n.targets = append(n.targets, q)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.deliver(ctx, q)
		}()
	}
}

// Wait waits for the delivery goroutines, which end with Start's context.
func (n *Notifier) Wait() { n.wg.Wait() }

// Ran is a controller.Controller's Ran hook for source: it detects the
// run's events and queues them.
func (n *Notifier) Ran(source string) func(*controller.Outcome, error) {
	return func(out *controller.Outcome, err error) {
		n.Observe(FromOutcome(source, out, err, n.Now()))
	}
}

// Observe detects the events of run r and queues them for their targets.
func (n *Notifier) Observe(r Run) []Event {
	n.mu.Lock()
	prev, known := n.states[r.Source]
	if !known {
		prev = n.readState(r.Source)
	}
	next, events := Detect(prev, r, n.UnreachableAfter)
	n.states[r.Source] = next
	n.writeState(r.Source, prev, next, known)
	n.mu.Unlock()
	for _, e := range events {
		n.Log.Info("notify", zap.String("source", e.Source), zap.String("event", string(e.Kind)), zap.String("summary", e.Summary))
		for _, q := range n.targets {
			if !q.wants(e) {
				continue
			}
			select {
			case q.ch <- e:
			default:
				n.Log.Error("notification dropped: the target's queue is full", zap.String("target", q.Name),
					zap.String("source", e.Source), zap.String("event", string(e.Kind)))
				n.metrics.failed(q.Name, "dropped")
			}
		}
	}
	return events
}

// deliver sends q's events one at a time, each with up to n.Attempts
// tries, backing off between them.
func (n *Notifier) deliver(ctx context.Context, q *queue) {
	log := n.Log.With(zap.String("target", q.Name))
	for {
		var e Event
		select {
		case <-ctx.Done():
			return
		case e = <-q.ch:
		}
		log := log.With(zap.String("source", e.Source), zap.String("event", string(e.Kind)))
		wait := n.Backoff
		for attempt := 1; ; attempt++ {
			sctx, cancel := context.WithTimeout(ctx, n.SendTimeout)
			err := q.Sender.Send(sctx, e)
			cancel()
			if err == nil {
				n.metrics.sent(q.Name)
				break
			}
			if ctx.Err() != nil {
				return // moor is stopping: what is queued is not sent
			}
			if attempt >= n.Attempts {
				log.Error("notification not sent; given up", zap.Int("attempts", attempt), zap.Error(err))
				n.metrics.failed(q.Name, "given-up")
				break
			}
			log.Warn("notification not sent; retrying", zap.Int("attempt", attempt), zap.Duration("in", wait), zap.Error(err))
			n.metrics.failed(q.Name, "retried")
			select {
			case <-ctx.Done():
				return
			case <-n.After(jitter(wait)):
			}
			wait = min(2*wait, n.MaxBackoff)
		}
	}
}

// jitter spreads d over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Metrics count deliveries by target. A nil *Metrics counts nothing.
type Metrics struct {
	sentTotal   *prometheus.CounterVec
	failedTotal *prometheus.CounterVec
}

// NewMetrics creates the notification metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sentTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moor_notifications_sent_total", Help: "Notifications delivered, by target.",
		}, []string{"target"}),
		failedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moor_notifications_failed_total",
			Help: "Notification failures, by target and outcome: retried (a try failed), given-up (every try failed), dropped (the queue was full).",
		}, []string{"target", "outcome"}),
	}
	reg.MustRegister(m.sentTotal, m.failedTotal)
	return m
}

func (m *Metrics) sent(target string) {
	if m != nil {
		m.sentTotal.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) failed(target, outcome string) {
	if m != nil {
		m.failedTotal.WithLabelValues(target, outcome).Inc()
	}
}

package controller

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// A Stage is one step of a run and how long it took: resolve (the ref
// listing), checkout (fetch and snapshot, or its reuse), trust, load,
// records (the controller's constraints), pull (pull_policy always),
// observe, plan, apply (the executor), verify (the observe after an apply)
// and record (ledger and status).
type Stage struct {
	Name string
	Took time.Duration
}

// timeline marks the stages of one run, each from the end of the one
// before.
type timeline struct {
	last   time.Time
	stages []Stage
}

func (t *timeline) start() { t.last, t.stages = time.Now(), nil }

func (t *timeline) mark(name string) {
	now := time.Now()
	t.stages = append(t.stages, Stage{Name: name, Took: now.Sub(t.last)})
	t.last = now
}

// stagesField logs the stages of a run as one object, in milliseconds.
func stagesField(stages []Stage) zap.Field {
	return zap.Object("stages_ms", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		for _, s := range stages {
			enc.AddFloat64(s.Name, float64(s.Took.Microseconds())/1000)
		}
		return nil
	}))
}

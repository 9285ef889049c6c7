package main

import (
	"io"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
)

// routeLogrus sends what compose-go logs through the global logrus logger
// ("the VAR variable is not set") to moor's zap logger, as warnings, so it
// appears in moor's format and never on a stream of its own.
func routeLogrus(log *zap.Logger) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.WarnLevel)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(zapHook{log.Named("compose")})
}

type zapHook struct{ log *zap.Logger }

func (zapHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h zapHook) Fire(e *logrus.Entry) error {
	h.log.Warn(e.Message)
	return nil
}

// captureLogrus sends what compose-go logs through the global logrus
// logger to f, instead of its own stream, until the returned function puts
// the logger back as it was. moor validate loads one stack at a time, so
// what is logged while a stack loads is that stack's.
func captureLogrus(f func(msg string)) (restore func()) {
	l := logrus.StandardLogger()
	out, hooks := l.Out, l.ReplaceHooks(logrus.LevelHooks{})
	l.SetOutput(io.Discard)
	l.AddHook(funcHook(f))
	return func() {
		l.ReplaceHooks(hooks)
		l.SetOutput(out)
	}
}

type funcHook func(msg string)

func (funcHook) Levels() []logrus.Level { return logrus.AllLevels }

func (f funcHook) Fire(e *logrus.Entry) error {
	if e.Level <= logrus.WarnLevel {
		f(e.Message)
	}
	return nil
}

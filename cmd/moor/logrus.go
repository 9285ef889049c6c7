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

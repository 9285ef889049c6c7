package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestLogEscaped: what moor logs from a repository is escaped in both
// formats, and a joined error keeps one line per error, escaped.
func TestLogEscaped(t *testing.T) {
	for _, format := range []string{"console", "json"} {
		t.Run(format, func(t *testing.T) {
			cfg := zap.NewDevelopmentEncoderConfig()
			enc := zapcore.NewConsoleEncoder(cfg)
			if format == "json" {
				enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
			}
			var buf bytes.Buffer
			core := zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)
			log := zap.New(escapingCore{core}).With(zap.String("subject", "a\x1b[31m\u202eb"))
			err := fmt.Errorf("stack web: %w", errors.Join(errors.New("key \"x\x1b]0;t\x07\n#99 forged\""), errors.New("two")))
			log.Warn("The \"X\x1b[2J\n#99 forged\" variable is not set", zap.Error(err), zap.String("author", "m\u009b31m"), zap.Int("n", 1))
			out := buf.String()
			if strings.ContainsAny(out, "\x1b\x07\u009b\u202e") {
				t.Errorf("raw control character in the log: %q", out)
			}
			if n := strings.Count(out, "\n"); n != 1 {
				t.Errorf("the entry takes %d lines, want 1: %q", n, out)
			}
			msg := `The "X\x1b[2J\n#99 forged" variable is not set`
			if format == "json" {
				msg = `"The \"X\\x1b[2J\\n#99 forged\" variable is not set"`
			}
			for _, want := range []string{msg, `"a\\x1b[31m\\u202eb"`, `"m\\u009b31m"`, `"stack web: key \"x\\x1b]0;t\\x07\\n#99 forged\"\ntwo"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s: %s", want, out)
				}
			}
		})
	}
}

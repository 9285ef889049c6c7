package main

import (
	"go.uber.org/zap/zapcore"

	"github.com/moor-dev/moor/printable"
)

// escapingCore escapes what moor logs (printable.Escape): the message and
// every string and error field, which may quote a repository's text (an
// error keeps the line breaks between joined errors: printable.Error).
// zap's console encoder writes the message as it is, and neither encoder
// escapes C1 or bidirectional controls. The other kinds of fields
// (numbers, durations, arrays of strings, whose C0 controls zap's JSON
// encoding of the fields escapes) are left to zap.
type escapingCore struct{ zapcore.Core }

func (c escapingCore) With(fields []zapcore.Field) zapcore.Core {
	return escapingCore{c.Core.With(escapeFields(fields))}
}

func (c escapingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c escapingCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = printable.Escape(e.Message)
	return c.Core.Write(e, escapeFields(fields))
}

// escapeFields returns fields with their text escaped; fields itself is
// left as it is (the caller may reuse it).
func escapeFields(fields []zapcore.Field) []zapcore.Field {
	var out []zapcore.Field
	for i, f := range fields {
		var text string
		switch f.Type {
		case zapcore.StringType:
			if text = printable.Escape(f.String); text == f.String {
				continue
			}
		case zapcore.ErrorType:
			err, ok := f.Interface.(error)
			if !ok {
				continue
			}
			text = printable.Error(err)
		default:
			continue
		}
		if out == nil {
			out = append([]zapcore.Field(nil), fields...)
		}
		out[i] = zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: text}
	}
	if out == nil {
		return fields
	}
	return out
}

package printable_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/printable"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"fix the thing": "fix the thing",
		"Füge Ünicode hinzu ✓ 👨‍👩‍👧":      "Füge Ünicode hinzu ✓ 👨‍👩‍👧",
		`C:\path "quoted" \x1b`:           `C:\path "quoted" \x1b`,
		"\x1b[31mred\x1b[0m":              `\x1b[31mred\x1b[0m`,
		"a\nb\r\tc":                       `a\nb\r\tc`,
		"\x00\x07\x08\x7f":                `\x00\x07\x08\x7f`,
		"\u009b31m C1 CSI \u0085":         `\u009b31m C1 CSI \u0085`,
		"line\u2028sep\u2029":             `line\u2028sep\u2029`,
		"evil\u202egnp.exe \u2066x\u2069": `evil\u202egnp.exe \u2066x\u2069`,
		"bad \xff\xfe utf-8":              `bad \xff\xfe utf-8`,
		"\x1b]0;title\x07":                `\x1b]0;title\x07`,
	} {
		got := printable.Escape(in)
		if got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if again := printable.Escape(got); again != got {
			t.Errorf("Escape is not idempotent on %q: %q", got, again)
		}
	}
}

func TestLines(t *testing.T) {
	if got, want := printable.Lines("one \x1b[2J\ntwo\r\n", ""), "one \\x1b[2J\ntwo\\r\n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got, want := printable.Lines("one\ntwo\x1b\nthree", "  "), "one\n  two\\x1b\n  three"; got != want {
		t.Errorf("Lines indented = %q, want %q", got, want)
	}
}

func TestError(t *testing.T) {
	key := errors.New("services.web.environment: \"X\x1b[31m\n#99 2025-01-01 forged success\" is invalid")
	leaf := errors.New("line 3: \x1b]0;pwned\x07")
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("disk full"), "disk full"},
		{"a leaf's line breaks are escaped", key,
			`services.web.environment: "X\x1b[31m\n#99 2025-01-01 forged success" is invalid`},
		{"a join keeps its line breaks", errors.Join(key, leaf),
			`services.web.environment: "X\x1b[31m\n#99 2025-01-01 forged success" is invalid` + "\n" + `line 3: \x1b]0;pwned\x07`},
		{"wrapped join", fmt.Errorf("stack web (web/compose.yaml): %w", errors.Join(leaf, key)),
			`stack web (web/compose.yaml): line 3: \x1b]0;pwned\x07` + "\n" + `services.web.environment: "X\x1b[31m\n#99 2025-01-01 forged success" is invalid`},
		{"a wrapping error's own text is escaped", fmt.Errorf("subject %s\nforged: %w", "a\x1b", leaf),
			`subject a\x1b\nforged: line 3: \x1b]0;pwned\x07`},
		{"classes and marks", fault.Join(fault.Mark(fault.ErrRefused, errors.Join(leaf, leaf)), fmt.Errorf("%w: %w", fault.ErrHeld, key)),
			`line 3: \x1b]0;pwned\x07` + "\n" + `line 3: \x1b]0;pwned\x07` + "\n" + `held: services.web.environment: "X\x1b[31m\n#99 2025-01-01 forged success" is invalid`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := printable.Error(tt.err)
			if got != tt.want {
				t.Errorf("Error =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.ContainsAny(got, "\x1b\x07\r") {
				t.Errorf("Error left a control character: %q", got)
			}
		})
	}
}

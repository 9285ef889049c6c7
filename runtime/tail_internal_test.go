package runtime

import (
	"strings"
	"testing"
)

// TestTailBuffer: whatever the sizes of the writes, what is kept is the
// last max bytes of what was written.
func TestTailBuffer(t *testing.T) {
	var all strings.Builder
	for i := range 500 {
		all.WriteString(strings.Repeat(string(rune('a'+i%26)), i%37))
		all.WriteString("\n")
	}
	all.WriteString(strings.Repeat("x", 300)) // one write longer than max
	text := all.String()
	for _, max := range []int{1, 16, 100, 4096} {
		tb := &tailBuffer{max: max}
		for rest := text; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)%53)
			if len(rest) == 300 {
				n = 300
			}
			if w, err := tb.Write([]byte(rest[:n])); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			rest = rest[n:]
		}
		want := text
		if len(want) > max {
			want = want[len(want)-max:]
		}
		if got := tb.String(); got != want {
			t.Errorf("max %d: kept %q, want %q", max, got, want)
		}
		if cap(tb.buf) > 4*max+64 {
			t.Errorf("max %d: buffer grew to %d", max, cap(tb.buf))
		}
	}
}

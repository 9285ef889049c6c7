package window_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/moor-dev/moor/window"
)

func win(t *testing.T, kind window.Kind, spec string, d time.Duration) window.Window {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return window.Window{Kind: kind, Schedule: s, Duration: d}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowsOpenAndNextOpen(t *testing.T) {
	// Tuesday 2026-12-01.
	allowNight := win(t, window.Allow, "0 22 * * *", 2*time.Hour)    // 22:00-24:00
	denyFriday := win(t, window.Deny, "0 0 * * 5", 24*time.Hour)     // all of Friday
	denyLate := win(t, window.Deny, "30 23 * * *", time.Hour)        // 23:30-00:30, overlaps the allow window
	denyNoon := win(t, window.Deny, "0 12 * * *", 90*time.Minute)    // 12:00-13:30
	allowMorning := win(t, window.Allow, "0 9 * * 1-5", 8*time.Hour) // weekdays 09:00-17:00

	for _, tc := range []struct {
		name string
		ws   window.Windows
		now  string
		open bool
		next string // "" when it never opens
	}{
		{"no windows: always open", nil, "2026-12-01T03:00:00Z", true, "2026-12-01T03:00:00Z"},
		{"before an allow window", window.Windows{allowNight}, "2026-12-01T21:59:59Z", false, "2026-12-01T22:00:00Z"},
		{"at its opening", window.Windows{allowNight}, "2026-12-01T22:00:00Z", true, "2026-12-01T22:00:00Z"},
		{"inside it", window.Windows{allowNight}, "2026-12-01T23:59:59Z", true, "2026-12-01T23:59:59Z"},
		{"at its end, closed: the next night", window.Windows{allowNight}, "2026-12-02T00:00:00Z", false, "2026-12-02T22:00:00Z"},
		{"a deny window alone, outside it", window.Windows{denyNoon}, "2026-12-01T11:59:59Z", true, "2026-12-01T11:59:59Z"},
		{"a deny window alone, inside: opens at its end", window.Windows{denyNoon}, "2026-12-01T12:00:00Z", false, "2026-12-01T13:30:00Z"},
		{"deny end is open", window.Windows{denyNoon}, "2026-12-01T13:30:00Z", true, "2026-12-01T13:30:00Z"},
		{"deny wins inside an allow window", window.Windows{allowMorning, denyNoon}, "2026-12-01T12:15:00Z", false, "2026-12-01T13:30:00Z"},
		{"allow and deny overlap at the end: the next allow", window.Windows{allowNight, denyLate}, "2026-12-01T23:45:00Z", false, "2026-12-02T22:00:00Z"},
		{"allow before the overlapping deny", window.Windows{allowNight, denyLate}, "2026-12-01T23:29:59Z", true, "2026-12-01T23:29:59Z"},
		{"a deny day skips an allow window", window.Windows{allowNight, denyFriday}, "2026-12-04T10:00:00Z", false, "2026-12-05T22:00:00Z"},
		{"weekend: the allow window opens on Monday", window.Windows{allowMorning}, "2026-12-05T10:00:00Z", false, "2026-12-07T09:00:00Z"},
		{"a deny window whose openings overlap closes after the last", window.Windows{win(t, window.Deny, "0 0 * * 1,2", 36*time.Hour)}, "2026-12-07T10:00:00Z", false, "2026-12-09T12:00:00Z"},
		{"an allow window whose openings overlap stays open", window.Windows{win(t, window.Allow, "0 0 * * 1,2", 36*time.Hour)}, "2026-12-08T23:59:59Z", true, "2026-12-08T23:59:59Z"},
		{"a deny window that ends as an allow window opens", window.Windows{allowNight, win(t, window.Deny, "0 20 * * *", 2*time.Hour)}, "2026-12-01T21:00:00Z", false, "2026-12-01T22:00:00Z"},
		{"a schedule in another time zone", window.Windows{win(t, window.Allow, "CRON_TZ=Europe/Paris 0 22 * * *", time.Hour)}, "2026-12-01T20:30:00Z", false, "2026-12-01T21:00:00Z"},
		{"a deny window that never closes", window.Windows{win(t, window.Deny, "@every 1h", 2*time.Hour)}, "2026-12-01T10:00:00Z", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := at(tc.now)
			if got := tc.ws.Open(now); got != tc.open {
				t.Errorf("Open(%s) = %v, want %v", tc.now, got, tc.open)
			}
			next, ok := tc.ws.NextOpen(now)
			switch {
			case tc.next == "" && ok:
				t.Errorf("NextOpen(%s) = %s, want never", tc.now, next.Format(time.RFC3339))
			case tc.next != "" && (!ok || !next.Equal(at(tc.next))):
				t.Errorf("NextOpen(%s) = %s (%v), want %s", tc.now, next.Format(time.RFC3339), ok, tc.next)
			}
		})
	}
}

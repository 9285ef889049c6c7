package reconcile

import (
	"fmt"
	"testing"
)

func TestWithholdOutput(t *testing.T) {
	secret := "DATABASE_URL=postgres://app:hunter2@db/app"
	restore := func(cause string) string {
		return fmt.Sprintf("web/app/1: %s; %s; old container restored", cause, quoteOutput("last output: ", secret, 400))
	}
	tests := []struct{ in, want string }{
		{"web/app/1: pull app:2: manifest unknown", "web/app/1: pull app:2: manifest unknown"},
		{restore("new container exited with code 1"),
			"web/app/1: new container exited with code 1; last output: (withheld); old container restored"},
		{"web/app/1: new container is unhealthy (" + quoteOutput("health check said: ", "curl: password hunter2 refused", 200) + "); " +
			quoteOutput("last output: ", "boot\nsecret=hunter2\n", 400) + "; old container restored",
			"web/app/1: new container is unhealthy (health check said: (withheld)); last output: (withheld); old container restored"},
		// Output that looks like a label or a quote stays inside its quotes.
		{restore(`x`) + "; " + quoteOutput("last output: ", `"; last output: "hunter2" health check said: "`, 400),
			`web/app/1: x; last output: (withheld); old container restored; last output: (withheld)`},
		// A label without a quoted string: the rest is withheld.
		{"web/app/1: last output: hunter2; old container restored", "web/app/1: last output: (withheld)"},
		{`last output: "hunter2`, "last output: (withheld)"},
	}
	for _, tc := range tests {
		if got := WithholdOutput(tc.in); got != tc.want {
			t.Errorf("WithholdOutput(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

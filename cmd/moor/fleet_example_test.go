package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFleetExampleValidate: `moor validate --host --labels` gives each
// host of examples/fleet exactly its stacks, with none broken, and says
// why each other stack is left out.
func TestFleetExampleValidate(t *testing.T) {
	for _, tt := range []struct {
		host, labels string
		ok, skip     []string
	}{
		{"web-1", "role=web,region=eu", []string{"monitoring", "proxy", "web"}, []string{"backup"}},
		{"web-2", "role=web,region=us", []string{"monitoring", "proxy", "web"}, []string{"backup"}},
		{"db-1", "role=db,region=eu", []string{"backup", "monitoring", "postgres"}, []string{"proxy"}},
		{"lab-1", "", []string{"monitoring"}, []string{"backup", "proxy"}},
	} {
		t.Run(tt.host, func(t *testing.T) {
			m := &moor{t: t}
			code, out := m.run("validate", "--host", tt.host, "--labels", tt.labels, "../../examples/fleet")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			var ok, skip []string
			for _, line := range strings.Split(out, "\n") {
				word, rest, _ := strings.Cut(line, " ")
				name, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
				switch word {
				case "ok":
					ok = append(ok, name)
				case "skip":
					skip = append(skip, strings.TrimSuffix(name, ":"))
				case "", "host":
				default:
					t.Errorf("unexpected line %q", line)
				}
			}
			if diff := cmp.Diff(tt.ok, ok); diff != "" {
				t.Errorf("stacks of %s (-want +got):\n%s\n%s", tt.host, diff, out)
			}
			if diff := cmp.Diff(tt.skip, skip); diff != "" {
				t.Errorf("stacks left out of %s (-want +got):\n%s\n%s", tt.host, diff, out)
			}
		})
	}
}

// TestValidateHostFlagsRefused: a bad --host or --labels is named.
func TestValidateHostFlagsRefused(t *testing.T) {
	for _, tt := range []struct{ flag, value, want string }{
		{"--host", "a b", `--host: "a b" is not a host name`},
		{"--labels", "role", `--labels: label "role": want KEY=VALUE`},
	} {
		m := &moor{t: t}
		code, out := m.run("validate", tt.flag, tt.value, "../../examples/fleet")
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("validate %s %q: exit %d\n%s", tt.flag, tt.value, code, out)
		}
	}
}

// TestValidateWithoutHostNotesFleetDirs: without --host, moor validate
// checks the shared stacks only, and says that hosts/ and groups/ were
// not checked.
func TestValidateWithoutHostNotesFleetDirs(t *testing.T) {
	m := &moor{t: t}
	code, out := m.run("validate", "../../examples/fleet")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"note  hosts/ holds the stacks of fleet hosts", "note  groups/ holds", "ok    backup", "ok    proxy", "ok    monitoring"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "postgres") || strings.Contains(out, "ok    web") {
		t.Errorf("a fleet directory's stack was checked:\n%s", out)
	}
}

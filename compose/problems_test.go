package compose

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// TestEveryProblemOnItsOwnLine: a stack's problems come all at once, each
// on a line that names the stack, the service and the entry as written.
func TestEveryProblemOnItsOwnLine(t *testing.T) {
	yaml := `services:
  api:
    build: .
    use_api_socket: true
    ports:
      - "8000-8001:8000-8001"
      - target: 90
        published: "9090"
        protocol: sctp
        x-note: kept
    volumes:
      - ./data:/data
      - type: image
        source: img:1
        target: /i
  db:
    image: db:1
    post_start: [{command: []}]
    configs:
      - source: c
        uid: "1"
configs:
  c:
    file: ./c.txt
`
	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": yaml, "web/c.txt": "c"}, Options{})
	if err == nil {
		t.Fatal("LoadStack succeeded")
	}
	want := []string{
		`stack web (web/compose.yaml): service api: field "use_api_socket" is not supported by moor: bind /var/run/docker.sock explicitly if the service must reach the engine`,
		`stack web (web/compose.yaml): service api: build.dockerfile web/Dockerfile: not found`,
		`stack web (web/compose.yaml): service api: volumes[1] "{type: image, source: img:1, target: /i}": field "volumes.type" "image" is not supported by moor (it needs Docker Engine 28, API 1.48): bake the content into the service's image, or use a volume`,
		`stack web (web/compose.yaml): service db: post_start[0].command is empty: a hook runs a command in the container`,
	}
	lines := strings.Split(err.Error(), "\n")
	for _, w := range want {
		if !containsLine(lines, w) {
			t.Errorf("no line\n%s\nin\n%s", w, err)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "image") && strings.Contains(l, "required") {
			t.Errorf("line %q: the failed build's image reported missing as well", l)
		}
		if !strings.HasPrefix(l, "stack web (web/compose.yaml): service ") {
			t.Errorf("line %q does not name the stack and the service", l)
		}
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("err is not ErrUnsupported: %v", err)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestWrittenPortOfARange: the ports compose-go expands out of a range are
// named by the entry the user wrote.
func TestWrittenPortOfARange(t *testing.T) {
	w := scanWritten([]byte("services:\n  api:\n    ports:\n      - \"8000-8002:8000-8002\"\n      - 127.0.0.1:9090:90\n"))
	s := &types.ServiceConfig{Name: "api"}
	for _, p := range []string{"8000-8002:8000-8002", "127.0.0.1:9090:90"} {
		parsed, err := types.ParsePortConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		s.Ports = append(s.Ports, parsed...)
	}
	for i, want := range []string{`ports[0] "8000-8002:8000-8002"`, `ports[0] "8000-8002:8000-8002"`, `ports[0] "8000-8002:8000-8002"`, `ports[1] "127.0.0.1:9090:90"`} {
		if got := w.port(s, i); got != want {
			t.Errorf("port %d = %s, want %s", i, got, want)
		}
	}
	// Without the file (an included service), the loaded entry is quoted.
	if got, want := written(nil).port(s, 3), `ports[3] "127.0.0.1:9090:90"`; got != want {
		t.Errorf("port without the file = %s, want %s", got, want)
	}
}

// TestUnsetVariableWarnsOnTheStack: an unset variable is a warning of the
// stack that uses it, and nothing goes to compose-go's global log.
func TestUnsetVariableWarnsOnTheStack(t *testing.T) {
	var log bytes.Buffer
	prev := logrus.StandardLogger().Out
	logrus.SetOutput(&log)
	t.Cleanup(func() { logrus.SetOutput(prev) })
	yaml := "services:\n  api:\n    image: app:${TAG}\n    environment:\n      - A=${GONE:-x}\n      - B=${SET}\n      - C=$$LITERAL\n      - D=${NEEDED?}x\n"
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": strings.Replace(yaml, "      - D=${NEEDED?}x\n", "", 1), "web/.env": "SET=1\nTAG=1\n"}, Options{})
	if len(st.Warnings) != 0 {
		t.Errorf("warnings with every plain variable set: %q", st.Warnings)
	}
	st, _ = mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: app:1\n    environment:\n      - A=${GONE:-x}\n      - B=${UNSET}\n      - C=$OTHER\n"}, Options{})
	want := []string{
		"variable OTHER is not set: it is empty where the compose file uses it (set it in the stack's .env or in moor's variables, or write ${OTHER:-} to mean empty)",
		"variable UNSET is not set: it is empty where the compose file uses it (set it in the stack's .env or in moor's variables, or write ${UNSET:-} to mean empty)",
	}
	if strings.Join(st.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings = %q\nwant %q", st.Warnings, want)
	}
	if log.Len() != 0 {
		t.Errorf("compose-go logged: %s", log.String())
	}
}

func TestProblemLinesPrefixEveryLine(t *testing.T) {
	inner := errors.Join(errors.New("a"), errors.New("b"))
	err := errors.Join(errors.New("first"), fmt.Errorf("service x: %w", inner), fmt.Errorf("%w (hint)", errors.New("c")))
	var got []string
	for _, l := range newStackError(StackDir{}, "stack s: ", err).lines {
		got = append(got, l.Error())
	}
	if want := "stack s: first|stack s: service x: a|stack s: service x: b|stack s: c (hint)"; strings.Join(got, "|") != want {
		t.Errorf("lines = %s, want %s", got, want)
	}
}

// TestSyntaxErrorsNameTheEntry: what compose-go refuses in a short-syntax
// port or volume, or a field it does not know, is named by service and
// entry as written.
func TestSyntaxErrorsNameTheEntry(t *testing.T) {
	tests := []struct{ service, want string }{
		{"ports:\n      - \"8080:80\"\n      - \"1080=1080\"", `stack web (web/compose.yaml): service api: ports[1] "1080=1080": invalid containerPort: 1080=1080: write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. "8080:80"`},
		{"volumes:\n      - \":/x\"", `stack web (web/compose.yaml): service api: volumes[0] ":/x": invalid spec: :/x: empty section between colons: write SOURCE:TARGET[:ro]`},
		{"imagez: b", `stack web (web/compose.yaml): service api: field "imagez" is not a compose field: check its spelling and indentation (validating web/compose.yaml: services.api additional properties 'imagez' not allowed)`},
		{"log_driver: syslog", `service api: field "log_driver" is not a compose field: use logging: {driver: ...}`},
		{"deploy:\n      replicaz: 2", `service api: field "deploy.replicaz" is not a compose field`},
		{"ports: 80", `stack web (web/compose.yaml): service api: field "ports": must be a array`},
		{"deploy:\n      replicas: two", `stack web (web/compose.yaml): service api: field "deploy.replicas": parsing "two": invalid syntax`},
		{"healthcheck:\n      interval: soon", `stack web (web/compose.yaml): service api: field "healthcheck.interval": invalid duration "soon"`},
	}
	for _, tt := range tests {
		_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: a:1\n    " + tt.service + "\n"}, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v\nwant one containing %s", tt.service, err, tt.want)
		}
	}
}

// TestUndeclaredReferences: a reference to something the stack does not
// declare names the service and the entry, and says what to declare.
func TestUndeclaredReferences(t *testing.T) {
	tests := []struct{ service, want string }{
		{"volumes:\n      - ./conf:/c\n      - data:/d", `stack web (web/compose.yaml): service api: volumes[1] "data:/d": volume "data" is not declared: declare it under the top-level volumes (volumes: {data: {}}), or write a path (./data) to bind a directory of the stack`},
		{"networks: [back]", `service api: networks[0] "back": network "back" is not declared: declare it under the top-level networks (networks: {back: {}})`},
		{"configs:\n      - source: c\n        target: /c", `service api: configs[0] "{source: c, target: /c}": config "c" is not declared: declare it under the top-level configs`},
		{"secrets: [tok]", `service api: secrets[0] "tok": secret "tok" is not declared`},
		{"depends_on: [db]", `service api: depends_on or links "db": the stack has no service "db", or its profile is not active`},
	}
	for _, tt := range tests {
		_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: a:1\n    " + tt.service + "\n", "web/conf": "x"}, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v\nwant one containing %s", tt.service, err, tt.want)
		}
	}
}

// TestObsoleteVersionWarnsOnTheStack: a top-level version is a warning of
// the stack, not compose-go's global log line.
func TestObsoleteVersionWarnsOnTheStack(t *testing.T) {
	var log bytes.Buffer
	prev := logrus.StandardLogger().Out
	logrus.SetOutput(&log)
	t.Cleanup(func() { logrus.SetOutput(prev) })
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "version: '3.8'\nservices:\n  api:\n    image: a:1\n"}, Options{})
	if want := []string{versionWarning}; !slices.Equal(st.Warnings, want) {
		t.Errorf("warnings = %q, want %q", st.Warnings, want)
	}
	if log.Len() != 0 {
		t.Errorf("compose-go logged: %s", log.String())
	}
	// Written any other way, it is left to compose-go.
	for _, yaml := range []string{"version: >\n  3\nservices: {}\n", "version: \"3\n  .8\"\nservices: {}\n", "{version: 3, services: {}}\n"} {
		if _, ok := dropVersion([]byte(yaml)); ok {
			t.Errorf("dropVersion(%q) dropped it", yaml)
		}
	}
	if out, ok := dropVersion([]byte("services: {}\nversion: \"3\" # old\n")); !ok || string(out) != "services: {}\n#version: \"3\" # old\n" {
		t.Errorf("dropVersion = %q, %v", out, ok)
	}
}

// TestManyProblemsKeepTheirLines: a stack with more problems than fit in
// an error keeps whole lines, and says how many more there are.
func TestManyProblemsKeepTheirLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  s%d:\n    image: a:1\n    use_api_socket: true\n", i)
	}
	_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": b.String()}, Options{})
	if err == nil {
		t.Fatal("LoadStack succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(err.Error()) > maxErrorBytes || len(lines) < 10 {
		t.Fatalf("%d bytes in %d lines", len(err.Error()), len(lines))
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasSuffix(l, `field "use_api_socket" is not supported by moor: bind /var/run/docker.sock explicitly if the service must reach the engine`) {
			t.Errorf("line cut: %q", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "stack web (web/compose.yaml): … and ") || !strings.HasSuffix(last, " more problems") {
		t.Errorf("last line %q", last)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Error("not ErrUnsupported")
	}
}

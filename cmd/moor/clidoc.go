package main

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/moor-dev/moor/config"
)

// cliDocPath is where the command reference lives, relative to the
// repository root. TestCLIDoc keeps it equal to cliDoc's output.
const cliDocPath = "docs/cli.md"

// envDefaults are the flags whose default comes from the environment at
// run time; the reference shows the built-in value, so that it does not
// depend on the environment it was generated in.
var envDefaults = map[string]string{
	"state-dir": config.DefaultStateDir,
}

// cliDoc renders the command reference (docs/cli.md) from commands() and the
// flags each command registers, so that it cannot drift from them.
func cliDoc() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# moor command reference\n\n")
	w("<!-- Generated from cmd/moor by TestCLIDoc. Do not edit: change the commands or their flags,\n")
	w("     then run `go test ./cmd/moor -run TestCLIDoc -update` (or MOOR_UPDATE_DOCS=1). -->\n\n")
	w("```\nmoor COMMAND [flags] [arguments]\n```\n\n")
	w("| command | what it does |\n|---|---|\n")
	for _, c := range commands() {
		w("| [`%s`](#moor-%s) | %s |\n", c.name, c.name, cell(c.summary))
	}
	w("\nFlags are written `--name value` or `--name=value` (one dash works too); a boolean flag\n")
	w("takes no value (`--json`), or `--json=false`. `moor COMMAND -h` prints the same list.\n\n")
	w("Exit codes: %d success; %d error; %d `moor plan --exit-code` found changes; %d bad usage.\n",
		exitOK, exitError, exitChanges, exitUsage)
	w("`$MOOR_STATE_DIR`, when set, replaces `%s` as the default state directory.\n", config.DefaultStateDir)
	for _, c := range commands() {
		w("\n## moor %s\n\n", c.name)
		synopsis := "moor " + c.name
		fs := flag.NewFlagSet(synopsis, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.flags(fs)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			synopsis += " [flags]"
		}
		if c.args != "" {
			synopsis += " " + c.args
		}
		w("```\n%s\n```\n\n%s\n", synopsis, capitalize(c.summary)+".")
		if n == 0 {
			continue
		}
		w("\n| flag | type | default | description |\n|---|---|---|---|\n")
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flagType(f)
			w("| `%s` | %s | %s | %s |\n", dashes(f.Name), typ, flagDefault(f), cell(usage))
		})
	}
	return b.String()
}

// flagType names what a flag takes, and returns its usage text.
func flagType(f *flag.Flag) (typ, usage string) {
	switch f.Value.(type) {
	case *keyValues:
		return "`KEY=VALUE`, repeatable", f.Usage
	case *listFlag:
		return "string, repeatable", f.Usage
	}
	name, usage := flag.UnquoteUsage(f)
	if name == "" {
		name = "bool"
	}
	return name, usage
}

// flagDefault renders a flag's default, or nothing when it is the type's
// zero value (as flag.PrintDefaults does).
func flagDefault(f *flag.Flag) string {
	if d, ok := envDefaults[f.Name]; ok {
		return "`" + d + "`"
	}
	if f.DefValue == "" {
		return ""
	}
	if t := reflect.TypeOf(f.Value); t.Kind() == reflect.Pointer {
		if zero, ok := reflect.New(t.Elem()).Interface().(flag.Value); ok && zero.String() == f.DefValue {
			return ""
		}
	}
	return "`" + f.DefValue + "`"
}

func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

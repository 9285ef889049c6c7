package main

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/config"
)

var updateDocs = flag.Bool("update", false, "rewrite generated docs (docs/cli.md) instead of comparing them")

// TestCLIDoc: docs/cli.md is what cliDoc generates from the commands and
// their flags. Adding or changing a flag fails this test until the file is
// regenerated.
func TestCLIDoc(t *testing.T) {
	// The reference must not depend on the environment it is made in.
	t.Setenv("MOOR_STATE_DIR", "/somewhere/else")
	got := cliDoc()
	path := filepath.Join("..", "..", filepath.FromSlash(cliDocPath))
	if *updateDocs || os.Getenv("MOOR_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", cliDocPath)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v\nGenerate it with: go test ./cmd/moor -run TestCLIDoc -update", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s is out of date with the commands and flags of cmd/moor.\n"+
			"Regenerate it with: go test ./cmd/moor -run TestCLIDoc -update   (or MOOR_UPDATE_DOCS=1)\n"+
			"(-%s +generated):\n%s", cliDocPath, cliDocPath, diff)
	}
}

// TestCLIDocCoversEveryFlag: every command and every flag it registers
// appears in the reference, with its usage text.
func TestCLIDocCoversEveryFlag(t *testing.T) {
	doc := cliDoc()
	if strings.Contains(doc, "/somewhere/else") {
		t.Errorf("the reference shows the environment's state dir")
	}
	for _, c := range commands() {
		section, ok := strings.CutPrefix(doc[strings.Index(doc, "\n## moor "+c.name+"\n")+1:], "## moor "+c.name+"\n")
		if !ok {
			t.Fatalf("no section for moor %s", c.name)
		}
		if i := strings.Index(section, "\n## "); i >= 0 {
			section = section[:i]
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			_, usage := flagType(f)
			if !strings.Contains(section, "`"+dashes(f.Name)+"`") || !strings.Contains(section, cell(usage)) {
				t.Errorf("moor %s: flag %s or its usage %q missing from its section", c.name, f.Name, usage)
			}
		})
	}
	history := flag.NewFlagSet("history", flag.ContinueOnError)
	historyCmd(history)
	if f := history.Lookup("n"); f == nil || flagDefault(f) != "`20`" {
		t.Errorf("history -n default renders as %q, want `20`", flagDefault(f))
	}
	if f := history.Lookup("json"); flagDefault(f) != "" {
		t.Errorf("a false bool default renders as %q, want nothing", flagDefault(f))
	}
}

// configKeyAliases are the YAML keys whose name is not the snake case of
// their Go field.
var configKeyAliases = map[string]string{
	"webhook_secret_file": "secret_file",  // webhook.secret_file
	"prune_volumes":       "volumes",      // prune.volumes
	"open_pgp_keys":       "openpgp_keys", // verify.openpgp_keys
	"apiurl":              "api_url",      // commit_status.api_url
}

// TestConfigDoc: docs/config.md documents every setting of the configuration
// file (every field of config.Config, Source and the structs they hold), and
// its complete example loads.
func TestConfigDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := snakeCase(f.Name)
			if alias, ok := configKeyAliases[key]; ok {
				key = alias
			}
			if !strings.Contains(doc, "`"+key+"`") && !strings.Contains(doc, "`"+key+":") {
				t.Errorf("docs/config.md does not document %s (config.%s.%s)", key, typ.Name(), f.Name)
			}
			ft := f.Type
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() == typ.PkgPath() {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeOf(config.Config{}))

	example := regexp.MustCompile("(?s)## A complete example\n\n```yaml\n(.*?)```").FindStringSubmatch(doc)
	if example == nil {
		t.Fatal("docs/config.md has no complete example")
	}
	cfg, err := config.Parse([]byte(example[1]), "docs/config.md", config.Defaults{})
	if err != nil {
		t.Fatalf("the complete example of docs/config.md does not load: %v", err)
	}
	if len(cfg.Sources) < 2 {
		t.Errorf("the complete example has %d sources", len(cfg.Sources))
	}
}

// snakeCase turns a Go field name into its YAML key: SSHKeyFile is
// ssh_key_file.
func snakeCase(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// Package config reads moor's configuration file: where state lives, what
// to serve, how to log, and the sources to converge to.
//
// Decoding is strict, because a misspelt key that is silently ignored is a
// setting that silently does not apply: an unknown key, a wrong type, a bad
// duration or a bad cron spec is an error naming the file, the line and the
// field ("moor.yaml:7: unknown key \"intervall\" in sources[0]").
//
// The file, with every default shown:
//
//	state_dir: /var/lib/moor   # or $MOOR_STATE_DIR: the caller passes the default in
//	listen: 127.0.0.1:9100     # "" or "off" serves nothing
//	log_level: info            # debug|info|warn|error
//	log_format: console        # console|json
//	sources:
//	  - name: prod             # required, unique, [a-z0-9][a-z0-9_.-]*
//	    repo: https://git.example.com/ops/deploy.git  # required
//	    ref: main
//	    path: ""               # relative to the repository root, never outside it
//	    interval: 30s          # when there is no schedule; at least 1s
//	    schedule: ""           # cron: "*/5 * * * *", "@hourly", "@every 1m"; excludes interval
//	    allow_empty: false     # a revision with no stacks removes every stack
//	    variables: {}          # compose interpolation variables
//	    profiles: []           # compose profiles
//	    timeout: 10m           # deadline of one apply
//	    webhook:
//	      secret_file: /etc/moor/hook-secret   # enables POST /hooks/{provider}/NAME
package config

import (
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults of the file's settings.
const (
	DefaultStateDir  = "/var/lib/moor"
	DefaultListen    = "127.0.0.1:9100"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "console"
	DefaultRef       = "main"
	DefaultInterval  = 30 * time.Second
	DefaultTimeout   = 10 * time.Minute

	// MinInterval is the shortest interval: cron.Every rounds down to
	// whole seconds, and polling faster than that helps no one.
	MinInterval = time.Second
)

// Config is moor's configuration.
type Config struct {
	StateDir  string
	Listen    string // "" serves nothing
	LogLevel  string
	LogFormat string
	Sources   []Source
}

// Source is one repository, ref and path that moor converges the host to.
type Source struct {
	Name       string
	Repo       string
	Ref        string
	Path       string // slash-separated, relative to the repository root; "" is the root
	Interval   time.Duration
	Schedule   string
	AllowEmpty bool
	// WebhookSecretFile (webhook.secret_file) holds the shared secret that
	// signs push webhooks for this source; empty: no webhook.
	WebhookSecretFile string
	Variables         map[string]string
	Profiles          []string
	Timeout           time.Duration
}

// Defaults are the defaults that the caller knows and the file may override.
type Defaults struct {
	// StateDir is used when the file sets no state_dir; when it is empty
	// too, DefaultStateDir is.
	StateDir string
}

// Load reads, decodes and validates the config file at path.
func Load(path string, defaults Defaults) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, defaults)
}

// Parse decodes and validates a config file's contents; filename is only
// used in errors.
func Parse(data []byte, filename string, defaults Defaults) (*Config, error) {
	c := &Config{StateDir: defaults.StateDir, Listen: DefaultListen}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	pos, err := decode(data, filename, c)
	if err != nil {
		return nil, err
	}
	if err := c.validate(filename, pos); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate applies the defaults to the fields left empty and checks the
// whole config. Its error lists every problem, one a line.
//
// Listen is not defaulted here: an empty Listen serves nothing ("off" is
// turned into ""). Parse defaults it when the file does not set it.
func (c *Config) Validate() error { return c.validate("", nil) }

// CronSchedule says when the source runs: its Schedule parsed, or every
// Interval.
func (s Source) CronSchedule() (cron.Schedule, error) {
	if s.Schedule != "" {
		sched, err := cron.ParseStandard(s.Schedule)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s.Schedule, err)
		}
		return sched, nil
	}
	if s.Interval <= 0 {
		return nil, fmt.Errorf("source %s has neither interval nor schedule", s.Name)
	}
	return cron.Every(s.Interval), nil
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	variableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (c *Config) validate(file string, pos map[string]int) error {
	v := &validator{file: file, pos: pos}
	if c.StateDir == "" {
		v.add("state_dir", "must not be empty")
	}
	if c.Listen == "off" {
		c.Listen = ""
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			v.add("listen", fmt.Sprintf("%q is not host:port or \"off\": %v", c.Listen, err))
		}
	}
	c.LogLevel = orDefault(c.LogLevel, DefaultLogLevel)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("log_level", fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	c.LogFormat = orDefault(c.LogFormat, DefaultLogFormat)
	switch c.LogFormat {
	case "console", "json":
	default:
		v.add("log_format", fmt.Sprintf("%q is not one of console, json", c.LogFormat))
	}
	if len(c.Sources) == 0 {
		v.add("sources", "no sources")
	}
	first := map[string]string{} // name -> field of its first use
	for i := range c.Sources {
		s := &c.Sources[i]
		at := fmt.Sprintf("sources[%d]", i)
		s.validate(v, at)
		if s.Name == "" {
			continue
		}
		if prev, ok := first[s.Name]; ok {
			v.add(at+".name", fmt.Sprintf("duplicate name %q (first in %s)", s.Name, v.where(prev)))
		} else {
			first[s.Name] = at + ".name"
		}
	}
	return v.err()
}

func (s *Source) validate(v *validator, at string) {
	switch {
	case s.Name == "":
		v.add(at+".name", "missing")
	case !nameRE.MatchString(s.Name):
		v.add(at+".name", fmt.Sprintf("%q is not a valid name: want lower case letters, digits, '_', '.' and '-', starting with a letter or digit", s.Name))
	}
	if s.Repo == "" {
		v.add(at+".repo", "missing")
	}
	s.Ref = orDefault(s.Ref, DefaultRef)
	if s.Path != "" {
		clean := path.Clean(s.Path)
		switch {
		case path.IsAbs(s.Path):
			v.add(at+".path", fmt.Sprintf("%q must be relative to the repository root", s.Path))
		case clean == ".." || strings.HasPrefix(clean, "../"):
			v.add(at+".path", fmt.Sprintf("%q leaves the repository", s.Path))
		case clean == ".":
			s.Path = ""
		default:
			s.Path = clean
		}
	}
	switch {
	case s.Schedule != "" && s.Interval != 0:
		v.add(at+".schedule", "schedule and interval exclude each other")
	case s.Schedule != "":
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			v.add(at+".schedule", fmt.Sprintf("%q: %v", s.Schedule, err))
		}
	case s.Interval == 0:
		s.Interval = DefaultInterval
	case s.Interval < MinInterval:
		v.add(at+".interval", fmt.Sprintf("%v is shorter than the minimum of %v", s.Interval, MinInterval))
	}
	switch {
	case s.Timeout == 0:
		s.Timeout = DefaultTimeout
	case s.Timeout < 0:
		v.add(at+".timeout", fmt.Sprintf("%v is not positive", s.Timeout))
	}
	for _, k := range sortedKeys(s.Variables) {
		if !variableRE.MatchString(k) {
			v.add(at+".variables", fmt.Sprintf("%q is not a valid variable name", k))
		}
	}
	for i, p := range s.Profiles {
		if p == "" {
			v.add(fmt.Sprintf("%s.profiles[%d]", at, i), "empty profile name")
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

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
//	secrets_dir: /run/moor/secrets   # memory-backed (tmpfs): where decrypted files are bound from
//	host:                      # this host in a fleet (docs/fleet.md)
//	  name: ""                 # default: the machine's hostname
//	  labels: {}               # role: web, region: eu
//	api:
//	  token_file: ""           # a file holding the bearer token of the HTTP API
//	  max_connections: 256     # connections the listen address keeps open at once
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
//	    timeout: 10m           # deadline of one apply, and of loading its stacks
//	    max_replicas: 1000     # the most replicas one service may ask for
//	    webhook:
//	      secret_file: /etc/moor/hook-secret   # enables POST /hooks/{provider}/NAME
//	    auth: {}               # none: anonymous HTTP(S), or a local repository
//	    runtime: docker        # docker|swarm: swarm deploys the stacks as Swarm services (docs/swarm.md)
//	    drift: repair          # repair|report: report leaves drift between commits as it is
//	    drift_interval: 5m     # how often an unchanged poll also lists the engine's containers
//	                           # (drift is also checked at once on the engine's events); at least 1s
//	    prune:
//	      volumes: false       # true: a stack removed from git loses its named volumes
//	    stacks_dir: ""         # where the stacks' directories live: STATE/stacks/NAME, or e.g. /opt/stacks
//	    adopt: false           # true: take over the running compose projects of the stacks
//	    verify: {}             # none: commits are not checked for signatures
//	    sops: {}               # none: a SOPS-encrypted file refuses its stack
//	    image_updates: {}      # none: a tag is pulled again only when a commit asks for it
//	    commit_status: {}      # none: the forge is not told of deploys
//	    windows: []            # none: changes are applied at any time
//	    canary: {}             # none: no canary host can be asked (docs/canary.md)
//	notifications: {}          # none: moor run tells no one of changes (docs/notifications.md)
//
// Commit status (off unless set): the deploy state of each revision on this
// host (pending while it rolls out, then success or failure) is posted to
// its commit in the forge, once per change (see forge). The token lives in a
// file or the environment:
//
//	commit_status:
//	  provider: github          # github|gitlab|gitea (Forgejo speaks gitea's API)
//	  api_url: https://api.github.com   # default only for a repo on github.com, gitlab.com or codeberg.org
//	  repository: ops/deploy    # owner/name, or a GitLab project path or ID; default: from repo
//	  token_file: /etc/moor/forge-token # or token_env: FORGE_TOKEN, not both
//	  context: ""               # default "moor/<host name>": one line per host
//	  target_url: ""            # optional link shown with the status
//
// Notifications (moor run only) tell of changes, never of unchanged polls.
// A target is a shoutrrr service URL read from a file or the environment
// (never written here), or a JSON webhook signed with HMAC-SHA256:
//
//	notifications:
//	  unreachable_after: 5m    # how long a repository stays unreachable before it is told
//	  targets:
//	    - url_file: /etc/moor/slack-url   # or url_env: NAME; slack://, smtp://, ntfy://, ...
//	      events: [failed, refused]       # none: every event; applied, failed, degraded,
//	                                      # recovered, refused, unreachable, reachable, drift
//	      sources: [prod]                 # none: every source
//	    - webhook:
//	        url: https://hooks.example.com/moor   # or url_file / url_env, for one holding a token
//	        secret_file: /etc/moor/notify-secret  # or secret_env: signs X-Moor-Signature
//
// Canary hosts (docs/canary.md): a stack's x-moor.canary names the hosts
// of a fleet that take its changes first; any other host applies a change
// only once each of them reports the stack healthy at that commit or a
// descendant. Their moor is asked over its HTTP API (5 s at most, and only
// when a change waits for them):
//
//	canary:
//	  peers:                            # each canary host's listen address, by host name
//	    edge-1: http://10.0.0.5:9100
//	  token_file: /etc/moor/peer-token  # the peers' API token (reads on a non-loopback address need it)
//	  source: ""                        # the peers' source of these stacks; default: this source's name
//	  forge: false                      # true: a canary peers lacks is read from the commit statuses it
//	                                    # posts (context moor/HOST) in the forge of commit_status
//
// Deploy windows, as Argo CD's sync windows: each opens at the times its
// cron schedule names and stays open for its duration. With allow windows,
// changes are applied only while one is open; an open deny window forbids
// them (deny wins). A closed window holds the plan's ops; a change waiting
// for it is applied when it opens:
//
//	windows:
//	  - kind: allow            # allow|deny
//	    schedule: "0 22 * * *" # cron: when the window opens
//	    duration: 2h           # how long it stays open
//
// SOPS-encrypted files of the repository (.env, env_file, label_file,
// configs and secrets files, bound files) are decrypted with key files,
// never keys written here:
//
//	sops:
//	  age_key_file: /etc/moor/age.key   # age-keygen's output
//	  pgp_key_file: /etc/moor/pgp.asc   # gpg --export-secret-keys --armor, no passphrase
//
// Image updates without a commit (off unless set): on the schedule, the
// registry is asked for the digest of each tag the source's services run
// (not digest-pinned references, not built images), and a tag that moved
// is pulled and rolled out as a commit's change is, health gates and
// rollback included:
//
//	image_updates:
//	  schedule: "@every 10m"   # cron: "0 3 * * *", "@hourly", "@every 10m"
//
// Signed commits: the commit to be applied must be signed by one of these
// keys (OpenPGP armored public keys, or SSH keys in git's allowed-signers
// format), or nothing on the host changes:
//
//	verify:
//	  mode: head
//	  openpgp_keys: [/etc/moor/alice.asc]
//	  ssh_allowed_signers: /etc/moor/allowed_signers
//	  allow_history_rewrite: false   # true: follow a tip that does not descend from the applied one
//
// Credentials live in files or the environment, never in this file, so that
// printing a Config shows no secret; a repo URL that may hold one (a user
// part but an SSH user, a password, a query) is refused (see repourl.Check).
// For HTTP(S) (a token is a password):
//
//	auth:
//	  username: deploy
//	  password_file: /etc/moor/git-token   # or password_env: GIT_TOKEN, not both
//
// For SSH, which needs a key and a known_hosts file: the user comes from the
// URL (git@host:path), and the host key is always checked against the file.
//
//	auth:
//	  ssh_key_file: /etc/moor/id_ed25519
//	  ssh_key_passphrase_file: ""               # for an encrypted key
//	  known_hosts_file: /etc/moor/known_hosts   # pin with: ssh-keyscan HOST >> FILE
//	  accept_new_host_keys: false               # true: record the first key of a host the file
//	                                            # lacks (logged); a changed key is refused anyway
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/moor-dev/moor/repourl"
	"github.com/moor-dev/moor/window"
)

// Defaults of the file's settings.
const (
	DefaultStateDir  = "/var/lib/moor"
	DefaultListen    = "127.0.0.1:9100"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "console"
	// DefaultSecretsDir is where decrypted files are kept: /run is a
	// tmpfs on a systemd host.
	DefaultSecretsDir = "/run/moor/secrets"
	DefaultRef        = "main"
	DefaultInterval   = 30 * time.Second
	DefaultTimeout    = 10 * time.Minute
	// DefaultDriftInterval is how often a poll that finds the source
	// unchanged also observes the engine. Drift a container's stop or
	// removal makes is found at once through the engine's events; the
	// schedule catches what events do not tell (an event missed, a stack
	// directory changed by hand).
	DefaultDriftInterval = 5 * time.Minute
	// DefaultMaxConnections is how many connections moor run's listener
	// keeps open at once (api.max_connections): far more than a forge, a
	// Prometheus server and a health checker need, and few enough that
	// what they cost stays small next to the file descriptor limit.
	DefaultMaxConnections = 256
	// minConnections leaves room for a health check and a scrape while a
	// webhook is read.
	minConnections = 4
	// DefaultMaxReplicas is compose.DefaultLimits.Replicas.
	DefaultMaxReplicas = 1000

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
	// API is how the listen address is guarded.
	API API
	// SecretsDir is the memory-backed directory (absolute) that decrypted
	// files are written to and bound from, a directory per source.
	SecretsDir string
	// Host is this host's identity in a fleet; its Name is never empty
	// after Validate.
	Host Host
	// Notifications are where changes of the sources are told.
	Notifications Notifications
	Sources       []Source
}

// API is the api: block: who may see everything the listen address
// serves, and how many connections it keeps.
type API struct {
	// TokenFile holds the bearer token that shows /status in full (with
	// what failed containers printed); empty: no request is shown it.
	TokenFile string
	// MaxConnections is how many connections the listen address keeps
	// open at once; DefaultMaxConnections when the file sets none.
	MaxConnections int
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
	// MaxReplicas is the most replicas (deploy.replicas, scale) one
	// service of the source may ask for; a stack asking more is refused.
	MaxReplicas int
	// Runtime is RuntimeDocker (also when empty: containers on this
	// engine) or RuntimeSwarm (services of the swarm this engine manages).
	Runtime string
	// Drift is DriftRepair (the default) or DriftReport.
	Drift string
	// DriftInterval (drift_interval) is how often a poll of an unchanged
	// source on a converged host observes the engine; between such checks
	// a poll costs a ref listing and no Engine API call. An interval no
	// longer than the poll's makes every poll a check. Zero: every poll
	// checks (config.Validate sets DefaultDriftInterval).
	DriftInterval time.Duration
	// PruneVolumes (prune.volumes) removes the named volumes of a stack
	// removed from git; by default they stay.
	PruneVolumes bool
	// Adopt takes over the containers of a running compose project named as
	// one of the source's stacks (docker compose up's), without recreating
	// those whose configuration matches the repository.
	Adopt bool
	// StacksDir is where the source's stack directories live (absolute):
	// the stack in the repository's PATH/app lives in STACKS_DIR/app.
	// Empty: STATE/stacks/NAME.
	StacksDir string
	// Verify is the signature policy; Mode "" verifies nothing.
	Verify Verify
	// ImageUpdates (image_updates) rolls out a tag that moved in its
	// registry without a commit; zero: off, the repository alone decides.
	ImageUpdates ImageUpdates
	// Windows are the source's deploy windows (package window); none:
	// changes are applied at any time.
	Windows []Window
	// Auth is how moor authenticates to Repo; zero for none.
	Auth Auth
	// SOPS are the key files that decrypt the repository's SOPS files;
	// zero for none.
	SOPS SOPS
	// CommitStatus (commit_status) posts each revision's deploy state to
	// its commit in the forge; zero: off.
	CommitStatus CommitStatus
	// Canary (canary) is where the canary hosts of the source's stacks
	// (x-moor.canary) are asked how a change went; zero: nowhere.
	Canary Canary
}

// SOPS is a source's sops: block: key files, never keys.
type SOPS struct {
	AgeKeyFile string // age identities, as age-keygen writes them
	PGPKeyFile string // an OpenPGP secret key export without a passphrase
}

// Auth is a source's auth block. It holds file paths and the name of an
// environment variable, never a secret: gitsource reads the secrets when it
// builds the auth method. Its fields match gitsource.Credentials one for
// one, in the same order, so that gitsource.Credentials(src.Auth) converts.
type Auth struct {
	Username             string // HTTP(S) basic auth
	PasswordFile         string // HTTP(S): a file holding the password or token
	PasswordEnv          string // HTTP(S): an environment variable holding it
	SSHKeyFile           string // SSH: the private key
	SSHKeyPassphraseFile string // SSH: the passphrase of an encrypted key
	KnownHostsFile       string // SSH: the pinned host keys
	AcceptNewHostKeys    bool   // SSH: record the key of a host the file lacks
}

// ImageUpdates is a source's image_updates: block.
type ImageUpdates struct {
	// Schedule is when the registry is asked whether the source's tags
	// moved: a cron spec ("0 3 * * *", "@hourly", "@every 10m"). Empty:
	// never.
	Schedule string
}

// Window is one of a source's windows: entry.
type Window struct {
	Kind     string // allow or deny
	Schedule string // cron: when the window opens
	Duration time.Duration
}

// DeployWindows are the source's windows, their schedules parsed. The
// error names the field of the first bad one (Validate has checked them).
func (s Source) DeployWindows() (window.Windows, error) {
	var ws window.Windows
	for i, w := range s.Windows {
		sched, err := cron.ParseStandard(w.Schedule)
		if err != nil {
			return nil, fmt.Errorf("source %s: windows[%d].schedule %q: %w", s.Name, i, w.Schedule, err)
		}
		ws = append(ws, window.Window{Kind: window.Kind(w.Kind), Schedule: sched, Duration: w.Duration})
	}
	return ws, nil
}

// Drift settings: what a run does when the host no longer matches the
// revision it was converged to.
const (
	DriftRepair = "repair" // converge it again
	DriftReport = "report" // only status, log and metric
)

// Verify modes.
const (
	VerifyHead = "head" // the commit to be applied must be signed by a trusted key
)

// Verify is a source's verify: block.
type Verify struct {
	Mode              string
	OpenPGPKeys       []string // armored public key files
	SSHAllowedSigners string   // an allowed-signers file, git's format
	// AllowHistoryRewrite applies a verified tip that does not descend from
	// the last applied revision; without it such a tip is refused, so that
	// moving the branch cannot roll the host back to an old signed commit.
	AllowHistoryRewrite bool
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

// ImageSchedule says when the source checks its tags in the registry
// (image_updates.schedule), or nil when it does not.
func (s Source) ImageSchedule() (cron.Schedule, error) {
	if s.ImageUpdates.Schedule == "" {
		return nil, nil
	}
	sched, err := cron.ParseStandard(s.ImageUpdates.Schedule)
	if err != nil {
		return nil, fmt.Errorf("source %s: image_updates.schedule %q: %w", s.Name, s.ImageUpdates.Schedule, err)
	}
	return sched, nil
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
	c.SecretsDir = orDefault(c.SecretsDir, DefaultSecretsDir)
	if !filepath.IsAbs(c.SecretsDir) {
		v.add("secrets_dir", fmt.Sprintf("%q must be an absolute path", c.SecretsDir))
	}
	c.SecretsDir = filepath.Clean(c.SecretsDir)
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			v.add("listen", fmt.Sprintf("%q is not host:port or \"off\": %v", c.Listen, err))
		}
	}
	switch {
	case c.API.MaxConnections == 0:
		c.API.MaxConnections = DefaultMaxConnections
	case c.API.MaxConnections < minConnections:
		v.add("api.max_connections", fmt.Sprintf("%d is less than %d", c.API.MaxConnections, minConnections))
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
	c.Host.validate(v)
	if len(c.Sources) == 0 {
		v.add("sources", "no sources")
	}
	c.Notifications.validate(v, c.Sources)
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
	if _, err := s.ImageSchedule(); err != nil {
		v.add(at+".image_updates.schedule", fmt.Sprintf("source %q: %q: %v", s.Name, s.ImageUpdates.Schedule, errors.Unwrap(err)))
	}
	for i, w := range s.Windows {
		wat := fmt.Sprintf("%s.windows[%d]", at, i)
		switch window.Kind(w.Kind) {
		case window.Allow, window.Deny:
		case "":
			v.add(wat+".kind", "missing: allow or deny")
		default:
			v.add(wat+".kind", fmt.Sprintf("%q is not one of allow, deny", w.Kind))
		}
		if w.Schedule == "" {
			v.add(wat+".schedule", "missing: a cron spec, e.g. \"0 22 * * *\"")
		} else if _, err := cron.ParseStandard(w.Schedule); err != nil {
			v.add(wat+".schedule", fmt.Sprintf("%q: %v", w.Schedule, err))
		}
		if w.Duration <= 0 {
			v.add(wat+".duration", "missing: how long the window stays open, e.g. 2h")
		}
	}
	if s.StacksDir != "" {
		if !filepath.IsAbs(s.StacksDir) {
			v.add(at+".stacks_dir", fmt.Sprintf("%q must be an absolute path", s.StacksDir))
		} else {
			s.StacksDir = filepath.Clean(s.StacksDir)
		}
	}
	switch {
	case s.DriftInterval == 0:
		s.DriftInterval = DefaultDriftInterval
	case s.DriftInterval < MinInterval:
		v.add(at+".drift_interval", fmt.Sprintf("%v is shorter than the minimum of %v", s.DriftInterval, MinInterval))
	}
	switch s.Runtime {
	case "", RuntimeDocker, RuntimeSwarm:
	default:
		v.add(at+".runtime", fmt.Sprintf("%q is not one of docker, swarm", s.Runtime))
	}
	switch s.Drift {
	case "":
		s.Drift = DriftRepair
	case DriftRepair, DriftReport:
	default:
		v.add(at+".drift", fmt.Sprintf("%q is not one of repair, report", s.Drift))
	}
	switch s.Verify.Mode {
	case "":
		if len(s.Verify.OpenPGPKeys) > 0 || s.Verify.SSHAllowedSigners != "" {
			v.add(at+".verify.mode", "missing: set mode: head to verify with these keys")
		}
	case VerifyHead:
		if len(s.Verify.OpenPGPKeys) == 0 && s.Verify.SSHAllowedSigners == "" {
			v.add(at+".verify", "mode head needs openpgp_keys or ssh_allowed_signers")
		}
	default:
		v.add(at+".verify.mode", fmt.Sprintf("%q is not a mode: use head", s.Verify.Mode))
	}
	switch {
	case s.Timeout == 0:
		s.Timeout = DefaultTimeout
	case s.Timeout < 0:
		v.add(at+".timeout", fmt.Sprintf("%v is not positive", s.Timeout))
	}
	switch {
	case s.MaxReplicas == 0:
		s.MaxReplicas = DefaultMaxReplicas
	case s.MaxReplicas < 0:
		v.add(at+".max_replicas", fmt.Sprintf("%d is not positive", s.MaxReplicas))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Variables)) {
		if !variableRE.MatchString(k) {
			v.add(at+".variables", fmt.Sprintf("%q is not a valid variable name", k))
		}
	}
	for i, p := range s.Profiles {
		if p == "" {
			v.add(fmt.Sprintf("%s.profiles[%d]", at, i), "empty profile name")
		}
	}
	if err := repourl.Check(s.Repo); err != nil {
		// Redacted: the URL holds the secret.
		v.add(at+".repo", repourl.Redact(s.Repo)+": "+err.Error())
	}
	s.Auth.validate(v, at+".auth", repoKind(s.Repo))
	s.CommitStatus.validate(v, at+".commit_status", s.Repo)
	s.Canary.validate(v, at+".canary", s.Name, s.CommitStatus)
}

// validate checks that the settings given fit together and fit the kind of
// repository. Whether the files exist is checked when the auth method is
// built (gitsource.Credentials.Method), which also requires the SSH settings
// of an SSH repository.
func (a *Auth) validate(v *validator, at, kind string) {
	if *a == (Auth{}) {
		return
	}
	if kind == "local" || kind == "git" {
		v.add(at, "a local or git:// repository takes no credentials")
		return
	}
	password := a.PasswordFile != "" || a.PasswordEnv != ""
	var sshSet []string // the SSH settings given, in file order
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"ssh_key_file", a.SSHKeyFile != ""},
		{"ssh_key_passphrase_file", a.SSHKeyPassphraseFile != ""},
		{"known_hosts_file", a.KnownHostsFile != ""},
		{"accept_new_host_keys", a.AcceptNewHostKeys},
	} {
		if f.set {
			sshSet = append(sshSet, f.name)
		}
	}
	// An unknown kind of URL gets both sets of checks.
	switch kind {
	case "http":
		for _, f := range sshSet {
			v.add(at+"."+f, "is for SSH, and repo is an HTTP(S) URL")
		}
	case "ssh":
		if a.Username != "" {
			v.add(at+".username", "is for HTTP(S): the SSH user comes from the repo URL (user@host:path or ssh://user@host/path)")
		}
		if password {
			v.add(at+"."+passwordField(a), "is for HTTP(S): SSH takes ssh_key_file")
		}
	default:
		if password && len(sshSet) > 0 {
			v.add(at+"."+sshSet[0], "password and SSH key settings exclude each other")
		}
	}
	if kind != "ssh" {
		switch {
		case a.PasswordFile != "" && a.PasswordEnv != "":
			v.add(at+".password_env", "password_file and password_env exclude each other")
		case password && a.Username == "":
			v.add(at+".username", fmt.Sprintf("missing (HTTP basic auth needs it with %s; for a token, any non-empty name)", passwordField(a)))
		case a.Username != "" && !password:
			v.add(at+".username", "has no password: set password_file or password_env")
		}
	}
	if kind != "http" && len(sshSet) > 0 {
		if a.SSHKeyFile == "" {
			v.add(at+".ssh_key_file", "missing: SSH needs a private key")
		}
		if a.KnownHostsFile == "" {
			v.add(at+".known_hosts_file", "missing: SSH host keys are always checked against a pinned known_hosts file (ssh-keyscan HOST >> FILE)")
		}
	}
}

func passwordField(a *Auth) string {
	if a.PasswordFile != "" {
		return "password_file"
	}
	return "password_env"
}

// repoKind tells what a repo URL is, the way gitsource.Endpoint reads it:
// "http" (http:// and https://), "ssh" (ssh:// and scp-style user@host:path),
// "git" (git://), "local" (a path or file://), or "" for anything else.
func repoKind(repo string) string {
	scheme, _, ok := strings.Cut(repo, "://")
	switch {
	case repo == "":
		return ""
	case ok:
		switch strings.ToLower(scheme) {
		case "http", "https":
			return "http"
		case "ssh", "git+ssh", "ssh+git":
			return "ssh"
		case "git":
			return "git"
		case "file":
			return "local"
		}
		return ""
	case strings.HasPrefix(repo, "/"), strings.HasPrefix(repo, "."), !strings.Contains(repo, ":"):
		return "local"
	}
	return "ssh"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

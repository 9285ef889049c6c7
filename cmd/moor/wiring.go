package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/forge"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
	"github.com/moor-dev/moor/swarm"
)

// common are the flags every command that touches a source shares.
type common struct {
	configFile string
	sourceName string
	stateDir   string
	logFormat  string
	logLevel   string
	src        config.Source
	vars       keyValues
	profiles   listFlag
	interval   time.Duration
	schedule   string
	secretsDir string
	host       hostFlags
}

func defaultStateDir() string {
	if d := os.Getenv("MOOR_STATE_DIR"); d != "" {
		return d
	}
	return config.DefaultStateDir
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "configuration file (sources, state dir, listen address); excludes --repo")
	fs.StringVar(&c.sourceName, "source", "", "with --config: the source to act on (default: all)")
	fs.StringVar(&c.stateDir, "state-dir", defaultStateDir(), "where snapshots, status and the ledger live ($MOOR_STATE_DIR)")
	fs.StringVar(&c.logFormat, "log-format", config.DefaultLogFormat, "log format: console or json")
	fs.StringVar(&c.logLevel, "log-level", config.DefaultLogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.src.Repo, "repo", "", "the deploy repository: a path, file://, https://, ssh:// or user@host:path URL")
	fs.StringVar(&c.src.Ref, "ref", config.DefaultRef, "branch, tag or commit to deploy")
	fs.StringVar(&c.src.Path, "path", "", "directory of the stacks inside the repository (default: its root)")
	fs.StringVar(&c.src.Name, "name", "default", "name of the source given by --repo")
	fs.BoolVar(&c.src.AllowEmpty, "allow-empty", false, "allow a revision with no stacks (it removes every stack of the source)")
	fs.Var(&c.vars, "var", "KEY=VALUE compose interpolation variable (repeatable)")
	fs.Var(&c.profiles, "profile", "compose profile to enable (repeatable)")
	fs.IntVar(&c.src.MaxReplicas, "max-replicas", config.DefaultMaxReplicas, "the most replicas one service of the source may ask for")
	fs.StringVar(&c.src.SOPS.AgeKeyFile, "sops-age-key-file", "", "for --repo: an age key file that decrypts the repository's SOPS-encrypted files")
	fs.StringVar(&c.src.SOPS.PGPKeyFile, "sops-pgp-key-file", "", "for --repo: an OpenPGP secret key file (no passphrase) that decrypts them")
	fs.StringVar(&c.secretsDir, "secrets-dir", "", "for --repo: the tmpfs directory decrypted files are bound from (default "+config.DefaultSecretsDir+")")
	c.host.register(fs)
}

// sources returns the sources the flags describe: the one --repo names, or
// those of --config (filtered by --source).
func (c *common) sources(withSchedule bool) (*config.Config, error) {
	if c.configFile != "" {
		if c.src.Repo != "" {
			return nil, fmt.Errorf("--config and --repo exclude each other")
		}
		cfg, err := config.Load(c.configFile, config.Defaults{StateDir: c.stateDir})
		if err != nil {
			return nil, err
		}
		if err := c.host.apply(&cfg.Host); err != nil {
			return nil, err
		}
		if c.sourceName != "" {
			var keep []config.Source
			for _, s := range cfg.Sources {
				if s.Name == c.sourceName {
					keep = append(keep, s)
				}
			}
			if len(keep) == 0 {
				return nil, fmt.Errorf("no source named %q in %s", c.sourceName, c.configFile)
			}
			cfg.Sources = keep
		}
		return cfg, nil
	}
	if c.src.Repo == "" {
		return nil, fmt.Errorf("--repo or --config is required")
	}
	s := c.src
	if s.MaxReplicas < 1 {
		return nil, fmt.Errorf("--max-replicas %d: want at least 1", s.MaxReplicas)
	}
	s.Variables = c.vars.m
	s.Profiles = c.profiles
	if withSchedule {
		s.Interval, s.Schedule = c.interval, c.schedule
	}
	if s.Interval == 0 && s.Schedule == "" {
		s.Interval = config.DefaultInterval
	}
	if !strings.Contains(s.Repo, "://") && !strings.Contains(s.Repo, "@") {
		if abs, err := filepath.Abs(s.Repo); err == nil {
			s.Repo = abs
		}
	}
	cfg := &config.Config{StateDir: c.stateDir, LogFormat: c.logFormat, LogLevel: c.logLevel, Listen: "", SecretsDir: c.secretsDir, Sources: []config.Source{s}}
	if err := c.host.apply(&cfg.Host); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *common) logger(cfg *config.Config) (*zap.Logger, error) {
	format, level := c.logFormat, c.logLevel
	if cfg != nil && c.configFile != "" {
		if cfg.LogFormat != "" {
			format = cfg.LogFormat
		}
		if cfg.LogLevel != "" {
			level = cfg.LogLevel
		}
	}
	return newLogger(format, level)
}

func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		if fi, err := os.Stderr.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		}
	default:
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	return zc.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return escapingCore{c} }))
}

// parts is what a command that converges needs, built once.
type parts struct {
	cfg     *config.Config
	log     *zap.Logger
	docker  *runtime.Docker
	swarm   *swarm.Engine // for the sources with runtime: swarm (swarm.go)
	ledger  *ledger.Ledger
	sources []*controller.Controller
	lock    *controller.Lock
	// metrics is what GET /metrics serves.
	metrics *prometheus.Registry
	// forges post the sources' commit statuses.
	forges []*forge.Reporter
}

func (p *parts) close() {
	closeReporters(p.forges)
	if p.ledger != nil {
		p.ledger.Close()
	}
	if p.docker != nil {
		p.docker.Close()
	}
	if p.swarm != nil {
		p.swarm.Close()
	}
	if p.lock != nil {
		p.lock.Release()
	}
	if p.log != nil {
		p.log.Sync()
	}
}

// build wires the parts. lock takes the state dir for this process;
// withLedger opens the ledger.
func (c *common) build(ctx context.Context, withSchedule, lock, withLedger bool) (*parts, error) {
	cfg, err := c.sources(withSchedule)
	if err != nil {
		return nil, err
	}
	p := &parts{cfg: cfg}
	if p.log, err = c.logger(cfg); err != nil {
		return nil, err
	}
	routeLogrus(p.log)
	was, err := controller.PrepareStateDir(cfg.StateDir)
	if err != nil {
		p.close()
		return nil, err
	}
	if was != 0 {
		p.log.Warn("the state dir was open to other users: made it private (0700)",
			zap.String("state_dir", cfg.StateDir), zap.String("was", fmt.Sprintf("%#o", was)))
	}
	if lock {
		if p.lock, err = controller.AcquireLock(cfg.StateDir); err != nil {
			p.close()
			return nil, err
		}
	}
	if withLedger {
		if p.ledger, err = ledger.Open(filepath.Join(cfg.StateDir, "ledger.jsonl")); err != nil {
			p.close()
			return nil, err
		}
		log := p.log
		p.ledger.OnDamage(func(c []ledger.Corrupt) { logCorrupt(log, p.ledger.Path(), c) })
	}
	if p.docker, err = runtime.NewDocker(ctx); err != nil {
		p.close()
		return nil, err
	}
	p.metrics = prometheus.NewRegistry()
	p.metrics.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	metrics := controller.NewMetrics(p.metrics)
	forgeMetrics := forge.NewMetrics(p.metrics)
	for _, s := range cfg.Sources {
		ctl := controller.New(s, cfg.StateDir, p.docker, p.ledger, p.log)
		ctl.Metrics = metrics
		ctl.SecretsDir = cfg.SecretsDir
		ctl.Host = cfg.Host
		if ctl.Swarm, err = p.swarmFor(ctx, s); err != nil {
			p.close()
			return nil, err
		}
		ctl.Executor.Step = stepHook
		if r := reportCommitStatus(ctl, forgeMetrics, p.log); r != nil {
			p.forges = append(p.forges, r)
		}
		p.sources = append(p.sources, ctl)
	}
	return p, nil
}

// logCorrupt says once, when the ledger is first read, which of its lines
// are not records: they are skipped, and left in the file for the operator.
func logCorrupt(log *zap.Logger, path string, corrupt []ledger.Corrupt) {
	var lines []string
	for _, c := range corrupt[:min(len(corrupt), 10)] {
		lines = append(lines, c.String())
	}
	log.Warn("ledger lines that are not records are skipped and left in the file",
		zap.String("ledger", path), zap.Int("count", len(corrupt)), zap.Strings("lines", lines))
}

var _ reconcile.Runtime = (*runtime.Docker)(nil)

// keyValues is a repeatable KEY=VALUE flag.
type keyValues struct{ m map[string]string }

func (k *keyValues) String() string { return "" }
func (k *keyValues) Set(v string) error {
	key, val, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[key] = val
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// stepHook is called after every step the executor completes. Production
// builds leave it nil; the crash-safety tests build moor with the tag
// moorcrash, whose crashhook.go sets it.
var stepHook func(op reconcile.Op, step int)

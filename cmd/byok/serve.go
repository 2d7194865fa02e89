package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/cluster"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/rootseal"
	"github.com/byok-dev/byok/internal/server"
	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/store/sqlstore"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
	"github.com/byok-dev/byok/kms/localkms"
)

const serveUsage = "byok serve --config byok.yaml"

// serveConfig is the byok.yaml of `byok serve` (docs/api.md shows one).
// It holds no secret: AWS credentials come from the SDK's default chain
// (environment, shared files, instance role), the root key from its own file.
type serveConfig struct {
	Listen string `yaml:"listen"`
	TLS    struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Database struct {
		SQLite   string `yaml:"sqlite"`
		Postgres string `yaml:"postgres"`
	} `yaml:"database"`
	// Platform is the platform configuration file (internal/platform format).
	Platform string `yaml:"platform_config"`
	// RootKeyFile is the platform root key (byok keygen), which keeps the keys
	// of tenants that have not brought their own; optional.
	RootKeyFile string `yaml:"root_key_file"`
	// Region is the hosting region this instance serves; default the first
	// region of the platform configuration.
	Region string `yaml:"region"`
	AWS    struct {
		// Endpoint, when set, serves KMS and STS in every region (the
		// emulator: byok kms-emulator).
		Endpoint string `yaml:"endpoint"`
		// EmulatorClock makes the service's clock follow the emulator's at
		// Endpoint, which /_awsemu/clock/advance moves forward.
		EmulatorClock bool `yaml:"emulator_clock"`
	} `yaml:"aws"`
	LogLevel string `yaml:"log_level"`
	// Monitor tunes the key health monitor's probes and tenant timers.
	Monitor monitorConfig `yaml:"monitor"`
	// Rotation schedules rotations of tenant key versions.
	Rotation rotationConfig `yaml:"rotation"`
	// Keyring tunes the tenant key cache and the per-tenant KMS budgets.
	Keyring keyringConfig `yaml:"keyring"`
	// Shred says where the tenants' shred keys are kept.
	Shred shredConfig `yaml:"shred"`
	// Webhooks tunes the delivery of the monitor's events.
	Webhooks struct {
		// AllowHTTP accepts plain http:// webhook URLs, for receivers on a
		// development machine; otherwise only https:// ones.
		AllowHTTP bool `yaml:"allow_http"`
		// AllowPrivateNetworks lets deliveries reach loopback, private and
		// link-local addresses, for development and for platforms whose
		// receivers are internal; otherwise a subscriber could aim the
		// platform at its own network.
		AllowPrivateNetworks bool `yaml:"allow_private_networks"`
	} `yaml:"webhooks"`
	Limits struct {
		MaxBody       int64         `yaml:"max_body"`
		MaxDataBody   int64         `yaml:"max_data_body"`
		MaxBatch      int           `yaml:"max_batch"`
		Timeout       time.Duration `yaml:"timeout"`
		StreamTimeout time.Duration `yaml:"stream_timeout"`
		HeaderTimeout time.Duration `yaml:"header_timeout"`
		BodyTimeout   time.Duration `yaml:"body_timeout"`
		IdleTimeout   time.Duration `yaml:"idle_timeout"`
		StreamMinRate int64         `yaml:"stream_min_rate"`
	} `yaml:"limits"`
}

func loadServeConfig(path string) (*serveConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHint(exitError, err, "pass the service's YAML file with --config")
	}
	var cfg serveConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, withHint(exitError, fmt.Errorf("%s: %w", path, err), "docs/api.md documents byok.yaml")
	}
	return &cfg, cfg.check()
}

func (c *serveConfig) check() error {
	switch {
	case c.Listen == "":
		return errors.New("byok.yaml: listen is required, e.g. listen: 127.0.0.1:8443")
	case (c.Database.SQLite == "") == (c.Database.Postgres == ""):
		return errors.New("byok.yaml: set exactly one of database.sqlite and database.postgres")
	case c.Platform == "":
		return errors.New("byok.yaml: platform_config is required")
	case (c.TLS.Cert == "") != (c.TLS.Key == ""):
		return errors.New("byok.yaml: tls.cert and tls.key go together")
	case c.AWS.EmulatorClock && c.AWS.Endpoint == "":
		return configErr("aws.emulator_clock", "set without aws.endpoint", "set aws.endpoint to the AWS emulator (byok kms-emulator); AWS itself has no clock to follow")
	}
	for _, err := range []error{c.Monitor.check(), c.Rotation.check(), c.Keyring.check(), c.checkShred()} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *serveConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if c.LogLevel != "" {
		if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
			return nil, fmt.Errorf("byok.yaml: log_level: %w", err)
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// serveStore is what serve needs of a database: both stores implement it.
type serveStore interface {
	store.Store
	store.AuditStore
	auth.TokenStore
	// The shred layer (internal/store/sqlstore).
	SetSealer(x sqlstore.Sealer)
	HasSealed(ctx context.Context) (bool, error)
	SealLegacy(ctx context.Context) (int, error)
}

var (
	_ serveStore = (*sqlite.Store)(nil)
	_ serveStore = (*postgres.Store)(nil)
)

func openServeStore(ctx context.Context, c *serveConfig) (serveStore, error) {
	return openServeStoreLog(ctx, c, nil)
}

// openServeStoreLog opens the database with log receiving the store's
// warnings (a SQLite file others may read); nil means slog.Default().
func openServeStoreLog(ctx context.Context, c *serveConfig, log *slog.Logger) (serveStore, error) {
	if c.Database.SQLite != "" {
		return sqlite.Open(ctx, sqlite.Config{Path: c.Database.SQLite, Logger: log})
	}
	return postgres.Open(ctx, postgres.Config{URL: c.Database.Postgres})
}

// runServe runs the HTTP API until ctx is canceled (SIGINT, SIGTERM), then
// shuts down gracefully. It logs no token: the first owner token comes from
// 'byok token bootstrap' on the same database.
func runServe(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "serve", serveUsage)
	path := fs.String("config", "", "the service's YAML `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		return usageErr("--config is required and takes no arguments")
	}
	cfg, err := loadServeConfig(*path)
	if err != nil {
		return err
	}
	// A busy port is found before the database is opened or migrated.
	if _, err := portFree(cfg.Listen, "set listen in byok.yaml"); err != nil {
		return err
	}
	log, err := cfg.logger(c.stderr)
	if err != nil {
		return err
	}
	st, err := openServeStoreLog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return serve(ctx, c, cfg, st, auth.NewTokens(st, nil))
}

func serve(ctx context.Context, c *cli, cfg *serveConfig, st serveStore, tokens *auth.Tokens) error {
	log, err := cfg.logger(c.stderr)
	if err != nil {
		return err
	}
	pcfg, err := platform.Load(cfg.Platform, os.Environ())
	if err != nil {
		return withHint(exitError, err, "docs/configuration.md documents the platform configuration")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bus, err := newBroadcaster(ctx, cfg)
	if err != nil {
		return err
	}
	defer bus.close()
	w, err := wire(ctx, cfg, pcfg, st, reg, bus)
	if err != nil {
		return err
	}
	if w.shred != nil {
		log.Info("shred layer", "keystore", w.shred.Dir(), "sealed_legacy_wrappings", w.sealedLegacy)
	}
	bus.attach(w.keyring, log)
	bus.attachTokens(tokens, log)
	if w.audit == nil {
		log.Warn("audit log off: it is keyed from the platform root key, and byok.yaml names no root_key_file")
	}
	hooks, err := monitor.NewWebhooks(monitor.WebhookConfig{Store: st, AllowHTTP: cfg.Webhooks.AllowHTTP,
		AllowPrivateNetworks: cfg.Webhooks.AllowPrivateNetworks, Secrets: w.webhookSecrets, Logger: log})
	if err != nil {
		return err
	}
	if err := sealWebhookSecrets(ctx, st, hooks, w.webhookSecrets != nil, log); err != nil {
		return err
	}
	// Each region's instances elect their own monitor leader: only they can
	// probe that region's keys with that region's account. Scheduled
	// rotation covers every tenant, so one instance of all leads it.
	probeLead, resignProbes := backgroundLeader(cfg, cluster.MonitorLock(w.region), log)
	defer resignProbes()
	rotationLead, resignRotation := backgroundLeader(cfg, cluster.LockRotation, log)
	defer resignRotation()
	mc := monitor.Config{Store: st, Keyring: w.keyring, Tenants: w.tenants, Providers: w.providers, Notifier: hooks, Logger: log,
		Region: w.region, DeletionWarnings: monitor.DeletionWarnings(&pcfg.Policy), Now: w.now()}
	cfg.Monitor.apply(&mc, probeLead)
	mon, err := monitor.New(mc)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{Control: w.control, Keyring: w.keyring, Store: st, Auth: tokens, Webhooks: hooks, Monitor: mon,
		Audit: w.auditSink(), Attribute: audit.WithActor, Logger: log, Registry: reg, Addr: cfg.Listen, TLSCert: cfg.TLS.Cert, TLSKey: cfg.TLS.Key,
		MaxBody: cfg.Limits.MaxBody, MaxDataBody: cfg.Limits.MaxDataBody, MaxBatch: cfg.Limits.MaxBatch,
		Timeout: cfg.Limits.Timeout, StreamTimeout: cfg.Limits.StreamTimeout, Region: w.region,
		HeaderTimeout: cfg.Limits.HeaderTimeout, BodyTimeout: cfg.Limits.BodyTimeout, IdleTimeout: cfg.Limits.IdleTimeout,
		StreamMinRate: cfg.Limits.StreamMinRate})
	if err != nil {
		return err
	}
	jobs := background{"monitor": mon.Run, "webhooks": hooks.Run, "audit": w.runAudit}
	if rotate := cfg.Rotation.job(w.control, rotationLead, w.auditSink(), log); rotate != nil {
		jobs["rotation"] = rotate
	}
	if w.clock != nil {
		jobs["emulator clock"] = func(ctx context.Context) error { return w.clock.run(ctx, log) }
	}
	log.Info("serving", "listen", cfg.Listen, "tls", cfg.TLS.Cert != "", "region", w.region,
		"rotation_period", cfg.Rotation.Period.String(), "emulator_clock", w.clock != nil)
	return runUntilDone(ctx, log, srv, jobs)
}

// sealWebhookSecrets seals the webhook secrets stored in clear before
// this release, or by an instance without a root key; without a root key
// it says that secrets stay in clear. On SQLite the WAL is then
// checkpointed, so that the file no longer holds the clear secrets' pages.
func sealWebhookSecrets(ctx context.Context, st serveStore, hooks *monitor.Webhooks, sealing bool, log *slog.Logger) error {
	if !sealing {
		log.Warn("webhook signing secrets are stored in clear: they are sealed under the platform root key, and byok.yaml names no root_key_file")
		return nil
	}
	n, err := hooks.SealStoredSecrets(ctx)
	if n > 0 {
		log.Info("webhook signing secrets stored in clear are now sealed under the root key", "count", n)
	}
	if err != nil || n == 0 {
		return err
	}
	if r, ok := st.(interface{ ReclaimDeleted(context.Context) error }); ok {
		if err := r.ReclaimDeleted(ctx); err != nil {
			log.Warn("the database file may still hold the clear webhook secrets until SQLite checkpoints its WAL", "err", err)
		}
	}
	return nil
}

// background jobs run beside the server, each until its context ends.
type background map[string]func(context.Context) error

// runUntilDone serves the API and runs the background jobs (the key health
// monitor, which suspends tenants whose key is gone and evicts their keys;
// the webhook deliveries of its events; the audit log's per-minute flushes)
// until ctx is canceled or the server fails; then it waits for every job to
// stop, so the audit log's last counts are written and the delivery
// attempts under way are recorded.
func runUntilDone(ctx context.Context, log *slog.Logger, srv *server.Server, jobs background) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for name, run := range jobs {
		wg.Go(func() {
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background job stopped", "job", name, "error", err.Error())
			}
		})
	}
	err := srv.ListenAndServe(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// wired holds what serve builds from the configuration.
type wired struct {
	keyring   *keyring.Keyring
	tenants   *tenant.Manager
	providers map[string]kms.Provider
	control   *control.Service
	region    string
	// audit is the hash-chained audit log; nil without a root key to key it.
	audit *audit.Log
	// webhookSecrets seals webhook signing secrets; nil without a root key.
	webhookSecrets *rootseal.Sealer
	// clock, when set, is the AWS emulator's (aws.emulator_clock).
	clock *emulatorClock
	// shred is the keystore of the tenants' shred keys; nil without a
	// root key. sealedLegacy counts the wrappings sealed at this start.
	shred        *shred.Keystore
	sealedLegacy int
}

// now is the clock of the monitor, the control plane and the keyring: nil
// (the system's) unless the service follows the emulator's.
func (w *wired) now() func() time.Time {
	if w.clock == nil {
		return nil
	}
	return w.clock.Now
}

func (w *wired) auditSink() audit.Sink {
	if w.audit == nil {
		return audit.Discard
	}
	return w.audit
}

func (w *wired) runAudit(ctx context.Context) error {
	if w.audit == nil {
		return nil
	}
	return w.audit.Run(ctx)
}

// wire builds the service's parts; bus, when not nil, broadcasts the
// keyring's evictions to the other instances.
func wire(ctx context.Context, cfg *serveConfig, pcfg *platform.Config, st serveStore, reg prometheus.Registerer, bus *broadcaster) (*wired, error) {
	awsCfg, err := awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	metrics, err := server.NewKMSMetrics(reg)
	if err != nil {
		return nil, err
	}
	root, err := loadRoot(cfg.RootKeyFile)
	if err != nil {
		return nil, err
	}
	w := &wired{region: cfg.Region}
	if w.shred, w.sealedLegacy, err = openShred(ctx, cfg, st, root); err != nil {
		return nil, err
	}
	if cfg.AWS.EmulatorClock {
		if w.clock, err = newEmulatorClock(ctx, cfg.AWS.Endpoint); err != nil {
			return nil, err
		}
	}
	if w.audit, err = openAudit(st, root); err != nil {
		return nil, err
	}
	if w.providers, err = providers(ctx, awsCfg, root, metrics, w.auditSink()); err != nil {
		return nil, err
	}
	if w.region == "" {
		w.region = pcfg.RegionNames()[0]
	}
	// One tenant manager serves the control plane, the data path's state
	// checks and the keyring's region gate, so a request reads its tenant
	// once per cache window.
	w.tenants = tenant.NewManager(st, 0)
	kc := keyring.Config{Providers: w.providers, Store: st, Region: w.region,
		Admit: control.RegionGate(w.tenants, w.region), Evicted: bus.announce, Now: w.now()}
	cfg.Keyring.apply(&kc)
	if w.keyring, err = keyring.New(kc); err != nil {
		return nil, err
	}
	ccfg := control.Config{Platform: pcfg, Store: st, Keyring: w.keyring, Tenants: w.tenants, RotationPeriod: cfg.Rotation.Period, Now: w.now(),
		Validator: &onboarding.Validator{Config: pcfg, AWS: awsCfg, CallTimeout: 10 * time.Second}, Providers: w.providers}
	if w.shred != nil {
		ccfg.Shred = w.shred
	}
	if root != nil {
		if w.webhookSecrets, err = monitor.NewSecretSealer(root.file); err != nil {
			return nil, err
		}
		ccfg.PlatformKey = root.provider.KeyRef()
		if ccfg.Receipts, err = control.NewReceiptSigner(root.latest); err != nil {
			return nil, err
		}
		if ccfg.ReceiptKeys, err = root.receiptKeys(); err != nil {
			return nil, err
		}
	}
	w.control, err = control.New(ccfg)
	return w, err
}

// rootKey is the platform root key: its provider, its newest version (from
// which deletion receipts' signing key is derived) and its file (from which
// the audit key is).
type rootKey struct {
	provider *localkms.Provider
	latest   *envelope.TenantKey
	file     *keyfile.File
}

// integrityKey keys the identity tags of RSA wrappings (kms/awskms). It is
// derived from the oldest root key version, like the audit key, because
// changing it would invalidate every RSA wrapping: adding a version to the
// root key file must not. Without a root key, RSA keys are refused.
func (r *rootKey) integrityKey() ([]byte, error) {
	if r == nil || r.file == nil || len(r.file.Entries) == 0 {
		return nil, nil
	}
	material := r.file.Oldest().Key.Material()
	defer clear(material)
	return hkdf.Key(sha256.New, material, nil, "byok rsa binding tag v1", awskms.IntegrityKeySize)
}

// receiptKeys are the public keys of every root key version's receipt
// signer: receipts signed before a root key rotation keep verifying.
func (r *rootKey) receiptKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, e := range r.file.Entries {
		s, err := control.NewReceiptSigner(e.Key)
		if err != nil {
			return nil, err
		}
		keys = append(keys, s.PublicKey())
	}
	return keys, nil
}

func openAudit(st serveStore, root *rootKey) (*audit.Log, error) {
	if root == nil {
		return nil, nil
	}
	key, err := audit.KeyFromRootFile(root.file)
	if err != nil {
		return nil, err
	}
	return audit.New(audit.Config{Store: st, Key: key})
}

func awsConfig(ctx context.Context, cfg *serveConfig) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.AWS.Endpoint != "" {
		awsCfg.BaseEndpoint = aws.String(cfg.AWS.Endpoint)
	}
	return awsCfg, nil
}

// providers returns AWS KMS and, with a root key, the platform key provider,
// each counted by the KMS metrics and recorded in the audit log.
func providers(ctx context.Context, awsCfg aws.Config, root *rootKey, m *server.KMSMetrics, sink audit.Sink) (map[string]kms.Provider, error) {
	integrity, err := root.integrityKey()
	if err != nil {
		return nil, err
	}
	aws, err := awskms.New(ctx, awskms.Config{AWS: awsCfg, IntegrityKey: integrity})
	if err != nil {
		return nil, err
	}
	out := map[string]kms.Provider{awskms.ProviderName: aws}
	if root != nil {
		out[localkms.ProviderName] = root.provider
	}
	for name, p := range out {
		out[name] = audit.Provider(m.Instrument(name, p), sink, "system:keyring")
	}
	return out, nil
}

// loadRoot reads the platform root key file; no path means no root key.
func loadRoot(path string) (*rootKey, error) {
	if path == "" {
		return nil, nil
	}
	b, err := localkms.ReadKeyFile(path)
	if err != nil {
		return nil, withHint(exitKeyFile, err, "create one with 'byok keygen' and keep it readable by its owner only")
	}
	f, err := keyfile.Parse(b)
	if err != nil {
		return nil, withHint(exitKeyFile, err, "root_key_file must be a byok key file")
	}
	p, err := localkms.New(f)
	if err != nil {
		return nil, err
	}
	return &rootKey{provider: p, latest: f.Latest().Key, file: f}, nil
}

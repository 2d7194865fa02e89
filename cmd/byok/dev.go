package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/tenant"
)

const devUsage = "byok dev [--dir ./byok-data] [--listen 127.0.0.1:8080] [--emulator 127.0.0.1:4566]"

// The demo world: the platform's AWS account, and one customer account with
// two multi-Region keys (home eu-west-1, replica eu-central-1) whose policy
// is the one byok's onboarding generates for tenant "demo": the demo
// tenant's key, and a spare one to try a key change with.
const (
	devPlatformAccount = "111111111111"
	devCustomerAccount = "222222222222"
	devRegion          = "eu-west-1"
	devReplica         = "eu-central-1"
	devKeyID           = "mrk-0d0e0f00112233445566778899aabbcc"
	devSpareKeyID      = "mrk-1d1e1f00112233445566778899aabbcc"
	devTenant          = "demo"
	devAccessKey       = "AKIABYOKDEVPLATFORM1"
	devSecretKey       = "byok-dev-platform-secret"
)

var (
	devKeyARN      = devARN(devKeyID)
	devSpareKeyARN = devARN(devSpareKeyID)
)

func devARN(keyID string) string {
	return "arn:aws:kms:" + devRegion + ":" + devCustomerAccount + ":key/" + keyID
}

const devPlatformConfig = `# byok dev: one hosting region; the demo customer's key must be multi-Region
# with a replica in eu-central-1.
regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
    replica_regions: [eu-central-1]
policy:
  require_multi_region: true
  alias_arns: reject
  key_binding: changeable
`

// devFiles are the files byok dev keeps in its data folder besides the
// database, whose own files the store keeps private.
var devFiles = []string{"root.key", devTokenFile, "platform.yaml", devEmulatorState}

// devEmulatorState keeps the emulator's keys and clock between runs.
const devEmulatorState = "emulator-state.json"

// devFlags are byok dev's options.
type devFlags struct{ dir, listen, emulator string }

// runDev runs the whole service on embedded defaults: SQLite under --dir, the
// AWS emulator in-process with a demo customer, and a demo tenant whose
// multi-Region key is already enabled. Everything persists in --dir, so a
// second run resumes where the first stopped.
func runDev(ctx context.Context, c *cli, args []string) error {
	f, err := parseDevFlags(c, args)
	if err != nil {
		return err
	}
	// Before anything is created or printed: a banner and a token for a
	// server that cannot start would mislead.
	if f.listen, err = portFree(f.listen, "pass --listen"); err != nil {
		return err
	}
	// byok dev's log, until serve builds its own the same way.
	log := slog.New(slog.NewJSONHandler(c.stderr, nil))
	if err := privateDir(f.dir, devFiles, log); err != nil {
		return err
	}
	emuURL, stopEmu, err := startDevEmulatorBeside(f)
	if err != nil {
		return err
	}
	defer stopEmu()
	cfg, err := devServeConfig(f, emuURL)
	if err != nil {
		return err
	}
	st, err := openServeStoreLog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	tokens := auth.NewTokens(st, nil)
	tokenPath := filepath.Join(f.dir, devTokenFile)
	token, err := devToken(ctx, tokens, st, tokenPath)
	if err != nil {
		return err
	}
	if err := devTenantReady(ctx, cfg, st); err != nil {
		return err
	}
	printDevBanner(c.stdout, devBanner{api: devAPIURL(cfg.Listen), emu: emuURL, token: token, tokenPath: tokenPath,
		probes: devProbes(cfg)})
	return serve(ctx, c, cfg, st, tokens)
}

// portFree reports a listen address that is taken, or that this machine
// cannot listen on, with what to do about it (fix: "pass --listen",
// "set listen in byok.yaml"). It returns the address with the port the
// system chose for port 0, which the banner can then name.
func portFree(addr, fix string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", listenErr(err, addr, fix)
	}
	free := ln.Addr().String()
	return free, ln.Close()
}

func listenErr(err error, addr, fix string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return withHint(exitError, err, "another program (another byok?) uses "+addr+"; stop it, or "+fix+" with a free address")
	}
	return withHint(exitError, err, fix+" with an address of this machine, e.g. 127.0.0.1:0 for any free port")
}

// devAPIURL is the URL a client on this machine reaches the API at: an
// address without a host, or with an unspecified one, listens on loopback too.
func devAPIURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func parseDevFlags(c *cli, args []string) (*devFlags, error) {
	fs := newFlags(c, "dev", devUsage)
	f := &devFlags{}
	fs.StringVar(&f.dir, "dir", "byok-data", "where the database, keys and emulator state live")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "the API's `address`")
	fs.StringVar(&f.emulator, "emulator", "127.0.0.1:4566", "the AWS emulator's `address`")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageErr("byok dev takes no arguments")
	}
	return f, nil
}

// startDevEmulatorBeside starts the emulator and checks again that the API's
// address is free, in case the emulator was given it.
func startDevEmulatorBeside(f *devFlags) (string, func(), error) {
	emuURL, stop, err := startDevEmulator(f)
	if err != nil {
		return "", nil, err
	}
	if emuURL == "http://"+f.listen {
		err = usageErr("--listen and --emulator both name %s: give each its own address", f.listen)
	} else {
		_, err = portFree(f.listen, "pass --listen")
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	return emuURL, stop, nil
}

// startDevEmulator serves the demo world with its state in dir, and points
// the AWS SDK's default credential chain at the platform's demo user.
func startDevEmulator(f *devFlags) (string, func(), error) {
	world, err := devWorld()
	if err != nil {
		return "", nil, err
	}
	emu, err := awsemu.New(world)
	if err != nil {
		return "", nil, err
	}
	if err := emu.SetStateFile(filepath.Join(f.dir, devEmulatorState)); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", f.emulator)
	if err != nil {
		return "", nil, listenErr(err, f.emulator, "pass --emulator")
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": devAccessKey, "AWS_SECRET_ACCESS_KEY": devSecretKey,
		"AWS_REGION": devRegion, "AWS_SESSION_TOKEN": ""} {
		os.Setenv(k, v)
	}
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// devKeyTenants are the tenants the demo keys' policies let the platform
// use them for: the demo tenant, the tenant of the CLI walkthrough
// (docs/cli.md) and those of the CLI scripts. A generated key policy binds
// the platform's use of a key to one tenant (kms:EncryptionContext:byok:tenant),
// so attaching a demo key to any other tenant fails validation, as
// attaching another customer's key would.
var devKeyTenants = []string{devTenant, "acme", "keyc", "life"}

func devWorld() (*awsemu.World, error) {
	pcfg, err := platform.Parse(strings.NewReader(devPlatformConfig), nil)
	if err != nil {
		return nil, err
	}
	var keys []awsemu.Key
	for _, k := range []struct{ id, arn, what string }{
		{devKeyID, devKeyARN, "demo customer key for byok"},
		{devSpareKeyID, devSpareKeyARN, "spare demo customer key, to try byok key change"},
	} {
		m, err := onboarding.NewModel(pcfg, onboarding.Request{TenantID: devTenant, Region: devRegion,
			Pattern: platform.Direct, KeyARN: k.arn})
		if err != nil {
			return nil, err
		}
		policy := m.KeyPolicy().ForTenants(devKeyTenants...)
		keys = append(keys, awsemu.Key{ID: k.id, Region: devRegion, MultiRegion: true,
			Replicas: []string{devReplica}, Rotation: true, Policy: string(policy.JSON()), Description: k.what})
	}
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	return &awsemu.World{
		Regions: []string{devRegion, devReplica},
		Accounts: []awsemu.Account{
			{ID: devPlatformAccount, Users: []awsemu.User{{Name: "platform", AccessKeyID: devAccessKey,
				SecretAccessKey: devSecretKey, Policies: map[string]string{"byok": all}}}},
			{ID: devCustomerAccount, Keys: keys},
		},
	}, nil
}

// devServeConfig writes the platform configuration and the root key into
// dir, once, and returns the service configuration over them.
func devServeConfig(f *devFlags, emuURL string) (*serveConfig, error) {
	platformPath := filepath.Join(f.dir, "platform.yaml")
	if err := writeIfMissing(platformPath, []byte(devPlatformConfig), 0o600); err != nil {
		return nil, err
	}
	rootPath := filepath.Join(f.dir, "root.key")
	if err := devRootKey(rootPath); err != nil {
		return nil, err
	}
	cfg := &serveConfig{Listen: f.listen, Platform: platformPath, RootKeyFile: rootPath, Region: devRegion}
	cfg.Database.SQLite = filepath.Join(f.dir, "byok.db")
	cfg.Shred.Keystore = filepath.Join(f.dir, "shred-keys")
	cfg.AWS.Endpoint = emuURL
	// The monitor, scheduled rotation and the key cache follow the
	// emulator's clock, so advancing it (/_awsemu/clock/advance) shows a
	// tenant suspended after 4 h or archived after 7 days at once.
	cfg.AWS.EmulatorClock = true
	// Probe often, so that disabling the demo key shows within seconds.
	cfg.Monitor.Interval, cfg.Monitor.Jitter = 5*time.Second, time.Second
	// Rotate as a platform might, every 90 days of the emulator's clock.
	cfg.Rotation.Period, cfg.Rotation.CheckEvery = 90*24*time.Hour, 10*time.Second
	// Webhook receivers tried out locally rarely have TLS.
	cfg.Webhooks.AllowHTTP = true
	cfg.Webhooks.AllowPrivateNetworks = true // and they listen on this machine
	return cfg, cfg.check()
}

func writeIfMissing(path string, b []byte, mode os.FileMode) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func devRootKey(path string) error {
	k, err := envelope.GenerateTenantKey("platform-root", 1, nil)
	if err != nil {
		return err
	}
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Now().UTC().Truncate(time.Second)}); err != nil {
		return err
	}
	b, err := keyfile.Marshal(f)
	if err != nil {
		return err
	}
	return writeIfMissing(path, b, 0o600)
}

// devTokenFile, in the data folder, keeps byok dev's owner token between
// runs, so that a restart does not issue another 90-day owner token and the
// BYOK_TOKEN exported for the last run stays good. The folder is the
// database's: whoever can read it owns the service anyway.
const devTokenFile = "dev-token"

// devTokenMinLife is how long a kept token must still live to be reused.
const devTokenMinLife = 24 * time.Hour

// devToken returns the owner token a previous run kept in path while it
// still authenticates as an owner for another day, and otherwise a new one,
// which it keeps there.
func devToken(ctx context.Context, tokens *auth.Tokens, st auth.TokenStore, path string) (string, error) {
	if tok, ok := keptDevToken(ctx, tokens, st, path); ok {
		return tok, nil
	}
	tok, err := newDevToken(ctx, tokens)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("keep the owner token: %w", err)
	}
	return tok, nil
}

// keptDevToken reads the kept token; a missing, revoked, expiring or
// altered one is not reused (a fresh one replaces it).
func keptDevToken(ctx context.Context, tokens *auth.Tokens, st auth.TokenStore, path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	tok := strings.TrimSpace(string(b))
	p, err := tokens.Authenticate(ctx, tok)
	if err != nil || p.Role != auth.RoleOwner {
		return "", false
	}
	rec, err := st.GetToken(ctx, p.TokenID)
	if err != nil || time.Until(rec.ExpiresAt) < devTokenMinLife {
		return "", false
	}
	return tok, true
}

// newDevToken issues a platform-wide owner token: the first one comes from
// bootstrap; later ones are issued under a local owner principal, since
// whoever runs byok dev owns its database.
func newDevToken(ctx context.Context, tokens *auth.Tokens) (string, error) {
	tok, _, err := tokens.Bootstrap(ctx, "byok dev")
	if err == nil {
		return tok, nil
	}
	if auth.Code(err) != "conflict" {
		return "", err
	}
	owner := &auth.Principal{Role: auth.RoleOwner, Name: "byok dev"}
	tok, _, err = tokens.Issue(ctx, owner, auth.IssueRequest{Role: auth.RoleOwner, Name: "byok dev"})
	return tok, err
}

// writeFileAtomic replaces path with b, mode 0600, so that a crash leaves
// the old file or the new one.
func writeFileAtomic(path string, b []byte) error {
	fh, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(fh.Name())
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return os.Rename(fh.Name(), path)
}

// devTenantReady creates, attaches and enables the demo tenant unless a
// previous run did.
func devTenantReady(ctx context.Context, cfg *serveConfig, st serveStore) error {
	pcfg, err := platform.Load(cfg.Platform, nil)
	if err != nil {
		return err
	}
	w, err := wire(ctx, cfg, pcfg, st, prometheus.NewRegistry(), nil)
	if err != nil {
		return err
	}
	t, err := w.control.Tenant(ctx, devTenant)
	if control.Code(err) == control.CodeNotFound {
		t, err = w.control.CreateTenant(ctx, control.CreateTenant{ID: devTenant, Name: "Demo customer"})
	}
	if err != nil || t.State != tenant.StatePending {
		return err
	}
	if _, err := w.control.AttachKey(ctx, control.Attach{Tenant: devTenant, Region: devRegion, KeyARN: devKeyARN}); err != nil {
		return err
	}
	if _, err := w.control.Enable(ctx, devTenant); err != nil {
		return fmt.Errorf("enable the demo tenant: %w", err)
	}
	return nil
}

// devProbeTiming is how byok dev's key health monitor probes: every
// interval, up to jitter later, and the revocation bound that follows.
type devProbeTiming struct{ interval, jitter, bound time.Duration }

// devProbes reads the monitor configuration serve builds from cfg.
func devProbes(cfg *serveConfig) devProbeTiming {
	var mc monitor.Config
	cfg.Monitor.apply(&mc, nil) // byok dev runs on SQLite: one instance, no leader to elect
	return devProbeTiming{interval: mc.Interval, jitter: mc.Jitter, bound: monitor.RevocationBound(mc)}
}

type devBanner struct {
	api, emu, token, tokenPath string
	probes                     devProbeTiming
}

func printDevBanner(w io.Writer, b devBanner) {
	fmt.Fprintf(w, `byok dev: the API is at %s (data in %s; stop with Ctrl-C)
byok dev: AWS emulator at %s; demo tenant %q uses customer key
  %s
byok dev: the key health monitor probes each tenant's key every %s (plus up to %s);
  a disabled or deleted key is refused within %s (the revocation bound)

For curl and the byok CLI, in your shell (the owner token stays in %s;
the next run reuses it while it is valid):
  export BYOK_URL=%s
  export BYOK_TOKEN=%s

Try:
  # 1. encrypt something for the demo tenant
  curl -s -X POST "$BYOK_URL/v1/tenants/%s/encrypt" -H "Authorization: Bearer $BYOK_TOKEN" -d '{"plaintext":"aGVsbG8sIGJ5b2s="}'
  # 2. the customer disables their key (in the emulator)
  curl -s -X POST %s/_awsemu/keys/disable -d '{"key_arn":"%s"}'
  # 3. run 1 again: within %s it is refused with key_disabled, and 'byok status %s'
  #    shows the tenant key_unavailable (enable the key again with keys/enable)

`, b.api, filepath.Dir(b.tokenPath), b.emu, devTenant, devKeyARN, b.probes.interval, b.probes.jitter, b.probes.bound,
		b.tokenPath, b.api, b.token, devTenant, b.emu, devKeyARN, b.probes.bound, devTenant)
}

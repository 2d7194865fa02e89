package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/keyfile"
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
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	emuURL, stopEmu, err := startDevEmulator(f)
	if err != nil {
		return err
	}
	defer stopEmu()
	cfg, err := devServeConfig(f, emuURL)
	if err != nil {
		return err
	}
	st, err := openServeStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tokens := auth.NewTokens(st, nil)
	token, err := devToken(ctx, tokens)
	if err != nil {
		return err
	}
	if err := devTenantReady(ctx, cfg, st); err != nil {
		return err
	}
	printDevBanner(c.stdout, cfg.Listen, emuURL, token)
	return serve(ctx, c, cfg, st, tokens)
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
	if err := emu.SetStateFile(filepath.Join(f.dir, "emulator-state.json")); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", f.emulator)
	if err != nil {
		return "", nil, withHint(exitError, err, "another program uses "+f.emulator+"; pass --emulator with a free address")
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

// devToken returns a fresh platform-wide owner token: the first one comes
// from bootstrap; later runs issue another under a local owner principal,
// since whoever runs byok dev owns its database.
func devToken(ctx context.Context, tokens *auth.Tokens) (string, error) {
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

func printDevBanner(w io.Writer, listen, emuURL, token string) {
	api := "http://" + listen
	fmt.Fprintf(w, `byok dev: the API is at %s (data in the --dir folder; stop with Ctrl-C)
byok dev: AWS emulator at %s; demo tenant %q uses customer key
  %s

An owner token (shown once):
  export BYOK_TOKEN=%s

Try:
  # 1. encrypt something for the demo tenant
  curl -s -X POST %s/v1/tenants/%s/encrypt -H "Authorization: Bearer $BYOK_TOKEN" -d '{"plaintext":"aGVsbG8sIGJ5b2s="}'
  # 2. the customer disables their key (in the emulator)
  curl -s -X POST %s/_awsemu/keys/disable -d '{"key_arn":"%s"}'
  # 3. run 1 again: within ~10 s it is refused with key_disabled (enable the key again with keys/enable)

`, api, emuURL, devTenant, devKeyARN, token, api, devTenant, emuURL, devKeyARN)
}

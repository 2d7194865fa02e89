package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/store"
)

// TestServeWebhookSecretsAtRest: byok serve with a root key seals, at
// start, a webhook secret an older release stored in clear, and seals the
// secret of a webhook created through the API; neither secret is in the
// database file or its WAL, and deliveries to both still verify with the
// secrets their receivers hold (the new one also with byok webhook verify).
func TestServeWebhookSecretsAtRest(t *testing.T) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": devAccessKey, "AWS_SECRET_ACCESS_KEY": devSecretKey, "AWS_REGION": devRegion, "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	f := &devFlags{dir: dir, listen: freeAddr(t), emulator: freeAddr(t)}
	emuURL, stopEmu, err := startDevEmulator(f)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEmu()
	cfgPath, db := demoServeConfig(t, f, emuURL)
	logAtInfo(t, cfgPath)
	legacy := &signedReceiver{secret: make([]byte, 32)}
	rand.Read(legacy.secret)
	legacySrv := httptest.NewServer(legacy)
	defer legacySrv.Close()
	storeClearWebhook(t, db, &store.Webhook{ID: "legacy", Tenant: devTenant, URL: legacySrv.URL + "/byok", Secret: legacy.secret})

	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	api, _ := client.New(client.Config{URL: "http://" + f.listen, Token: strings.TrimSpace(out.String())})
	ctx, stop := startServe(t, c, cfgPath, f.listen, &errs)
	if !strings.Contains(errs.String(), `"msg":"webhook signing secrets stored in clear are now sealed under the root key","count":1`) {
		t.Errorf("serve's log does not count the one secret it sealed:\n%s", errs.String())
	}
	rcv := &signedReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hook, err := api.CreateWebhook(ctx, devTenant, "sealed", srv.URL+"/byok")
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	rcv.mu.Lock()
	rcv.secret, err = hex.DecodeString(hook.Secret)
	rcv.mu.Unlock()
	if err != nil || len(rcv.secret) != 32 {
		t.Fatalf("secret %q: %v", hook.Secret, err)
	}
	disableDemoKey(t, emuURL)
	waitUnavailable(t, rcv)
	waitUnavailable(t, legacy)
	verifyWithCLI(t, rcv, hook.Secret)
	noSecretIn(t, []string{db, db + "-wal"}, rcv.secret, legacy.secret)
	stop()
	noSecretIn(t, []string{db}, rcv.secret, legacy.secret)
}

// logAtInfo makes the byok.yaml at path log at info, where serve counts
// the secrets it seals.
func logAtInfo(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("log_level: warn"), []byte("log_level: info"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// storeClearWebhook stores w with its secret in clear, as releases before
// sealing did.
func storeClearWebhook(t *testing.T, db string, w *store.Webhook) {
	t.Helper()
	st, err := openServeStore(context.Background(), sqliteConfig(db))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func sqliteConfig(db string) *serveConfig {
	cfg := &serveConfig{}
	cfg.Database.SQLite = db
	return cfg
}

func noSecretIn(t *testing.T, files []string, secrets ...[]byte) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) || bytes.Contains(b, []byte(hex.EncodeToString(s))) {
				t.Errorf("%s holds a webhook secret", f)
			}
		}
	}
}

// Without a root key, byok serve says at start that webhook secrets stay
// in clear, and stores them so: there is no key outside the database to
// seal them under.
func TestServeWithoutRootKeySecretsClear(t *testing.T) {
	dir := t.TempDir()
	addr, db := freeAddr(t), filepath.Join(dir, "byok.db")
	cfgPath := writeServeFiles(t, dir, addr, db, "http://127.0.0.1:1")
	b, _ := os.ReadFile(cfgPath)
	noRoot := regexp.MustCompile(`(?m)^root_key_file: .*\n`).ReplaceAll(b, nil)
	if err := os.WriteFile(cfgPath, noRoot, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: strings.TrimSpace(out.String())})
	ctx, stop := startServe(t, c, cfgPath, addr, &errs)
	if !strings.Contains(errs.String(), `"msg":"webhook signing secrets are stored in clear`) {
		t.Errorf("serve without a root key does not warn that webhook secrets stay in clear:\n%s", errs.String())
	}
	hook, err := api.CreateWebhook(ctx, "", "plain", "https://hooks.example.com/byok")
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	stop()
	secret, _ := hex.DecodeString(hook.Secret)
	st, err := openServeStore(context.Background(), sqliteConfig(db))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if w, err := st.Webhook(context.Background(), "", "plain"); err != nil || !bytes.Equal(w.Secret, secret) || w.SealedSecret != nil {
		t.Fatalf("stored webhook = %+v, %v; want its secret in clear", w, err)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/kms/localkms"
)

// kmsRecorder sits between byok serve and the emulator and keeps every
// ciphertext blob KMS returns and every plaintext that crosses: the
// tenant keys' wrappings and the tenant keys themselves, as the platform's
// KMS traffic carries them.
type kmsRecorder struct {
	URL        string
	mu         sync.Mutex
	blobs      [][]byte
	plaintexts [][]byte
}

func newKMSRecorder(t *testing.T, target string) *kmsRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &kmsRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		r.record(b)
		return err
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.record(b)
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// record keeps the blobs and plaintexts of a KMS JSON body.
func (r *kmsRecorder) record(body []byte) {
	var m struct {
		CiphertextBlob []byte
		Plaintext      []byte
	}
	if json.Unmarshal(body, &m) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(m.CiphertextBlob) > 0 {
		r.blobs = append(r.blobs, m.CiphertextBlob)
	}
	if len(m.Plaintext) > 0 {
		r.plaintexts = append(r.plaintexts, m.Plaintext)
	}
}

func (r *kmsRecorder) blobList() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.blobs...)
}

func (r *kmsRecorder) secrets() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]byte{}
	for i, b := range r.blobs {
		out[fmt.Sprintf("KMS ciphertext blob %d", i)] = b
	}
	for i, b := range r.plaintexts {
		out[fmt.Sprintf("KMS plaintext %d", i)] = b
	}
	return out
}

// shredWorld is one platform account and one customer with a symmetric
// key whose policy is the generated one.
func shredWorld(t *testing.T, keyARN string) *awsemu.World {
	t.Helper()
	pcfg, err := platform.Parse(strings.NewReader(shredPlatformYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onboarding.NewModel(pcfg, onboarding.Request{TenantID: "acme", Region: "eu-west-1", Pattern: platform.Direct, KeyARN: keyARN})
	if err != nil {
		t.Fatal(err)
	}
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	return &awsemu.World{Regions: []string{"eu-west-1"}, Accounts: []awsemu.Account{
		{ID: "111111111111", Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
			SecretAccessKey: "platform-secret", Policies: map[string]string{"byok": all}}}},
		{ID: "222222222222", Keys: []awsemu.Key{{ID: "0c0d0e0f-1111-2222-3333-444455556666", Region: "eu-west-1",
			Policy: string(m.KeyPolicy().JSON())}}},
	}}
}

const shredPlatformYAML = "regions:\n  - name: eu-west-1\n    platform_account_id: \"111111111111\"\n"

// TestOffboardShredsDatabaseCopies is the view of an attacker who copied
// the SQLite database (file and WAL) before offboarding and holds the
// platform's AWS credentials, while the customer's key still exists: no
// ciphertext in the copy decrypts under KMS; a byok serve on the copy,
// with the same root key and shred keystore, does not open the tenant's
// data; and after offboarding the live database file (free pages
// included) and its WAL hold no KMS blob, no tenant key and no shred key.
func TestOffboardShredsDatabaseCopies(t *testing.T) {
	dir := t.TempDir()
	keyARN := "arn:aws:kms:eu-west-1:222222222222:key/0c0d0e0f-1111-2222-3333-444455556666"
	emu := awsemu.NewTestServer(t, shredWorld(t, keyARN))
	rec := newKMSRecorder(t, emu.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	addr := freeAddr(t)
	db := filepath.Join(dir, "byok.db")
	cfgPath := writeServeFiles(t, dir, addr, db, rec.URL)
	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	token := strings.TrimSpace(out.String())
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: token})
	backup := filepath.Join(t.TempDir(), "backup")

	var sealed []byte
	var shredKey []byte
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		sealed = enableAndSeal(ctx, t, api, keyARN)
		shredKey = readShredKey(t, dir)
		copyDatabase(t, db, backup)
		sr, err := api.Offboard(ctx, "acme")
		if err != nil {
			t.Fatalf("Offboard: %v", err)
		}
		if !bytes.Contains(sr.Receipt, []byte(`"check":"platform_unwrap","outcome":"refused","code":"tenant_shredded"`)) {
			t.Errorf("receipt = %s, want the platform's unwrap refused", sr.Receipt)
		}
		secrets := rec.secrets()
		secrets["the shred key"] = shredKey
		// While serving: the database file and its WAL as they are now.
		checkAbsent(t, secrets, db, db+"-wal")
	})
	if !strings.Contains(errs.String(), `"msg":"shred layer"`) {
		t.Errorf("serve did not log its shred layer:\n%s", errs.String())
	}
	attackWithKMS(t, emu, rec, backup+"/byok.db")
	serveCopy(t, c, dir, backup, emu.URL, token, sealed)
	refuseWithoutKeystore(t, backup)
}

// refuseWithoutKeystore: byok serve on a database with sealed wrappings
// and a keystore directory that is missing or empty refuses to start,
// saying what to fix.
func refuseWithoutKeystore(t *testing.T, backup string) {
	t.Helper()
	cfgPath := filepath.Join(backup, "byok.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, ks := range []string{filepath.Join(empty, "missing"), empty} {
		cfg := regexpKeystore.ReplaceAllString(string(b), "  keystore: "+ks+"\n")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var errs lockedBuffer
		c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errs}
		code := run(context.Background(), c, []string{"serve", "--config", cfgPath})
		if code == exitOK || !strings.Contains(errs.String(), "byok: error: shred_key_missing: the shred keystore "+ks) ||
			!strings.Contains(errs.String(), "byok: hint: ") {
			t.Fatalf("serve with keystore %s exited %d: %s; want shred_key_missing with a hint", ks, code, errs.String())
		}
	}
	noRoot := regexp.MustCompile(`root_key_file: .*\n`).ReplaceAll(b, nil)
	if err := os.WriteFile(cfgPath, noRoot, 0o600); err != nil {
		t.Fatal(err)
	}
	var errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errs}
	if code := run(context.Background(), c, []string{"serve", "--config", cfgPath}); code == exitOK ||
		!strings.Contains(errs.String(), "names no root_key_file") || !strings.Contains(errs.String(), "byok: hint: set root_key_file") {
		t.Fatalf("serve without a root key on sealed wrappings exited %d: %s; want shred_key_missing", code, errs.String())
	}
}

var regexpKeystore = regexp.MustCompile(`  keystore: .*\n`)

func enableAndSeal(ctx context.Context, t *testing.T, api *client.Client, keyARN string) []byte {
	t.Helper()
	if _, err := api.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AttachKey(ctx, "acme", "eu-west-1", keyARN, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Enable(ctx, "acme"); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	if _, err := api.Rotate(ctx, "acme"); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	ct, err := api.Encrypt(ctx, "acme", []byte("the customer's record"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// readShredKey opens acme's shred key as only the platform can, with the
// root key file, so the test can look for it on disk.
func readShredKey(t *testing.T, dir string) []byte {
	t.Helper()
	root, err := localkms.Load(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := shred.Open(shred.Config{Dir: filepath.Join(dir, "shred-keys"), Root: root, RootRef: root.KeyRef()})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ks.Key(context.Background(), "acme")
	if err != nil {
		t.Fatalf("acme's shred key: %v", err)
	}
	return k.Material()
}

// copyDatabase copies the database file and its WAL, as a backup or a
// stolen disk image would hold them.
func copyDatabase(t *testing.T, db, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, "byok.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func checkAbsent(t *testing.T, secrets map[string][]byte, files ...string) {
	t.Helper()
	if len(secrets) < 3 {
		t.Fatalf("recorded only %d secrets: the recorder saw no KMS traffic", len(secrets))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if len(s) >= 16 && bytes.Contains(b, s) {
				t.Errorf("%s holds %s after offboarding", f, what)
			}
		}
	}
}

// attackWithKMS decrypts every wrapping in the copy with the platform's
// credentials, under the identity it would have been made for. The same
// call on a blob KMS returned works, which shows the attack is real.
func attackWithKMS(t *testing.T, emu *awsemu.TestServer, rec *kmsRecorder, copyPath string) {
	t.Helper()
	ctx := context.Background()
	kc := kmsapi.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(emu.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAPLATFORM00000001", "platform-secret", "")})
	decrypt := func(blob []byte, version string) error {
		_, err := kc.Decrypt(ctx, &kmsapi.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{
			"byok:tenant": "acme", "byok:key-version": version, "byok:purpose": "tenant-key"}})
		return err
	}
	rows := copiedWrappings(t, copyPath)
	if len(rows) < 2 {
		t.Fatalf("the copy holds %d wrappings, want acme's two versions'", len(rows))
	}
	for _, r := range rows {
		if err := decrypt(r.ciphertext, fmt.Sprint(r.version)); err == nil {
			t.Errorf("KMS decrypted version %d's wrapping from the copy", r.version)
		}
	}
	opened := 0
	for _, blob := range rec.blobList() {
		for _, v := range []string{"1", "2"} {
			if decrypt(blob, v) == nil {
				opened++
			}
		}
	}
	if opened < 2 {
		t.Fatalf("KMS decrypted %d of the blobs it returned, want both versions': the attack does not reach KMS", opened)
	}
}

type copiedRow struct {
	version    int
	ciphertext []byte
}

func copiedWrappings(t *testing.T, path string) []copiedRow {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version, ciphertext FROM wrappings WHERE tenant_id = 'acme'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []copiedRow
	for rows.Next() {
		var r copiedRow
		if err := rows.Scan(&r.version, &r.ciphertext); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// serveCopy runs byok serve on the copy with the same root key and shred
// keystore: the tenant is active there, and its data does not open.
func serveCopy(t *testing.T, c *cli, dir, backup, endpoint, token string, sealed []byte) {
	t.Helper()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("listen: %s\ndatabase:\n  sqlite: %s\nplatform_config: %s\nroot_key_file: %s\nshred:\n  keystore: %s\naws:\n  endpoint: %s\n",
		addr, filepath.Join(backup, "byok.db"), filepath.Join(dir, "platform.yaml"), filepath.Join(dir, "root.key"),
		filepath.Join(dir, "shred-keys"), endpoint)
	cfgPath := filepath.Join(backup, "byok.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var errs lockedBuffer
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: token})
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		if st, err := api.State(ctx, "acme"); err != nil || st.State != "active" {
			t.Fatalf("State on the copy = %+v, %v; want active, as it was when copied", st, err)
		}
		pt, err := api.Decrypt(ctx, "acme", sealed, nil)
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Code != "tenant_shredded" {
			t.Fatalf("Decrypt on the copy = %q, %v; want tenant_shredded", pt, err)
		}
		if ae.Message != "tenant acme was offboarded: its shred key was destroyed" {
			t.Errorf("Decrypt on the copy says %q", ae.Message)
		}
	})
}

// TestServeSealsLegacyWrappings: byok serve on a database written before
// the shred layer (the schema 5 fixture) seals every wrapping at start, as
// it is, and logs how many; the next start has none left.
func TestServeSealsLegacyWrappings(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../internal/store/sqlite/testdata/schema5.db")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "byok.db")
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, db, `SELECT count(*) FROM wrappings`)
	if before == 0 {
		t.Fatal("the fixture has no wrappings")
	}
	emu := awsemu.NewTestServer(t, shredWorld(t, "arn:aws:kms:eu-west-1:222222222222:key/0c0d0e0f-1111-2222-3333-444455556666"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	addr := freeAddr(t)
	cfgPath := writeServeFiles(t, dir, addr, db, emu.URL)
	for _, want := range []int{before, 0} {
		var errs lockedBuffer
		c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errs}
		serveWhile(t, c, cfgPath, addr, &errs, func(context.Context) {})
		if line := fmt.Sprintf(`"sealed_legacy_wrappings":%d`, want); !strings.Contains(errs.String(), line) {
			t.Fatalf("serve's log lacks %s:\n%s", line, errs.String())
		}
	}
	sealed := `SELECT count(*) FROM wrappings WHERE shred_layer = ?`
	if n := countRows(t, db, sealed, 0); n != 0 {
		t.Fatalf("%d wrappings left unsealed", n)
	}
	if n := countRows(t, db, sealed, 1); n != before {
		t.Fatalf("%d wrappings sealed, want %d", n, before)
	}
}

// countRows runs a count query on the SQLite file at path.
func countRows(t *testing.T, path, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

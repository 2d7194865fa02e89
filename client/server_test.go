package client_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/server"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/localkms"
)

// startServer runs the real server in-process on a temporary SQLite
// database, with a platform root key and no AWS: tenants keep their data
// under the platform key until they bring their own. It returns the URL, an
// owner token and a function that stops everything.
func startServer() (url, token string, stop func()) {
	dir, err := os.MkdirTemp("", "byok-example")
	must(err)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "byok.db")})
	must(err)
	root := rootKey()
	kr, err := keyring.New(keyring.Config{Store: st, Region: "eu-west-1",
		Providers: map[string]kms.Provider{localkms.ProviderName: root}})
	must(err)
	pcfg, err := platform.Parse(strings.NewReader("regions:\n  - name: eu-west-1\n    platform_account_id: \"111111111111\"\n"), nil)
	must(err)
	// The validator is never called here: no tenant brings a key.
	svc, err := control.New(control.Config{Platform: pcfg, Store: st, Keyring: kr, PlatformKey: root.KeyRef(),
		Validator: &onboarding.Validator{Config: pcfg}})
	must(err)
	tokens := auth.NewTokens(st, nil)
	token, _, err = tokens.Bootstrap(ctx, "example")
	must(err)
	srv, err := server.New(server.Config{Control: svc, Keyring: kr, Store: st, Auth: tokens, ServePending: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(err)
	hs := httptest.NewServer(srv.Handler())
	return hs.URL, token, func() { hs.Close(); st.Close(); os.RemoveAll(dir) }
}

func rootKey() *localkms.Provider {
	k, err := envelope.GenerateTenantKey("platform-root", 1, nil)
	must(err)
	f := &keyfile.File{}
	must(f.Append(keyfile.Entry{Key: k, Created: time.Now().UTC().Truncate(time.Second)}))
	p, err := localkms.New(f)
	must(err)
	return p
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

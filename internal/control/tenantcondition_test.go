package control

import (
	"errors"
	"testing"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// A confused deputy: tenant globex attaches the key whose policy the
// customer generated for tenant acme. The attachment passes the account
// check, but the key's policy admits the platform's calls only with acme's
// encryption context, so globex cannot be enabled on it, nor can the
// platform wrap a key for globex under it, while acme keeps working.
func TestAnotherTenantsKeyIsRefused(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme") // the key policy is generated for acme
	if _, err := e.svc.Enable(ctx, "acme"); err != nil {
		t.Fatalf("Enable(acme) err = %v", err)
	}
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "globex", Name: "Globex"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AttachKey(ctx, Attach{Tenant: "globex", Region: home, KeyARN: mrkARN}); err != nil {
		t.Fatalf("AttachKey(globex, acme's key) err = %v, want the attachment accepted (same account)", err)
	}

	_, err := e.svc.Enable(ctx, "globex")
	wantCode(t, err, CodeValidationFailed)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Reports) != 1 {
		t.Fatalf("Enable(globex) err = %#v, want one failing report", err)
	}
	rep := ce.Reports[0].Report
	for _, action := range []string{"kms:GenerateDataKey", "kms:Encrypt"} {
		if c := rep.Check(onboarding.PermissionCheck(action)); c == nil || c.Code != "missing_permission" {
			t.Errorf("check %s = %+v, want missing_permission\n%s", action, c, rep)
		}
	}
	if got, _ := e.svc.Tenant(ctx, "globex"); got.State != tenant.StatePending {
		t.Errorf("globex state = %s, want pending", got.State)
	}

	// Past the validator, KMS itself refuses the platform's wrap for globex.
	ref := kms.KeyRef{Provider: awskms.ProviderName, ID: mrkARN}
	_, _, err = e.cfg.Providers[awskms.ProviderName].GenerateAndWrap(ctx, ref, kms.Identity{Tenant: "globex", Version: 1, Purpose: kms.PurposeTenantKey})
	if !errors.Is(err, kms.ErrDenied) {
		t.Errorf("GenerateAndWrap(globex) under acme's key err = %v, want kms.ErrDenied", err)
	}
	key, err := envelope.GenerateTenantKey("globex", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cfg.Providers[awskms.ProviderName].Wrap(ctx, ref, key, kms.Identity{Tenant: "globex", Version: 1, Purpose: kms.PurposeTenantKey}); !errors.Is(err, kms.ErrDenied) {
		t.Errorf("Wrap(globex) under acme's key err = %v, want kms.ErrDenied", err)
	}

	// acme is untouched: its data seals, and opens in a fresh keyring, which
	// unwraps acme's key with KMS.
	recs := sealN(t, e.keyringIn(t, home), "acme", 2)
	openAll(t, e.keyringIn(t, home), "acme", recs)
}

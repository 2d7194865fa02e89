package onboarding

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/tenant"
)

func TestNewModelBadInput(t *testing.T) {
	cfg := testConfig(t, "", false)
	for _, tc := range []struct {
		name string
		edit func(*Request)
		want tenant.Code
	}{
		{"unknown region", func(r *Request) { r.Region = "ap-south-1" }, tenant.CodeUnknownRegion},
		{"tenant id", func(r *Request) { r.TenantID = "a b" }, tenant.CodeInvalidTenantID},
		{"pattern", func(r *Request) { r.Pattern = "" }, tenant.CodeInvalidPattern},
		{"external id", func(r *Request) { r.ExternalID = "short" }, tenant.CodeInvalidExternalID},
		{"malformed key ARN", func(r *Request) { r.KeyARN = "arn:aws:kms:eu-west-1:x:key/y" }, tenant.CodeInvalidKeyARN},
		{"oversized key ARN", func(r *Request) { r.KeyARN = strings.Repeat("a", tenant.MaxFieldLen+1) }, tenant.CodeFieldTooLong},
		{"alias ARN", func(r *Request) { r.KeyARN = "arn:aws:kms:eu-west-1:222222222222:alias/a" }, tenant.CodeInvalidKeyARN},
		{"key in other region", func(r *Request) { r.KeyARN = keyARN(otherRegion, mrkID) }, tenant.CodeInvalidKeyARN},
		{"single-Region key", func(r *Request) { r.KeyARN = keyARN(hostRegion, singleKeyID) }, tenant.CodeInvalidKeyARN},
		{"key in other account", func(r *Request) { r.CustomerAccount = "333333333333" }, tenant.CodeInvalidKeyARN},
		{"no account", func(r *Request) { r.KeyARN = "" }, tenant.CodeMissingField},
		{"bad account", func(r *Request) { r.KeyARN, r.CustomerAccount = "", "12" }, tenant.CodeInvalidAccount},
		{"key spec", func(r *Request) { r.KeySpec = tenant.KeySpecRSA4096 }, tenant.CodeInvalidKeySpec},
		{"role name", func(r *Request) { r.RoleName = "a/b" }, tenant.CodeInvalidRoleARN},
		{"token", func(r *Request) { r.Token = "a b" }, tenant.CodeInvalidToken},
	} {
		req := request(tenant.AssumedRole, tenant.KeySpecSymmetric, mrkID)
		tc.edit(&req)
		if _, err := NewModel(cfg, req); tenant.CodeOf(err) != tc.want {
			t.Errorf("%s: NewModel() err = %v, want code %s", tc.name, err, tc.want)
		}
	}
}

func TestDefaultRoleName(t *testing.T) {
	cfg := testConfig(t, "", false)
	req := request(tenant.AssumedRole, "", mrkID)
	req.TenantID = "org:" + strings.Repeat("x", 100)
	m := mustModel(t, cfg, req)
	if err := tenant.CheckRoleName("role_name", m.RoleName); err != nil || !strings.HasPrefix(m.RoleName, "byok-org-x") {
		t.Errorf("RoleName = %q (%v), want a valid byok-org-x… name", m.RoleName, err)
	}
	if m.KeySpec != tenant.KeySpecSymmetric || m.Token != req.TenantID {
		t.Errorf("defaults: KeySpec %q, Token %q", m.KeySpec, m.Token)
	}
}

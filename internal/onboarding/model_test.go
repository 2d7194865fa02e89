package onboarding

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/platform"
)

func TestNewModelBadInput(t *testing.T) {
	cfg := testConfig(t, "", false)
	for _, tc := range []struct {
		name string
		edit func(*Request)
		want platform.Code
	}{
		{"unknown region", func(r *Request) { r.Region = "ap-south-1" }, platform.CodeUnknownRegion},
		{"tenant id", func(r *Request) { r.TenantID = "a b" }, platform.CodeInvalidTenantID},
		{"pattern", func(r *Request) { r.Pattern = "" }, platform.CodeInvalidPattern},
		{"external id", func(r *Request) { r.ExternalID = "short" }, platform.CodeInvalidExternalID},
		{"malformed key ARN", func(r *Request) { r.KeyARN = "arn:aws:kms:eu-west-1:x:key/y" }, platform.CodeInvalidKeyARN},
		{"oversized key ARN", func(r *Request) { r.KeyARN = strings.Repeat("a", platform.MaxFieldLen+1) }, platform.CodeFieldTooLong},
		{"alias ARN", func(r *Request) { r.KeyARN = "arn:aws:kms:eu-west-1:222222222222:alias/a" }, platform.CodeInvalidKeyARN},
		{"key in other region", func(r *Request) { r.KeyARN = keyARN(otherRegion, mrkID) }, platform.CodeInvalidKeyARN},
		{"single-Region key", func(r *Request) { r.KeyARN = keyARN(hostRegion, singleKeyID) }, platform.CodeInvalidKeyARN},
		{"key in other account", func(r *Request) { r.CustomerAccount = "333333333333" }, platform.CodeInvalidKeyARN},
		{"no account", func(r *Request) { r.KeyARN = "" }, platform.CodeMissingField},
		{"bad account", func(r *Request) { r.KeyARN, r.CustomerAccount = "", "12" }, platform.CodeInvalidAccount},
		{"key spec", func(r *Request) { r.KeySpec = platform.KeySpecRSA4096 }, platform.CodeInvalidKeySpec},
		{"role name", func(r *Request) { r.RoleName = "a/b" }, platform.CodeInvalidRoleARN},
		{"token", func(r *Request) { r.Token = "a b" }, platform.CodeInvalidToken},
	} {
		req := request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID)
		tc.edit(&req)
		if _, err := NewModel(cfg, req); platform.CodeOf(err) != tc.want {
			t.Errorf("%s: NewModel() err = %v, want code %s", tc.name, err, tc.want)
		}
	}
}

func TestDefaultRoleName(t *testing.T) {
	cfg := testConfig(t, "", false)
	req := request(platform.AssumedRole, "", mrkID)
	req.TenantID = "org:" + strings.Repeat("x", 100)
	m := mustModel(t, cfg, req)
	if err := platform.CheckRoleName("role_name", m.RoleName); err != nil || !strings.HasPrefix(m.RoleName, "byok-org-x") {
		t.Errorf("RoleName = %q (%v), want a valid byok-org-x… name", m.RoleName, err)
	}
	if m.KeySpec != platform.KeySpecSymmetric || m.Token != req.TenantID {
		t.Errorf("defaults: KeySpec %q, Token %q", m.KeySpec, m.Token)
	}
}

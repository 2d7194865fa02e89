package platform

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/config.yaml", nil)
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	want := &Config{
		Regions: []Region{
			{Name: "eu-west-1", PlatformAccountID: "111122223333", PlatformRoleARN: "arn:aws:iam::111122223333:role/byok-platform", ReplicaRegions: []string{"eu-central-1"}},
			{Name: "us-east-1", PlatformRoleARN: "arn:aws:iam::444455556666:role/byok-platform", ReplicaRegions: []string{"us-west-2"}},
		},
		Policy: Policy{KeySpecs: []string{KeySpecSymmetric, KeySpecRSA3072}, RequireMultiRegion: true, AliasARNs: AliasReject,
			KeyBinding: BindingImmutable, DeletionWarnings: []Duration{Duration(14 * 24 * time.Hour), Duration(7 * 24 * time.Hour), Duration(24 * time.Hour), Duration(6 * time.Hour)}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	us, _ := c.Region("us-east-1")
	if got := us.PlatformAccount(); got != "444455556666" {
		t.Errorf("PlatformAccount() = %q, want the role's account", got)
	}
	if got := us.PlatformPrincipal(); got != "arn:aws:iam::444455556666:role/byok-platform" {
		t.Errorf("PlatformPrincipal() = %q", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader("regions: [{name: eu-west-1, platform_account_id: \"111122223333\"}]\n"), nil)
	if err != nil {
		t.Fatalf("Parse() err = %v", err)
	}
	if diff := cmp.Diff(Default().Policy, c.Policy); diff != "" {
		t.Errorf("policy mismatch (-want +got):\n%s", diff)
	}
	r, _ := c.Region("eu-west-1")
	if got := r.PlatformPrincipal(); got != "arn:aws:iam::111122223333:root" {
		t.Errorf("PlatformPrincipal() = %q, want the account root", got)
	}
}

// Every problem is listed at once, each with its path.
func TestEveryProblemListed(t *testing.T) {
	src := `
regions:
  - name: EU-West
    platform_account_id: 1234
    platform_role_arn: arn:aws:iam::999999999999:role/x
    replica_regions: [EU-West, cn-north-1]
  - name: us-east-1
  - name: us-east-1
    platform_account_id: "111122223333"
policy:
  key_specs: [AES_256]
  alias_arns: maybe
  key_binding: sometimes
  deletion_warnings: [1d, 2d, 0s, 90d, soon]
  colour: blue
`
	_, err := Parse(strings.NewReader(src), []string{"BYOK_POLICY_REQUIRE_MULTI_REGION=perhaps", "BYOK_REGION_AP_SOUTH_1_PLATFORM_ROLE_ARN=x", "BYOK_POLICY_TYPO=1", "BYOK_TEST_POSTGRES_URL=ignored"})
	var ce *ConfigError
	if !errors.As(err, &ce) || CodeOf(err) != CodeInvalidConfig || !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("Parse() err = %v, want *ConfigError", err)
	}
	var paths []string
	for _, p := range ce.Problems {
		paths = append(paths, p.Path)
		if p.Problem == "" || p.Fix == "" {
			t.Errorf("problem %+v lacks a message or a fix", p)
		}
	}
	want := []string{
		"(file)", "(file)", // "soon" and colour, from the decoder
		"$BYOK_POLICY_REQUIRE_MULTI_REGION", "$BYOK_REGION_AP_SOUTH_1_PLATFORM_ROLE_ARN", "$BYOK_POLICY_TYPO",
		"regions[0].name", "regions[0].platform_account_id", "regions[0].platform_role_arn",
		"regions[0].replica_regions", "regions[0].replica_regions[0]", "regions[0].replica_regions[1]",
		"regions[1]", "regions[2].name",
		"policy.key_specs[0]", "policy.alias_arns", "policy.key_binding",
		"policy.deletion_warnings[1]", "policy.deletion_warnings[2]", "policy.deletion_warnings[3]",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths mismatch (-want +got):\n%s\n%v", diff, err)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		EnvKeySpecs + "=RSA_2048, RSA_4096",
		EnvRequireMultiRegion + "=false",
		EnvAliasARNs + "=resolve",
		EnvKeyBinding + "=changeable",
		EnvDeletionWarnings + "=3d,12h",
		EnvRegion("eu-west-1", EnvSuffixReplicas) + "=",
		EnvRegion("us-east-1", EnvSuffixReplicas) + "=",
		EnvRegion("eu-west-1", EnvSuffixAccount) + "=999988887777",
		EnvRegion("eu-west-1", EnvSuffixRole) + "=arn:aws:iam::999988887777:role/other",
		"PATH=/usr/bin",
	}
	c, err := Load("testdata/config.yaml", env)
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	want := Policy{KeySpecs: []string{KeySpecRSA2048, KeySpecRSA4096}, AliasARNs: AliasResolve, KeyBinding: BindingChangeable,
		DeletionWarnings: []Duration{Duration(72 * time.Hour), Duration(12 * time.Hour)}}
	if diff := cmp.Diff(want, c.Policy); diff != "" {
		t.Errorf("policy mismatch (-want +got):\n%s", diff)
	}
	r, _ := c.Region("eu-west-1")
	if r.PlatformAccountID != "999988887777" || r.PlatformRoleARN != "arn:aws:iam::999988887777:role/other" || r.ReplicaRegions != nil {
		t.Errorf("region = %+v, want the environment's values", r)
	}
}

func TestBadInputCodes(t *testing.T) {
	c, err := Load("testdata/config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", MaxFieldLen+1)
	for _, tc := range []struct {
		name string
		err  error
		want Code
	}{
		{"unknown region", second(c.Region("ap-south-1")), CodeUnknownRegion},
		{"malformed key ARN", second(ParseKeyARN("key_arn", "arn:aws:kms:eu-west-1:1:key/x")), CodeInvalidKeyARN},
		{"key ARN wrong service", second(ParseKeyARN("key_arn", "arn:aws:s3:eu-west-1:111122223333:key/x")), CodeInvalidKeyARN},
		{"oversized key ARN", second(ParseKeyARN("key_arn", long)), CodeFieldTooLong},
		{"role ARN of a user", second(ParseRoleARN("role_arn", "arn:aws:iam::111122223333:user/x")), CodeInvalidRoleARN},
		{"oversized role ARN", second(ParseRoleARN("role_arn", long)), CodeFieldTooLong},
		{"short external id", CheckExternalID("short"), CodeInvalidExternalID},
		{"long external id", CheckExternalID(strings.Repeat("a", 129)), CodeInvalidExternalID},
		{"external id bad char", CheckExternalID("abcdefgh ijk"), CodeInvalidExternalID},
		{"oversized external id", CheckExternalID(long), CodeFieldTooLong},
		{"account", CheckAccount("account", "12345678901a"), CodeInvalidAccount},
		{"tenant id", CheckTenantID("tenant/1"), CodeInvalidTenantID},
		{"role name", CheckRoleName("role_name", "a b"), CodeInvalidRoleARN},
		{"pattern", CheckPattern("sideways"), CodeInvalidPattern},
	} {
		if got := CodeOf(tc.err); got != tc.want || !errors.Is(tc.err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, code %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestExternalID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewExternalID()
		if err := CheckExternalID(id); err != nil || len(id) != DefaultExternalIDLen {
			t.Fatalf("NewExternalID() = %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewExternalID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, ok := range []string{"12345678", "a+=,.@:/-Z9", strings.Repeat("x", 128)} {
		if err := CheckExternalID(ok); err != nil {
			t.Errorf("CheckExternalID(%q) = %v, want nil", ok, err)
		}
	}
}

func TestFuzzSeedsExist(t *testing.T) {
	for _, dir := range []string{"testdata/fuzz/FuzzParse", "testdata/fuzz/FuzzIdentifiers"} {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			t.Errorf("seed corpus %s: %d entries, err = %v", dir, len(entries), err)
		}
	}
}

// The documented example is the tested one.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(example)+"```\n") {
		t.Errorf("docs/configuration.md does not hold testdata/config.yaml as its example")
	}
}

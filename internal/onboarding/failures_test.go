package onboarding

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/platform"
)

func wantCheck(t *testing.T, rep *Report, id string, status Status, code string) {
	t.Helper()
	c := rep.Check(id)
	if c == nil || c.Status != status || c.Code != code {
		t.Errorf("check %s = %+v, want %s %s\n%s", id, c, status, code, rep)
	}
}

// One emulated world per failure mode: the customer's side is built from
// the generated artifacts, then one thing is wrong.
func TestValidationFailures(t *testing.T) {
	both := "  key_specs: [SYMMETRIC_DEFAULT, RSA_3072]\n"
	for _, tc := range []struct {
		name    string
		policy  string // configuration policy lines used to validate
		pattern platform.AccessPattern
		spec    string
		side    func(*side)
		target  func(*Target)
		after   func(*testing.T, *awsemu.TestServer)
		id      string
		status  Status
		code    string
		skipped string // a later check that must be reported skipped
	}{
		{name: "unknown-hosting-region", target: func(tg *Target) { tg.Region = "ap-south-1" },
			id: CheckRegion, status: Fail, code: "unknown_region", skipped: CheckKeyARN},
		{name: "malformed-key-arn", target: func(tg *Target) { tg.KeyARN = "arn:aws:kms:eu-west-1:2222:key/x" },
			id: CheckKeyARN, status: Fail, code: "invalid_key_arn", skipped: PermissionCheck("kms:Decrypt")},
		{name: "wrong-region", side: func(s *side) { s.keyRegion, s.replicas = otherRegion, nil },
			target: func(tg *Target) { tg.KeyARN = keyARN(otherRegion, mrkID) },
			id:     CheckKeyRegion, status: Fail, code: "key_wrong_region", skipped: PermissionCheck("kms:DescribeKey")},
		{name: "wrong-account", target: func(tg *Target) { tg.CustomerAccount = "333333333333" },
			id: CheckKeyAccount, status: Fail, code: "key_wrong_account", skipped: PermissionCheck("kms:Encrypt")},
		{name: "disabled", side: func(s *side) { s.disabled = true },
			id: CheckKeyState, status: Fail, code: "key_disabled", skipped: PermissionCheck("kms:Encrypt")},
		{name: "pending-deletion", after: scheduleDeletion,
			id: CheckKeyState, status: Fail, code: "key_pending_deletion", skipped: PermissionCheck("kms:Decrypt")},
		{name: "rsa-when-symmetric-only", spec: platform.KeySpecRSA3072,
			id: CheckKeySpec, status: Fail, code: "key_spec_not_allowed"},
		{name: "rsa-allowed", policy: both, spec: platform.KeySpecRSA3072,
			id: PermissionCheck("kms:GetPublicKey"), status: Pass, code: "ok"},
		{name: "symmetric-when-rsa-only", policy: "  key_specs: [RSA_3072]\n",
			id: CheckKeySpec, status: Fail, code: "key_spec_not_allowed"},
		{name: "single-region-when-required", side: func(s *side) { s.keyID, s.multiRegion, s.replicas = singleKeyID, false, nil },
			target: func(tg *Target) { tg.KeyARN = keyARN(hostRegion, singleKeyID) },
			id:     CheckMultiRegion, status: Fail, code: "key_not_multi_region"},
		{name: "missing-replica", side: func(s *side) { s.replicas = nil },
			id: ReplicaCheck(replicaRegion), status: Fail, code: "replica_missing"},
		{name: "alias-rejected", side: func(s *side) { s.aliases = []string{"alias/tenant-42"} },
			target: func(tg *Target) { tg.KeyARN = "arn:aws:kms:eu-west-1:222222222222:alias/tenant-42" },
			id:     CheckAlias, status: Fail, code: "alias_rejected", skipped: PermissionCheck("kms:DescribeKey")},
		{name: "alias-resolved", policy: "  alias_arns: resolve\n", side: func(s *side) { s.aliases = []string{"alias/tenant-42"} },
			target: func(tg *Target) { tg.KeyARN = "arn:aws:kms:eu-west-1:222222222222:alias/tenant-42" },
			id:     PermissionCheck("kms:Decrypt"), status: Pass, code: "ok"},
		{name: "key-not-found", target: func(tg *Target) { tg.KeyARN = keyARN(hostRegion, "mrk-ffffffffffffffffffffffffffffffff") },
			id: PermissionCheck("kms:DescribeKey"), status: Fail, code: "key_not_found", skipped: PermissionCheck("kms:Encrypt")},
		{name: "role-assumable-without-external-id", pattern: platform.AssumedRole,
			side: func(s *side) { s.trust = clonePolicy(s.trust); s.trust.Statement[0].Condition = nil },
			id:   CheckConfusedDeputy, status: Fail, code: "role_assumable_without_external_id"},
		{name: "wrong-external-id", pattern: platform.AssumedRole, target: func(tg *Target) { tg.ExternalID = "another-tenants-id" },
			id: CheckExternalID, status: Fail, code: "role_not_assumable", skipped: PermissionCheck("kms:Decrypt")},
		{name: "invalid-external-id", pattern: platform.AssumedRole, target: func(tg *Target) { tg.ExternalID = "short" },
			id: CheckExternalID, status: Fail, code: "invalid_external_id", skipped: CheckConfusedDeputy},
		{name: "malformed-role-arn", pattern: platform.AssumedRole, target: func(tg *Target) { tg.RoleARN = "arn:aws:iam::222222222222:user/x" },
			id: CheckRoleARN, status: Fail, code: "invalid_role_arn", skipped: CheckExternalID},
		{name: "role-in-platform-account", pattern: platform.AssumedRole, target: func(tg *Target) { tg.RoleARN = "arn:aws:iam::111111111111:role/x" },
			id: CheckRoleARN, status: Fail, code: "role_in_platform_account", skipped: PermissionCheck("kms:DescribeKey")},
		{name: "role-in-other-account-missing", pattern: platform.AssumedRole, target: func(tg *Target) { tg.RoleARN = "arn:aws:iam::333333333333:role/x" },
			id: CheckExternalID, status: Fail, code: "role_not_assumable", skipped: PermissionCheck("kms:DescribeKey")},
		{name: "policy-predates-tenant-condition", side: func(s *side) { s.keyPolicy = unbound(s.keyPolicy, SidUse, SidRead, s.spec) },
			id: CheckTenantCondition, status: Warn, code: CodeTenantConditionMissing},
		{name: "role-policy-predates-tenant-condition", pattern: platform.AssumedRole,
			side: func(s *side) { s.rolePolicy = unbound(s.rolePolicy, SidRoleUse, SidRoleRead, s.spec) },
			id:   CheckTenantCondition, status: Warn, code: CodeTenantConditionMissing},
		{name: "policy-bound-to-another-tenant", side: func(s *side) { s.keyPolicy = s.keyPolicy.forTenantsPtr("tenant-7") },
			id: PermissionCheck("kms:GenerateDataKey"), status: Fail, code: "missing_permission"},
		{name: "rotation-off", side: func(s *side) { s.spec = platform.KeySpecSymmetric }, after: disableRotation,
			id: CheckRotation, status: Info, code: "rotation_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pattern, spec := tc.pattern, tc.spec
			if pattern == "" {
				pattern = platform.Direct
			}
			if spec == "" {
				spec = platform.KeySpecSymmetric
			}
			m := mustModel(t, testConfig(t, both, false), request(pattern, spec, mrkID))
			s := sideFromModel(m)
			tg := target(m)
			call1(tc.side, s)
			call1(tc.target, &tg)
			ts := s.emulator(t)
			if tc.after != nil {
				tc.after(t, ts)
			}
			rep := validate(t, ts, testConfig(t, tc.policy, false), tg, false)
			wantCheck(t, rep, tc.id, tc.status, tc.code)
			if tc.skipped != "" {
				wantCheck(t, rep, tc.skipped, Skipped, "skipped")
			}
			if (tc.status == Fail) == rep.OK() {
				t.Errorf("OK() = %v with check %s %s\n%s", rep.OK(), tc.status, tc.id, rep)
			}
		})
	}
}

func call1[T any](f func(T), v T) {
	if f != nil {
		f(v)
	}
}

func adminKMS(t *testing.T, ts *awsemu.TestServer) *kms.Client {
	return kms.NewFromConfig(ts.Config(hostRegion, ts.Credentials(t, customerAccount, "admin")))
}

func scheduleDeletion(t *testing.T, ts *awsemu.TestServer) {
	// A primary with replicas waits for them, so schedule both.
	for _, region := range []string{replicaRegion, hostRegion} {
		rc := kms.NewFromConfig(ts.Config(region, ts.Credentials(t, customerAccount, "admin")))
		if _, err := rc.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(mrkID), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatalf("ScheduleKeyDeletion(%s) err = %v", region, err)
		}
	}
}

func disableRotation(t *testing.T, ts *awsemu.TestServer) {
	if _, err := adminKMS(t, ts).DisableKeyRotation(context.Background(), &kms.DisableKeyRotationInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatalf("DisableKeyRotation() err = %v", err)
	}
}

package onboarding

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/platform"
)

const (
	platformAccount = "111111111111"
	customerAccount = "222222222222"
	roleAccount     = "333333333333" // the customer's other account
	hostRegion      = "eu-west-1"
	replicaRegion   = "eu-central-1"
	otherRegion     = "us-east-1"
	mrkID           = "mrk-0123456789abcdef0123456789abcdef"
	singleKeyID     = "0a1b2c3d-1111-4222-8333-444455556666"
	testExternalID  = "ext-id:tenant-42/ABCdef0123456789"
	platformRole    = "arn:aws:iam::111111111111:role/byok-platform"
)

func keyARN(region, id string) string {
	return "arn:aws:kms:" + region + ":" + customerAccount + ":key/" + id
}

// testConfig is a platform configuration for the emulator's regions.
func testConfig(t testing.TB, yamlPolicy string, roleIsPrincipal bool) *platform.Config {
	t.Helper()
	principal := `platform_account_id: "` + platformAccount + `"`
	if roleIsPrincipal {
		principal = "platform_role_arn: " + platformRole
	}
	src := "regions:\n  - name: " + hostRegion + "\n    " + principal + "\n    replica_regions: [" + replicaRegion + "]\n" +
		"  - name: " + otherRegion + "\n    " + principal + "\npolicy:\n  require_multi_region: true\n" + yamlPolicy
	cfg, err := platform.Parse(strings.NewReader(src), nil)
	if err != nil {
		t.Fatalf("Parse() err = %v", err)
	}
	return cfg
}

// side is the customer's side of the world: key and role, as the test
// builds them from (possibly altered) generated artifacts.
type side struct {
	keyID       string
	keyRegion   string
	spec        string
	multiRegion bool
	replicas    []string
	aliases     []string
	disabled    bool
	keyPolicy   *Policy // PutKeyPolicy after start; nil keeps KMS's default policy
	roleName    string  // "" creates no role
	trust       *Policy
	rolePolicy  *Policy
}

func policyJSON(p *Policy) string {
	if p == nil {
		return ""
	}
	return string(p.JSON())
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`

func (s *side) world() *awsemu.World {
	cust := awsemu.Account{ID: customerAccount,
		Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "admin-secret",
			Policies: map[string]string{"all": allowAll}}},
		Keys: []awsemu.Key{{ID: s.keyID, Region: s.keyRegion, Spec: s.spec, Disabled: s.disabled, Rotation: !platform.IsRSA(s.spec),
			MultiRegion: s.multiRegion, Replicas: s.replicas, Aliases: s.aliases}}}
	if s.roleName != "" {
		role := awsemu.Role{Name: s.roleName, TrustPolicy: policyJSON(s.trust), Policies: map[string]string{}}
		if s.rolePolicy != nil {
			role.Policies["byok-key-access"] = policyJSON(s.rolePolicy)
		}
		cust.Roles = []awsemu.Role{role}
	}
	plat := awsemu.Account{ID: platformAccount,
		Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001", SecretAccessKey: "platform-secret",
			Policies: map[string]string{"all": allowAll}}},
		Roles: []awsemu.Role{{Name: "byok-platform", Policies: map[string]string{"all": allowAll},
			TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/platform"},"Action":"sts:AssumeRole"}]}`}}}
	return &awsemu.World{Regions: []string{hostRegion, replicaRegion, otherRegion}, Accounts: []awsemu.Account{plat, cust}}
}

// emulator starts the world and puts the key policy on the key and its
// replicas with the customer admin's PutKeyPolicy, as a customer would.
func (s *side) emulator(t *testing.T) *awsemu.TestServer {
	t.Helper()
	ts := awsemu.NewTestServer(t, s.world())
	if s.keyPolicy == nil {
		return ts
	}
	admin := ts.Credentials(t, customerAccount, "admin")
	for _, region := range append([]string{s.keyRegion}, s.replicas...) {
		c := kms.NewFromConfig(ts.Config(region, admin))
		_, err := c.PutKeyPolicy(context.Background(), &kms.PutKeyPolicyInput{KeyId: aws.String(s.keyID),
			PolicyName: aws.String("default"), Policy: aws.String(policyJSON(s.keyPolicy))})
		if err != nil {
			t.Fatalf("PutKeyPolicy(%s) err = %v", region, err)
		}
	}
	return ts
}

// platformAWS is the platform's SDK configuration: its user, or a session
// of its role when the configuration names the role.
func platformAWS(t *testing.T, ts *awsemu.TestServer, asRole bool) aws.Config {
	t.Helper()
	cfg := ts.Config(hostRegion, ts.Credentials(t, platformAccount, "platform"))
	if !asRole {
		return cfg
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(platformRole), RoleSessionName: aws.String("platform")})
	if err != nil {
		t.Fatalf("AssumeRole(platform role) err = %v", err)
	}
	cfg.Credentials = sessionCredentials(out)
	return cfg
}

// sideFromModel builds the customer's side exactly from the generated
// artifacts: the key policy (complete, for a new key) and, for the
// assumed-role pattern, the role's trust and inline policies.
func sideFromModel(m *Model) *side {
	kp := m.KeyPolicy()
	s := &side{keyID: m.Key.KeyID, keyRegion: m.Key.Region, spec: m.KeySpec, multiRegion: m.Key.MultiRegion(),
		keyPolicy: &kp}
	if s.multiRegion {
		s.replicas = m.ReplicaRegions
	}
	if m.Pattern == platform.AssumedRole {
		s.roleName, s.trust, s.rolePolicy = m.RoleName, m.TrustPolicy(), m.RolePolicy()
	}
	return s
}

func mustModel(t testing.TB, cfg *platform.Config, req Request) *Model {
	t.Helper()
	m, err := NewModel(cfg, req)
	if err != nil {
		t.Fatalf("NewModel() err = %v", err)
	}
	return m
}

func request(pattern platform.AccessPattern, spec, id string) Request {
	return Request{TenantID: "tenant-42", ExternalID: testExternalID, Region: hostRegion, Pattern: pattern,
		KeyARN: keyARN(hostRegion, id), KeySpec: spec}
}

func target(m *Model) Target {
	t := Target{TenantID: m.TenantID, ExternalID: m.ExternalID, Region: m.Region, KeyARN: m.Key.String(), CustomerAccount: customerAccount}
	if m.Pattern == platform.AssumedRole {
		t.RoleARN = m.RoleARN()
	}
	return t
}

func validate(t *testing.T, ts *awsemu.TestServer, cfg *platform.Config, tg Target, asRole bool) *Report {
	t.Helper()
	v := &Validator{Config: cfg, AWS: platformAWS(t, ts, asRole)}
	return v.Validate(context.Background(), tg)
}

// wantOnly checks that the failed (and skipped) checks of rep are exactly
// want, by id and code.
func wantFailed(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	var got []string
	for _, c := range rep.Checks {
		if c.Status == Fail || c.Status == Skipped {
			got = append(got, c.ID+"="+c.Code)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("failed checks = %q, want %q\n%s", got, want, rep)
	}
}

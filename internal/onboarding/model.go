package onboarding

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/kms/awskms"
)

// Request is what the platform knows about one tenant's onboarding in one
// hosting region.
type Request struct {
	TenantID   string
	ExternalID string // required for the assumed-role pattern
	Region     string // a hosting region of the configuration
	Pattern    platform.AccessPattern
	// CustomerAccount is the customer's AWS account; it may be left empty
	// when KeyARN is set, whose account it then is.
	CustomerAccount string
	// RoleName is the customer's role (assumed-role pattern); default
	// byok-<tenant id>.
	RoleName string
	// RoleAccount is the account of the customer's role (assumed-role
	// pattern) when it is not the key's: the customer's other account.
	// Default the key's account.
	RoleAccount string
	// KeyARN is the customer's existing key, when there is one: the role
	// policy then names it and its replicas.
	KeyARN string
	// KeySpec is the spec of the key; default the first allowed one.
	KeySpec string
	// Token is an opaque platform reference tagged onto the resources the
	// templates create, so the platform can find its onboarding again;
	// default the tenant id.
	Token string
}

// Model is everything the onboarding artifacts are generated from. Every
// artifact of a tenant and region comes from one Model, so the key policy,
// the role and the templates cannot disagree.
type Model struct {
	TenantID   string
	ExternalID string
	Region     string
	Partition  string
	Pattern    platform.AccessPattern
	// PlatformPrincipal is the ARN customers grant (platform role or
	// account root), from the region's configuration.
	PlatformPrincipal string
	CustomerAccount   string // the key's account
	RoleName          string
	// RoleAccount is the role's account (assumed-role pattern): the key's,
	// or another account of the customer's ([Model.CrossAccount]).
	RoleAccount    string
	Key            *awskms.ARN // nil when the customer has no key yet
	KeySpec        string
	MultiRegion    bool
	ReplicaRegions []string
	Token          string

	rawKeyARN string
}

// NewModel checks req against cfg and returns the model of its artifacts.
// Bad input is a *platform.Error with a stable code.
func NewModel(cfg *platform.Config, req Request) (*Model, error) {
	region, err := cfg.Region(req.Region)
	if err != nil {
		return nil, err
	}
	m := &Model{
		TenantID: req.TenantID, ExternalID: req.ExternalID, Region: region.Name,
		Partition: region.Partition(), Pattern: req.Pattern,
		PlatformPrincipal: region.PlatformPrincipal(), CustomerAccount: req.CustomerAccount,
		RoleName: req.RoleName, RoleAccount: req.RoleAccount, KeySpec: req.KeySpec, Token: req.Token,
		MultiRegion: cfg.Policy.RequireMultiRegion, ReplicaRegions: slices.Clone(region.ReplicaRegions),
		rawKeyARN: req.KeyARN,
	}
	for _, check := range []func(*platform.Config) error{m.checkIDs, m.checkKey, m.checkSpec, m.checkRole, m.checkToken} {
		if err := check(cfg); err != nil {
			return nil, err
		}
	}
	m.setDefaults(cfg)
	return m, nil
}

func (m *Model) checkIDs(*platform.Config) error {
	if err := platform.CheckTenantID(m.TenantID); err != nil {
		return err
	}
	if err := platform.CheckPattern(m.Pattern); err != nil {
		return err
	}
	if m.Pattern == platform.AssumedRole || m.ExternalID != "" {
		return platform.CheckExternalID(m.ExternalID)
	}
	return nil
}

func (m *Model) checkKey(cfg *platform.Config) error {
	if err := m.setKey(cfg); err != nil {
		return err
	}
	if m.CustomerAccount == "" {
		return &platform.Error{Code: platform.CodeMissingField, Field: "customer_account",
			Reason: "the customer's AWS account id is needed (or a key ARN, which names it)"}
	}
	return platform.CheckAccount("customer_account", m.CustomerAccount)
}

// setKey parses the existing key, when there is one. The artifacts name keys
// by key ARN only: an alias may move, a policy naming it would not follow.
func (m *Model) setKey(cfg *platform.Config) error {
	raw := m.rawKeyARN
	if raw == "" {
		return nil
	}
	a, err := platform.ParseKeyARN("key_arn", raw)
	if err != nil {
		return err
	}
	fail := func(format string, args ...any) error {
		return &platform.Error{Code: platform.CodeInvalidKeyARN, Field: "key_arn", Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case a.Kind != awskms.KeyARN:
		return fail("%s is an alias ARN; give the key ARN it names", a)
	case a.Region != m.Region:
		return fail("the key is in %s, the tenant is hosted in %s", a.Region, m.Region)
	case m.CustomerAccount != "" && a.Account != m.CustomerAccount:
		return fail("the key is in account %s, the customer's account is %s", a.Account, m.CustomerAccount)
	case cfg.Policy.RequireMultiRegion && !a.MultiRegion():
		return fail("a multi-Region key (key/mrk-…) is required")
	}
	m.Key, m.CustomerAccount = &a, a.Account
	m.MultiRegion = m.MultiRegion || a.MultiRegion()
	return nil
}

func (m *Model) checkSpec(cfg *platform.Config) error {
	if m.KeySpec == "" {
		m.KeySpec = cfg.Policy.KeySpecs[0]
	}
	if !cfg.Policy.AllowsKeySpec(m.KeySpec) {
		return &platform.Error{Code: platform.CodeInvalidKeySpec, Field: "key_spec",
			Reason: fmt.Sprintf("%q is not allowed here (%s)", m.KeySpec, strings.Join(cfg.Policy.KeySpecs, ", "))}
	}
	return nil
}

func (m *Model) checkRole(cfg *platform.Config) error {
	if m.Pattern != platform.AssumedRole {
		if m.RoleAccount != "" {
			return &platform.Error{Code: platform.CodeInvalidPattern, Field: "role_account",
				Reason: "a role account is only for the assume_role pattern"}
		}
		return nil
	}
	if m.RoleName == "" {
		m.RoleName = defaultRoleName(m.TenantID)
	}
	if err := platform.CheckRoleName("role_name", m.RoleName); err != nil {
		return err
	}
	return m.checkRoleAccount(cfg)
}

// checkRoleAccount accepts a role in any account of the customer's, the
// key's by default, but not in the platform's: the customer would not
// control who may assume it.
func (m *Model) checkRoleAccount(cfg *platform.Config) error {
	if m.RoleAccount == "" {
		m.RoleAccount = m.CustomerAccount
		return nil
	}
	if err := platform.CheckAccount("role_account", m.RoleAccount); err != nil {
		return err
	}
	region, err := cfg.Region(m.Region)
	if err == nil && m.RoleAccount == region.PlatformAccount() {
		return &platform.Error{Code: platform.CodeInvalidAccount, Field: "role_account",
			Reason: "the role is in the platform's own account " + m.RoleAccount + "; create it in an account of the customer's"}
	}
	return nil
}

// CrossAccount reports whether the role is in another account than the
// key: AWS then needs both the key policy (in the key's account) and the
// role's policy (in the role's account), and the templates are split per
// account.
func (m *Model) CrossAccount() bool {
	return m.Pattern == platform.AssumedRole && m.RoleAccount != m.CustomerAccount
}

// defaultRoleName is byok-<tenant>, with the characters IAM refuses in role
// names (':') replaced and cut to IAM's 64.
func defaultRoleName(tenantID string) string {
	n := "byok-" + strings.ReplaceAll(tenantID, ":", "-")
	return n[:min(len(n), 64)]
}

func (m *Model) setDefaults(*platform.Config) {
	if m.Token == "" {
		m.Token = m.TenantID
	}
}

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]{1,128}$`)

// checkToken keeps the token within what a CloudFormation parameter and an
// AWS tag value accept without quoting trouble.
func (m *Model) checkToken(*platform.Config) error {
	if m.Token == "" || tokenRe.MatchString(m.Token) {
		return nil
	}
	return &platform.Error{Code: platform.CodeInvalidToken, Field: "token",
		Reason: "a token is 1 to 128 of A-Z a-z 0-9 _ . : / = + @ -"}
}

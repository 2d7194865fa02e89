package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Tenant is one customer of the platform.
type Tenant struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	ExternalID string    `json:"external_id"`
	State      string    `json:"state"`
	Revision   int64     `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// StateSince is when the tenant entered its State.
	StateSince time.Time `json:"state_since"`
	// KeyBinding is the customer key serving each hosting region; nil
	// until the tenant is enabled.
	KeyBinding *KeyBinding `json:"key_binding,omitempty"`
	// PolicyOverrides are where the platform's policy differs for the
	// tenant; nil when it follows the platform in everything.
	PolicyOverrides *PolicyOverrides `json:"policy_overrides,omitempty"`
}

// PolicyOverrides are the parts of the platform's policy set differently
// for one tenant; an empty field follows the platform.
type PolicyOverrides struct {
	// KeyBinding is "immutable" or "changeable".
	KeyBinding string `json:"key_binding,omitempty"`
}

// KeyBinding is which customer key serves a tenant in each hosting region.
type KeyBinding struct {
	// Regions maps a hosting region to the key's ARN there.
	Regions map[string]string `json:"regions"`
	Enabled time.Time         `json:"enabled"`
}

// CreateTenant is what a new tenant needs; an empty ExternalID lets the
// server choose a random one.
type CreateTenant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	ExternalID string `json:"external_id,omitempty"`
}

// CreateTenant creates a tenant in state pending.
func (c *Client) CreateTenant(ctx context.Context, req CreateTenant) (*Tenant, error) {
	var t Tenant
	return &t, c.call(ctx, http.MethodPost, "/v1/tenants", nil, req, &t)
}

// ListOptions selects a page of tenants.
type ListOptions struct {
	State  string // only tenants in this state; "" for all
	Cursor string // a previous page's Next
	Limit  int    // 0 means the server's default
}

// TenantPage is one page of tenants; Next is empty on the last page.
type TenantPage struct {
	Tenants []*Tenant `json:"tenants"`
	Next    string    `json:"next"`
}

// Tenants returns a page of tenants ordered by id.
func (c *Client) Tenants(ctx context.Context, opts ListOptions) (*TenantPage, error) {
	q := url.Values{}
	set(q, "state", opts.State)
	set(q, "cursor", opts.Cursor)
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var p TenantPage
	return &p, c.call(ctx, http.MethodGet, "/v1/tenants", q, nil, &p)
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// Tenant returns one tenant.
func (c *Client) Tenant(ctx context.Context, id string) (*Tenant, error) {
	var t Tenant
	return &t, c.call(ctx, http.MethodGet, tenantPath(id), nil, nil, &t)
}

// RenameTenant renames a tenant if its revision is still revision
// (otherwise the code is conflict).
func (c *Client) RenameTenant(ctx context.Context, id, name string, revision int64) (*Tenant, error) {
	var t Tenant
	in := map[string]any{"name": name, "revision": revision}
	return &t, c.call(ctx, http.MethodPatch, tenantPath(id), nil, in, &t)
}

// SetPolicyOverrides replaces the tenant's policy overrides as a whole: a
// field left empty follows the platform again. Platform-wide owners and
// super_admins only.
func (c *Client) SetPolicyOverrides(ctx context.Context, id string, o PolicyOverrides) (*Tenant, error) {
	var t Tenant
	return &t, c.call(ctx, http.MethodPut, tenantPath(id, "policy"), nil, o, &t)
}

// Attachment binds a customer key to a tenant in one region.
type Attachment struct {
	Tenant        string    `json:"tenant"`
	Region        string    `json:"region"`
	KeyARN        string    `json:"key_arn"`
	RoleARN       string    `json:"role_arn,omitempty"`
	AccessPattern string    `json:"access_pattern"`
	CreatedAt     time.Time `json:"created_at"`
}

// KeyringStats are the server's key cache counters for a tenant.
type KeyringStats struct {
	CachedKeys  int    `json:"cached_keys"`
	KMSCalls    uint64 `json:"kms_calls"`
	KMSFailed   uint64 `json:"kms_failed"`
	Refused     uint64 `json:"refused"`
	CacheHits   uint64 `json:"cache_hits"`
	CacheMisses uint64 `json:"cache_misses"`
}

// TenantState is a tenant with its attached keys and key cache counters.
type TenantState struct {
	Tenant      *Tenant       `json:"tenant"`
	State       string        `json:"state"`
	Attachments []*Attachment `json:"attachments"`
	Keyring     KeyringStats  `json:"keyring"`
}

// State returns the tenant's state.
func (c *Client) State(ctx context.Context, id string) (*TenantState, error) {
	var s TenantState
	return &s, c.call(ctx, http.MethodGet, tenantPath(id, "state"), nil, nil, &s)
}

// HealthRecord is one probe of the tenant's key.
type HealthRecord struct {
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
	Code      string    `json:"code,omitempty"`
	Key       string    `json:"key,omitempty"`
	Version   uint32    `json:"version,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Health returns up to limit (0: the server's default) of the tenant's newest
// key health records, newest first.
func (c *Client) Health(ctx context.Context, id string, limit int) ([]*HealthRecord, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Records []*HealthRecord `json:"records"`
	}
	return out.Records, c.call(ctx, http.MethodGet, tenantPath(id, "health"), q, nil, &out)
}

// Keys returns the tenant's attached keys.
func (c *Client) Keys(ctx context.Context, id string) ([]*Attachment, error) {
	var out struct {
		Keys []*Attachment `json:"keys"`
	}
	return out.Keys, c.call(ctx, http.MethodGet, tenantPath(id, "keys"), nil, nil, &out)
}

// AttachKey attaches the customer's key (and, for the assumed-role pattern,
// role) for a hosting region.
func (c *Client) AttachKey(ctx context.Context, id, region, keyARN, roleARN string) (*Attachment, error) {
	var a Attachment
	in := map[string]string{"key_arn": keyARN}
	if roleARN != "" {
		in["role_arn"] = roleARN
	}
	return &a, c.call(ctx, http.MethodPut, tenantPath(id, "keys", url.PathEscape(region)), nil, in, &a)
}

// ArtifactRequest selects onboarding artifacts.
type ArtifactRequest struct {
	Region   string // hosting region; required
	Pattern  string // "direct" (default) or "assume_role"
	KeyARN   string // the customer's existing key, if any
	Account  string // the customer's account, when there is no key yet
	RoleName string
	KeySpec  string
	// RoleAccount is the role's account when it is not the key's.
	RoleAccount string
}

func (r ArtifactRequest) query(format string) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"region": r.Region, "pattern": r.Pattern, "key_arn": r.KeyARN,
		"account": r.Account, "role_name": r.RoleName, "key_spec": r.KeySpec, "role_account": r.RoleAccount, "format": format} {
		set(q, k, v)
	}
	return q
}

// Artifact formats.
const (
	FormatKeyPolicy           = "key-policy"
	FormatKeyPolicyStatements = "key-policy-statements"
	FormatTrustPolicy         = "trust-policy"
	FormatRolePolicy          = "role-policy"
	FormatCloudFormation      = "cloudformation"
	FormatTerraform           = "terraform"
	// The role account's files, for a role in another account than the key.
	FormatCloudFormationRoleAccount = "cloudformation-role-account"
	FormatTerraformRoleAccount      = "terraform-role-account"
)

// Artifact returns one onboarding artifact (a Format… constant) as a file.
func (c *Client) Artifact(ctx context.Context, id, format string, req ArtifactRequest) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: tenantPath(id, "artifacts"), query: req.query(format)})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// ArtifactFile is one file of the bundle.
type ArtifactFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Artifacts returns every onboarding artifact for the region as files.
func (c *Client) Artifacts(ctx context.Context, id string, req ArtifactRequest) ([]ArtifactFile, error) {
	var out struct {
		Artifacts []ArtifactFile `json:"artifacts"`
	}
	return out.Artifacts, c.call(ctx, http.MethodGet, tenantPath(id, "artifacts"), req.query("bundle"), nil, &out)
}

// Check is one entry of a validation report.
type Check struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
	Action    string `json:"action,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Policy is the policy lacking a missing permission: key_policy or
	// role_policy, when AWS's answer tells.
	Policy string `json:"policy,omitempty"`
}

// RegionReport is the validation of the key attached in one region.
type RegionReport struct {
	Region string `json:"region"`
	Report struct {
		KeyARN string   `json:"key_arn,omitempty"`
		Checks []*Check `json:"checks"`
	} `json:"report"`
}

// Validation is the answer of Validate.
type Validation struct {
	OK      bool            `json:"ok"`
	Reports []*RegionReport `json:"reports"`
}

// Validate checks every attached key against AWS, check by check.
func (c *Client) Validate(ctx context.Context, id string) (*Validation, error) {
	var v Validation
	return &v, c.call(ctx, http.MethodPost, tenantPath(id, "validate"), nil, nil, &v)
}

// Enabled is the answer of Enable.
type Enabled struct {
	Tenant         *Tenant         `json:"tenant"`
	CreatedVersion uint32          `json:"created_version"`
	Rewrapped      int             `json:"rewrapped"`
	Reports        []*RegionReport `json:"reports"`
}

// Enable validates the tenant's keys and, if every check passes, puts its
// keys under them and makes it active. A failed validation is an *Error with
// code validation_failed whose Details are the reports (see Reports).
func (c *Client) Enable(ctx context.Context, id string) (*Enabled, error) {
	var e Enabled
	return &e, c.call(ctx, http.MethodPost, tenantPath(id, "enable"), nil, nil, &e)
}

// Reports decodes the validation reports of a validation_failed error.
func (e *Error) Reports() ([]*RegionReport, error) {
	var rs []*RegionReport
	return rs, json.Unmarshal(e.Details, &rs)
}

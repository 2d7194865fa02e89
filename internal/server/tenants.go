package server

import (
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// tenantJSON is a tenant as the API shows it.
type tenantJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	ExternalID string          `json:"external_id"`
	State      string          `json:"state"`
	Revision   int64           `json:"revision"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	StateSince time.Time       `json:"state_since"`
	KeyBinding *keyBindingJSON `json:"key_binding,omitempty"`
	// Overrides are where the platform's policy differs for the tenant.
	Overrides *overridesJSON `json:"policy_overrides,omitempty"`
}

type overridesJSON struct {
	KeyBinding string `json:"key_binding,omitempty"`
}

// keyBindingJSON is the customer key the tenant is bound to in each hosting
// region, from its enablement on.
type keyBindingJSON struct {
	Regions map[string]string `json:"regions"`
	Enabled time.Time         `json:"enabled"`
}

func toTenant(t *tenant.Tenant) *tenantJSON {
	out := &tenantJSON{ID: t.ID, Name: t.Name, ExternalID: t.ExternalID, State: string(t.State),
		Revision: t.Revision, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, StateSince: t.StateSince}
	if b := t.KeyBinding; b != nil {
		out.KeyBinding = &keyBindingJSON{Regions: b.Regions, Enabled: b.Enabled}
	}
	if o := t.Overrides; o != (tenant.Overrides{}) {
		out.Overrides = &overridesJSON{KeyBinding: string(o.KeyBinding)}
	}
	return out
}

type attachmentJSON struct {
	Tenant        string    `json:"tenant"`
	Region        string    `json:"region"`
	KeyARN        string    `json:"key_arn"`
	RoleARN       string    `json:"role_arn,omitempty"`
	AccessPattern string    `json:"access_pattern"`
	CreatedAt     time.Time `json:"created_at"`
}

func toAttachment(a *store.Attachment) *attachmentJSON {
	return &attachmentJSON{Tenant: a.Tenant, Region: a.Region, KeyARN: a.KeyARN, RoleARN: a.RoleARN,
		AccessPattern: string(a.AccessPattern), CreatedAt: a.CreatedAt}
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		ExternalID string `json:"external_id"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := s.cfg.Control.CreateTenant(r.Context(), control.CreateTenant{ID: req.ID, Name: req.Name, ExternalID: req.ExternalID})
	if err != nil {
		return err // audited in the caller's chain: the tenant does not exist
	}
	c.tenant = req.ID
	writeJSON(w, http.StatusCreated, toTenant(t))
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	opts := store.ListOptions{State: tenant.State(q.Get("state")), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return apiErr(http.StatusBadRequest, "invalid_argument", "limit must be a number")
		}
		opts.Limit = n
	}
	page, err := s.cfg.Control.Tenants(r.Context(), opts)
	if err != nil {
		return err
	}
	out := struct {
		Tenants []*tenantJSON `json:"tenants"`
		Next    string        `json:"next,omitempty"`
	}{Tenants: []*tenantJSON{}, Next: page.Next}
	for _, t := range page.Tenants {
		out.Tenants = append(out.Tenants, toTenant(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.cfg.Control.Tenant(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenant(t))
	return nil
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Name     string `json:"name"`
		Revision int64  `json:"revision"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Revision <= 0 {
		return apiErr(http.StatusBadRequest, "invalid_argument", "revision is required: the tenant's revision the change is based on")
	}
	t, err := s.cfg.Control.RenameTenant(r.Context(), c.tenant, req.Name, req.Revision)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenant(t))
	return nil
}

// keyringStats is what the state endpoint shows of the tenant's key cache.
type keyringStats struct {
	CachedKeys int    `json:"cached_keys"`
	KMSCalls   uint64 `json:"kms_calls"`
	KMSFailed  uint64 `json:"kms_failed"`
	Refused    uint64 `json:"refused"`
	CacheHits  uint64 `json:"cache_hits"`
	CacheMiss  uint64 `json:"cache_misses"`
}

func (s *Server) getTenantState(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.cfg.Control.Tenant(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	atts, err := s.cfg.Control.Attachments(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	st := s.cfg.Keyring.Stats(c.tenant)
	out := struct {
		Tenant      *tenantJSON       `json:"tenant"`
		State       string            `json:"state"`
		Attachments []*attachmentJSON `json:"attachments"`
		Keyring     keyringStats      `json:"keyring"`
	}{Tenant: toTenant(t), State: string(t.State), Attachments: toAttachments(atts),
		Keyring: keyringStats{st.CachedKeys, st.KMSCalls, st.KMSFailed, st.Refused, st.CacheHits, st.CacheMiss}}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func toAttachments(atts []*store.Attachment) []*attachmentJSON {
	out := []*attachmentJSON{}
	for _, a := range atts {
		out = append(out, toAttachment(a))
	}
	return out
}

type healthJSON struct {
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
	Code      string    `json:"code,omitempty"`
	Key       string    `json:"key,omitempty"`
	Version   uint32    `json:"version,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func (s *Server) tenantHealth(w http.ResponseWriter, r *http.Request, c *call) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > store.MaxPageSize {
			return apiErr(http.StatusBadRequest, "invalid_argument", "limit must be a number from 0 to 1000")
		}
		limit = n
	}
	if _, err := s.cfg.Control.Tenant(r.Context(), c.tenant); err != nil {
		return err
	}
	recs, err := s.cfg.Store.Health(r.Context(), c.tenant, limit)
	if err != nil {
		return err
	}
	out := struct {
		Records []healthJSON `json:"records"`
	}{Records: []healthJSON{}}
	for _, h := range recs {
		out.Records = append(out.Records, healthJSON{h.At, string(h.Outcome), h.Code, h.Key, h.Version, h.RequestID, h.Detail})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	atts, err := s.cfg.Control.Attachments(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Keys []*attachmentJSON `json:"keys"`
	}{toAttachments(atts)})
	return nil
}

func (s *Server) attachKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		KeyARN  string `json:"key_arn"`
		RoleARN string `json:"role_arn"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c.keyARN = req.KeyARN
	a, err := s.cfg.Control.AttachKey(r.Context(), control.Attach{Tenant: c.tenant, Region: r.PathValue("region"),
		KeyARN: req.KeyARN, RoleARN: req.RoleARN})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAttachment(a))
	return nil
}

// reportsOK reports whether every region's validation passed.
func reportsOK(rs []control.RegionReport) bool {
	for _, r := range rs {
		if r.Report == nil || !r.Report.OK() {
			return false
		}
	}
	return len(rs) > 0
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noBody(r); err != nil {
		return err
	}
	rs, err := s.cfg.Control.Validate(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []control.RegionReport{}
	}
	c.keyARN = firstKey(rs)
	writeJSON(w, http.StatusOK, struct {
		OK      bool                   `json:"ok"`
		Reports []control.RegionReport `json:"reports"`
	}{reportsOK(rs), rs})
	return nil
}

func firstKey(rs []control.RegionReport) string {
	for _, r := range rs {
		if r.Report != nil && r.Report.KeyARN != "" {
			return r.Report.KeyARN
		}
	}
	return ""
}

func (s *Server) enable(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noBody(r); err != nil {
		return err
	}
	res, err := s.cfg.Control.Enable(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	c.keyARN = firstKey(res.Reports)
	writeJSON(w, http.StatusOK, struct {
		Tenant    *tenantJSON            `json:"tenant"`
		Created   uint32                 `json:"created_version,omitempty"`
		Rewrapped int                    `json:"rewrapped"`
		Reports   []control.RegionReport `json:"reports"`
	}{toTenant(res.Tenant), res.Created, res.Rewrapped, res.Reports})
	return nil
}

// noBody refuses a body on routes that take none, rather than ignore it.
func noBody(r *http.Request) error {
	var b [1]byte
	n, _ := r.Body.Read(b[:])
	if n > 0 {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "this route takes no request body")
	}
	return nil
}

// artifactFiles maps the formats of GET /v1/tenants/{id}/artifacts to the
// files the onboarding model makes, so both always agree.
var artifactFiles = map[string]string{
	"key-policy-statements": "key-policy-statements.json",
	"key-policy":            "key-policy.json",
	"trust-policy":          "trust-policy.json",
	"role-policy":           "role-policy.json",
	"cloudformation":        "cloudformation.yaml",
	"terraform":             "main.tf",
	// A role in another account than the key: that account's own files.
	"cloudformation-role-account": onboarding.RoleAccountCloudFormation,
	"terraform-role-account":      onboarding.RoleAccountTerraform,
}

var contentTypes = map[string]string{
	".json": "application/json",
	".yaml": "application/yaml",
	".tf":   "text/plain; charset=utf-8",
}

// artifactNamed finds an artifact by file name among those the model makes.
func artifactNamed(m *onboarding.Model, name string) ([]byte, bool) {
	for _, a := range m.Artifacts() {
		if a.Name == name {
			return a.Content, true
		}
	}
	return nil, false
}

func (s *Server) artifacts(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "bundle"
	}
	name, ok := artifactFiles[format]
	if !ok && format != "bundle" {
		return apiErr(http.StatusBadRequest, "invalid_format", "format must be one of bundle, key-policy, key-policy-statements, trust-policy, role-policy, cloudformation, terraform, cloudformation-role-account, terraform-role-account")
	}
	pattern := platform.AccessPattern(q.Get("pattern"))
	if pattern == "" {
		pattern = platform.Direct
	}
	m, err := s.cfg.Control.Artifacts(r.Context(), c.tenant, onboarding.Request{Region: q.Get("region"), Pattern: pattern,
		CustomerAccount: q.Get("account"), RoleName: q.Get("role_name"), RoleAccount: q.Get("role_account"), KeyARN: q.Get("key_arn"), KeySpec: q.Get("key_spec")})
	if err != nil {
		return err
	}
	if format == "bundle" {
		return writeBundle(w, m)
	}
	body, ok := artifactNamed(m, name)
	if !ok {
		return apiErr(http.StatusNotFound, "artifact_not_found", "this artifact does not exist for the access pattern (or before the customer has a key)")
	}
	w.Header().Set("Content-Type", contentTypes[path.Ext(name)])
	w.Write(body)
	return nil
}

func writeBundle(w http.ResponseWriter, m *onboarding.Model) error {
	type file struct {
		Name    string `json:"name"`
		Content string `json:"content"`
	}
	out := struct {
		Artifacts []file `json:"artifacts"`
	}{}
	for _, a := range m.Artifacts() {
		out.Artifacts = append(out.Artifacts, file{a.Name, string(a.Content)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setTenantPolicy replaces the tenant's policy overrides: the body is the
// whole set, so a field left out follows the platform again.
func (s *Server) setTenantPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var req overridesJSON
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := s.cfg.Control.SetOverrides(r.Context(), c.tenant, tenant.Overrides{KeyBinding: platform.KeyBinding(req.KeyBinding)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenant(t))
	return nil
}

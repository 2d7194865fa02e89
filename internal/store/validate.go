package store

import (
	"encoding/base64"
	"runtime/debug"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// Limits on stored fields. They keep rows small and identical in both
// databases (PostgreSQL refuses NUL in text; SQLite would store it).
const (
	MaxNameLen        = 256
	MinExternalIDLen  = 8
	MaxExternalIDLen  = 128
	MaxRegionLen      = 32
	MaxARNLen         = 2048
	MaxWrappings      = 32
	MaxFailover       = 16
	MaxCiphertextLen  = 16 << 10
	MaxIdentityTagLen = 1024
	MaxShortFieldLen  = 256
	MaxWrapExternalID = 1224 // AWS's limit for sts:ExternalId
	DefaultPageSize   = 100
	MaxPageSize       = 1000
)

// ValidateTenant checks every field a caller sets on a tenant: ID, Name,
// ExternalID and State; the tenant's typed members are checked when they
// are encoded (tenant.MarshalModel). Revision and timestamps are the
// store's.
func ValidateTenant(t *tenant.Tenant) error {
	if !envelope.ValidTenantID(t.ID) {
		return Invalid("tenant id %q must be 1 to %d characters of A-Z a-z 0-9 . _ : -", Clip(t.ID), envelope.MaxTenantIDLen)
	}
	if !validName(t.Name) {
		return Invalid("tenant %s: name must be 1 to %d bytes of UTF-8 without control characters", t.ID, MaxNameLen)
	}
	if !ValidExternalID(t.ExternalID) {
		return Invalid("tenant %s: external id must be %d to %d characters of A-Z a-z 0-9 + = , . @ : / -", t.ID, MinExternalIDLen, MaxExternalIDLen)
	}
	if !t.State.Valid() {
		return Invalid("tenant %s: unknown state %q", t.ID, Clip(string(t.State)))
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// ValidExternalID reports whether s is a usable sts:ExternalId for a tenant.
func ValidExternalID(s string) bool {
	if len(s) < MinExternalIDLen || len(s) > MaxExternalIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && !strings.ContainsRune("+=,.@:/-", rune(c)) {
			return false
		}
	}
	return true
}

// ValidRegion reports whether s looks like a region name (eu-west-1): 1 to
// MaxRegionLen lowercase letters, digits and hyphens, starting with a letter.
func ValidRegion(s string) bool {
	if s == "" || len(s) > MaxRegionLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks an attachment. Deep ARN checks (partition, account,
// region) belong to tenant validation; the store only keeps out what could
// never be an ARN.
func (a *Attachment) Validate() error {
	if !envelope.ValidTenantID(a.Tenant) {
		return Invalid("attachment: invalid tenant id %q", Clip(a.Tenant))
	}
	if !ValidRegion(a.Region) {
		return Invalid("attachment of tenant %s: invalid region %q", a.Tenant, Clip(a.Region))
	}
	if !validARN(a.KeyARN) {
		return Invalid("attachment of tenant %s in %s: key ARN must start with arn: and be at most %d bytes", a.Tenant, a.Region, MaxARNLen)
	}
	return a.validAccess()
}

func (a *Attachment) validAccess() error {
	switch a.AccessPattern {
	case AccessDirect:
		if a.RoleARN != "" {
			return Invalid("attachment of tenant %s in %s: direct access takes no role ARN", a.Tenant, a.Region)
		}
	case AccessAssumeRole:
		if !validARN(a.RoleARN) {
			return Invalid("attachment of tenant %s in %s: assume_role access needs a role ARN", a.Tenant, a.Region)
		}
	default:
		return Invalid("attachment of tenant %s in %s: access pattern must be direct or assume_role, not %q", a.Tenant, a.Region, Clip(string(a.AccessPattern)))
	}
	return nil
}

func validARN(s string) bool {
	return strings.HasPrefix(s, "arn:") && len(s) <= MaxARNLen && validText(s)
}

// validText reports whether s is UTF-8 without NUL, which both databases
// store alike.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// ValidateVersion checks a key version before it is stored: a valid tenant,
// a version from 1, a creation time within years 1 to 9999, and valid
// wrappings.
func ValidateVersion(v *keyring.Version) error {
	if err := ValidateVersionRef(v.Tenant, v.Version); err != nil {
		return err
	}
	if y := v.Created.Year(); !v.Created.IsZero() && (y < 1 || y > 9999) {
		return Invalid("tenant %s key version %d: creation time out of range", v.Tenant, v.Version)
	}
	return ValidateWrappings(v.Tenant, v.Version, v.Wrappings)
}

// ValidateVersionRef checks a tenant id and a key version number.
func ValidateVersionRef(tenant string, version uint32) error {
	if !envelope.ValidTenantID(tenant) {
		return Invalid("invalid tenant id %q", Clip(tenant))
	}
	if version == 0 {
		return Invalid("tenant %s: key versions start at 1", tenant)
	}
	return nil
}

// ValidateWrappings checks the wrappings of a version: at least one (a
// version without any could never be opened again; shredding is
// [Store.ShredTenantKeys]), at most MaxWrappings, each well formed.
func ValidateWrappings(tenant string, version uint32, ws []kms.Wrapped) error {
	if len(ws) == 0 || len(ws) > MaxWrappings {
		return Invalid("tenant %s key version %d: needs 1 to %d wrappings, got %d", tenant, version, MaxWrappings, len(ws))
	}
	for i := range ws {
		if what := badWrapping(&ws[i]); what != "" {
			return Invalid("tenant %s key version %d wrapping %d: %s", tenant, version, i, what)
		}
	}
	return nil
}

// badWrapping says what is wrong with w, or "" if nothing is.
func badWrapping(w *kms.Wrapped) string {
	switch {
	case !validShort(w.Key.Provider, true) || !validShort(w.Algorithm, true):
		return "provider and algorithm must be 1 to 256 bytes of text"
	case w.Key.ID == "" || len(w.Key.ID) > MaxARNLen || !validText(w.Key.ID):
		return "key id must be 1 to 2048 bytes of text"
	case w.Key.Region != "" && !ValidRegion(w.Key.Region):
		return "invalid region"
	case !validRegions(w.Key.FailoverRegions):
		return "invalid failover regions"
	case len(w.Key.RoleARN) > MaxARNLen || !validText(w.Key.RoleARN):
		return "role ARN too long or not text"
	case len(w.Key.ExternalID) > MaxWrapExternalID || !validText(w.Key.ExternalID):
		return "external id too long or not text"
	case len(w.Ciphertext) == 0 || len(w.Ciphertext) > MaxCiphertextLen:
		return "ciphertext must be 1 to 16384 bytes"
	case len(w.IdentityTag) > MaxIdentityTagLen:
		return "identity tag exceeds 1024 bytes"
	case !validShort(w.RequestID, false):
		return "request id too long or not text"
	}
	return ""
}

func validShort(s string, required bool) bool {
	if required && s == "" {
		return false
	}
	return len(s) <= MaxShortFieldLen && validText(s)
}

func validRegions(rs []string) bool {
	if len(rs) > MaxFailover {
		return false
	}
	for _, r := range rs {
		if !ValidRegion(r) {
			return false
		}
	}
	return true
}

// ValidateWriter checks a writer name: 1 to 256 bytes of text.
func ValidateWriter(w string) error {
	if !validShort(w, true) {
		return Invalid("writer must be 1 to %d bytes of text", MaxShortFieldLen)
	}
	return nil
}

// JoinRegions and SplitRegions store failover regions in one column; regions
// never contain a comma.
func JoinRegions(rs []string) string { return strings.Join(rs, ",") }

// SplitRegions is the inverse of JoinRegions; "" gives nil.
func SplitRegions(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// NilIfEmpty returns nil for an empty slice, so stored and loaded wrappings
// compare equal whatever the database returns for an empty blob.
func NilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Now returns the current time as stores keep it: UTC, in microseconds
// (PostgreSQL's resolution).
func Now() time.Time { return Trunc(time.Now()) }

// Trunc returns t in UTC truncated to microseconds.
func Trunc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// DefaultWriter names this build for [Store.VersionsByWriter]: "byok",
// the module version and, when known, the VCS revision.
func DefaultWriter() string {
	w := "byok"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return w
	}
	w += " " + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			w += " " + s.Value
		}
	}
	return w
}

// PageLimit returns the page size opts asks for.
func PageLimit(opts ListOptions) (int, error) {
	switch {
	case opts.Limit < 0 || opts.Limit > MaxPageSize:
		return 0, Invalid("page size must be 0 to %d, got %d", MaxPageSize, opts.Limit)
	case opts.Limit == 0:
		return DefaultPageSize, nil
	}
	return opts.Limit, nil
}

// ValidateListOptions checks the state filter, the cursor and the limit.
// It returns the tenant id to list after ("" from the start) and the limit.
func ValidateListOptions(opts ListOptions) (after string, limit int, err error) {
	if opts.State != "" && !opts.State.Valid() {
		return "", 0, Invalid("unknown state %q", Clip(string(opts.State)))
	}
	if after, err = ParseCursor(opts.Cursor); err != nil {
		return "", 0, err
	}
	limit, err = PageLimit(opts)
	return after, limit, err
}

const cursorPrefix = "t1:"

// MakeCursor returns the opaque cursor of the page after tenant id last.
func MakeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + last))
}

// ParseCursor returns the tenant id a cursor continues after; "" gives "".
func ParseCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if err != nil || !ok || !envelope.ValidTenantID(id) {
		return "", Invalid("malformed page cursor")
	}
	return id, nil
}

// FinishPage trims a result fetched with limit+1 rows to limit and sets Next.
func FinishPage(ts []*tenant.Tenant, limit int) *TenantPage {
	if len(ts) <= limit {
		return &TenantPage{Tenants: ts}
	}
	ts = ts[:limit]
	return &TenantPage{Tenants: ts, Next: MakeCursor(ts[limit-1].ID)}
}

// CheckMutation refuses changes mutate may not make and validates the result.
func CheckMutation(before, after *tenant.Tenant) error {
	if after.ID != before.ID || after.Revision != before.Revision || !after.CreatedAt.Equal(before.CreatedAt) ||
		!after.UpdatedAt.Equal(before.UpdatedAt) || !after.StateSince.Equal(before.StateSince) {
		return Invalid("tenant %s: an update may not change id, revision or timestamps", before.ID)
	}
	return ValidateTenant(after)
}

// BadTenantID returns the ErrInvalid error for a malformed tenant id.
func BadTenantID(id string) error { return Invalid("invalid tenant id %q", Clip(id)) }

// Clip shortens untrusted input echoed in error messages.
func Clip(s string) string {
	const n = 64
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

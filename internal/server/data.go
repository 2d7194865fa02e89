package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/errcode"
	"github.com/byok-dev/byok/internal/tenant"
)

// ContextHeader carries a stream's encryption context: comma-separated
// key=value pairs, each key and value percent-encoded (URL query escaping),
// e.g. "table=orders,row=42" or "path=a%2Cb". Records carry their context
// in the JSON body instead.
const ContextHeader = "Byok-Context"

// maxContextHeader bounds the context header; envelope bounds the context
// itself.
const maxContextHeader = 8 << 10

// stateErrors are the answers for tenants whose state refuses data.
var stateErrors = map[tenant.State]*Error{
	tenant.StatePending:        apiErr(http.StatusConflict, CodeTenantNotActive, "the tenant is not enabled yet: attach, validate and enable its key first"),
	tenant.StateKeyUnavailable: apiErr(http.StatusLocked, CodeKeyUnavailable, "the tenant's key is unavailable (disabled, denied or deleted); data operations resume when the key is back"),
	tenant.StateSuspended:      apiErr(http.StatusLocked, CodeTenantSuspended, "the tenant is suspended because its key has been unavailable for too long"),
	tenant.StateDestroyed:      apiErr(http.StatusGone, "key_destroyed", "the tenant's key was deleted; its data can never be opened again"),
	tenant.StateShredded:       apiErr(http.StatusGone, "tenant_shredded", "the tenant was offboarded; its data can never be opened again"),
}

// admitData refuses data operations for tenants whose state does not allow
// them. A tenant whose key deletion is pending is not refused here, since
// the customer may still cancel; AWS KMS refuses the key itself, so its
// data operations fail with key_pending_deletion once its cached keys are
// evicted. Where the monitor recorded this region's key health, the
// region's key decides for a tenant whose state follows its key (see
// keyStates), so a key unusable here is refused before any KMS call.
func (s *Server) admitData(ctx context.Context, id string) error {
	t, err := s.tenantState(ctx, id)
	if err != nil {
		return err
	}
	if t.State == tenant.StatePending && s.cfg.ServePending {
		return nil
	}
	if h := t.HealthIn(s.cfg.Region); h != nil && keyStates[t.State] {
		return regionError(h)
	}
	if e := reasonError(t); e != nil {
		return e
	}
	if e, ok := stateErrors[t.State]; ok {
		return e
	}
	return nil
}

// keyStates are the tenant states that follow its key's health alone,
// which a region's own health refines: a tenant is key_unavailable only
// when no probed region's key serves, so another region's key may serve
// here.
var keyStates = map[tenant.State]bool{tenant.StateActive: true, tenant.StateKeyUnavailable: true, tenant.StateDeletionPending: true}

// regionError answers for a region whose key is unusable, with the code of
// the failure the region's probe saw.
func regionError(h *tenant.RegionHealth) error {
	switch h.State {
	case tenant.StateKeyUnavailable:
		if msg, ok := reasonMessages[h.Reason]; ok {
			return apiErr(http.StatusLocked, h.Reason, msg)
		}
		return stateErrors[tenant.StateKeyUnavailable]
	case tenant.StateDestroyed:
		return apiErr(http.StatusGone, "key_destroyed", "the tenant's key in this region was deleted; its data cannot be opened here")
	}
	return nil
}

// reasonMessages explain the failures the monitor records as the reason a
// tenant's key became unavailable.
var reasonMessages = map[string]string{
	"key_disabled":         "the customer disabled the tenant's key; data operations resume when it is enabled again",
	"key_access_denied":    "the customer's key policy or role no longer lets the platform use the key; data operations resume when access is restored",
	"key_not_found":        "the tenant's key cannot be found; data operations resume if it comes back",
	"key_pending_deletion": "the customer scheduled the tenant's key for deletion; data operations resume if the deletion is cancelled and the key enabled",
}

// reasonError answers a key_unavailable tenant with the specific code of
// the failure the monitor saw, when it recorded one.
func reasonError(t *tenant.Tenant) *Error {
	if t.State != tenant.StateKeyUnavailable {
		return nil
	}
	msg, ok := reasonMessages[t.Outage.Reason]
	if !ok {
		return nil
	}
	return apiErr(http.StatusLocked, t.Outage.Reason, msg)
}

// tenantState returns the tenant as the tenant manager's cache has it: the
// data plane would otherwise query the database on every record, and the
// keyring's admission check on a cold unwrap reads the same entry.
func (s *Server) tenantState(ctx context.Context, id string) (*tenant.Tenant, error) {
	return s.cfg.Control.CachedTenant(ctx, id)
}

type recordIn struct {
	Plaintext  []byte           `json:"plaintext,omitempty"`
	Ciphertext []byte           `json:"ciphertext,omitempty"`
	Context    envelope.Context `json:"context,omitempty"`
}

type recordOut struct {
	Plaintext  []byte `json:"plaintext,omitempty"`
	Ciphertext []byte `json:"ciphertext,omitempty"`
	Error      *Error `json:"error,omitempty"`
}

// recordKind is what encryption and decryption of records differ in.
type recordKind struct {
	in, out  string // the JSON field read and answered, quoted
	op       func(s *Server, ctx context.Context, tenant string, in *recordIn) (*recordOut, error)
	appendOp func(s *Server, ctx context.Context, dst []byte, tenant string, data []byte) ([]byte, error)
}

var (
	sealing = &recordKind{in: `"plaintext"`, out: `"ciphertext"`, op: (*Server).sealOne, appendOp: (*Server).appendSeal}
	opening = &recordKind{in: `"ciphertext"`, out: `"plaintext"`, op: (*Server).openOne, appendOp: (*Server).appendOpen}
)

func (s *Server) encrypt(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.records(w, r, c, sealing, false)
}

func (s *Server) decrypt(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.records(w, r, c, opening, false)
}

func (s *Server) encryptBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.records(w, r, c, sealing, true)
}

func (s *Server) decryptBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.records(w, r, c, opening, true)
}

// records answers a single-record or batch request, through the fast path
// when the body has the plain shape.
func (s *Server) records(w http.ResponseWriter, r *http.Request, c *call, kind *recordKind, batch bool) error {
	b := getBufs()
	defer putBufs(b)
	body, err := readBody(r, b.body)
	b.body = body
	if err != nil {
		return err
	}
	var ok bool
	if b.spans, ok = plainSpans(body, kind.in, batch, b.spans); ok {
		if b.values, ok = decodeValues(body, b.spans, b.values); ok {
			return s.fastRecords(r.Context(), w, c, kind, batch, b)
		}
	}
	if !batch {
		var in recordIn
		if err := decodeBytes(body, &in); err != nil {
			return err
		}
		return s.single(w, r, c, kind, &in)
	}
	var in struct {
		Records []recordIn `json:"records"`
	}
	if err := decodeBytes(body, &in); err != nil {
		return err
	}
	if in.Records == nil {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, `the body has no records: give {"records":[...]}`)
	}
	return s.batch(w, r, c, kind, in.Records)
}

func (s *Server) single(w http.ResponseWriter, r *http.Request, c *call, kind *recordKind, in *recordIn) error {
	if err := s.admitData(r.Context(), c.tenant); err != nil {
		return err
	}
	out, err := kind.op(s, r.Context(), c.tenant, in)
	if err != nil {
		return err
	}
	writeRecord(w, out)
	return nil
}

func (s *Server) sealOne(ctx context.Context, tenant string, in *recordIn) (*recordOut, error) {
	if in.Ciphertext != nil {
		return nil, apiErr(http.StatusBadRequest, CodeInvalidRequest, "encrypt takes plaintext, not ciphertext")
	}
	if in.Plaintext == nil {
		return nil, apiErr(http.StatusBadRequest, CodeInvalidRequest, `the record has no plaintext: give its base64 ("" for an empty record)`)
	}
	ct, err := s.cfg.Keyring.AppendSeal(ctx, nil, tenant, in.Plaintext, in.Context, nil)
	if err != nil {
		return nil, err
	}
	return &recordOut{Ciphertext: ct}, nil
}

func (s *Server) appendSeal(ctx context.Context, dst []byte, tenant string, pt []byte) ([]byte, error) {
	return s.cfg.Keyring.AppendSeal(ctx, dst, tenant, pt, nil, nil)
}

func (s *Server) openOne(ctx context.Context, tenant string, in *recordIn) (*recordOut, error) {
	if in.Plaintext != nil {
		return nil, apiErr(http.StatusBadRequest, CodeInvalidRequest, "decrypt takes ciphertext, not plaintext")
	}
	if in.Ciphertext == nil {
		return nil, apiErr(http.StatusBadRequest, CodeInvalidRequest, "the record has no ciphertext: give its base64")
	}
	pt, err := s.appendOpenContext(ctx, nil, tenant, in.Ciphertext, in.Context)
	if err != nil {
		return nil, err
	}
	if pt == nil {
		pt = []byte{} // answered as "" (see appendRecordOut)
	}
	return &recordOut{Plaintext: pt}, nil
}

func (s *Server) appendOpen(ctx context.Context, dst []byte, tenant string, ct []byte) ([]byte, error) {
	return s.appendOpenContext(ctx, dst, tenant, ct, nil)
}

func (s *Server) appendOpenContext(ctx context.Context, dst []byte, tenant string, ct []byte, ec envelope.Context) ([]byte, error) {
	if len(ct) == 0 {
		return nil, coded("invalid_ciphertext", errcode.Meaning("invalid_ciphertext"))
	}
	return s.cfg.Keyring.AppendOpen(ctx, dst, tenant, ct, ec)
}

// batch runs the kind's operation on each record. Failures of one record
// (bad context, altered ciphertext) are answered per record; a failure that
// concerns the tenant's key fails the whole batch, as every record would
// fail the same way.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, c *call, kind *recordKind, records []recordIn) error {
	if err := s.checkBatch(len(records)); err != nil {
		return err
	}
	if err := s.admitData(r.Context(), c.tenant); err != nil {
		return err
	}
	results := make([]*recordOut, len(records))
	for i := range records {
		res, err := kind.op(s, r.Context(), c.tenant, &records[i])
		if err != nil && tenantWide(err) {
			return err
		}
		results[i] = s.recordResult(c, res, err)
	}
	writeResults(w, results)
	return nil
}

func (s *Server) checkBatch(n int) error {
	if n == 0 {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "records is empty")
	}
	if n > s.cfg.MaxBatch {
		return apiErr(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, "too many records in one batch")
	}
	return nil
}

func (s *Server) recordResult(c *call, res *recordOut, err error) *recordOut {
	if err == nil {
		c.count++
		return res
	}
	c.failed++
	e := classify(err)
	if e.Code == CodeInternal {
		s.logFailure(c, err)
	}
	return &recordOut{Error: &Error{Code: e.Code, Message: e.Message}}
}

// tenantWide reports whether err concerns the tenant or its key (KMS,
// admission, timeouts) rather than one record: only the envelope's codes and
// our own input checks are about the record.
func tenantWide(err error) bool {
	if envelope.Code(err) != "" {
		return false
	}
	var e *Error
	return !errors.As(err, &e) || e.Status != http.StatusBadRequest
}

// parseContext reads the ContextHeader.
func parseContext(h string) (envelope.Context, error) {
	if h == "" {
		return nil, nil
	}
	if len(h) > maxContextHeader {
		return nil, apiErr(http.StatusBadRequest, CodeInvalidContext, "the "+ContextHeader+" header is too long")
	}
	ec := envelope.Context{}
	for _, pair := range strings.Split(h, ",") {
		if err := addPair(ec, strings.TrimSpace(pair)); err != nil {
			return nil, err
		}
	}
	return ec, nil
}

func addPair(ec envelope.Context, pair string) error {
	k, v, ok := strings.Cut(pair, "=")
	bad := apiErr(http.StatusBadRequest, CodeInvalidContext, ContextHeader+" must be comma-separated key=value pairs, percent-encoded")
	if !ok {
		return bad
	}
	k, errK := url.QueryUnescape(k)
	v, errV := url.QueryUnescape(v)
	if errK != nil || errV != nil || k == "" {
		return bad
	}
	if _, dup := ec[k]; dup {
		return apiErr(http.StatusBadRequest, CodeInvalidContext, "a key appears twice in "+ContextHeader)
	}
	ec[k] = v
	return nil
}

// startStream checks a stream request and readies the connection: the body is
// read while the answer is written (full duplex), the body's minimum rate
// bounds its reads (see timedBody), and the stream timeout also bounds
// writes that do not watch the context.
func (s *Server) startStream(w http.ResponseWriter, r *http.Request, c *call) (envelope.Context, error) {
	ec, err := parseContext(r.Header.Get(ContextHeader))
	if err != nil {
		return nil, err
	}
	if err := s.admitData(r.Context(), c.tenant); err != nil {
		return nil, err
	}
	rc := http.NewResponseController(w)
	rc.EnableFullDuplex() // HTTP/2 is always full duplex
	rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamTimeout))
	w.Header().Set("Content-Type", "application/octet-stream")
	return ec, nil
}

// encryptStream seals the body as it arrives into the envelope stream format;
// memory stays bounded by the segment size whatever the body's size.
func (s *Server) encryptStream(w http.ResponseWriter, r *http.Request, c *call) error {
	ec, err := s.startStream(w, r, c)
	if err != nil {
		return err
	}
	sw, err := s.cfg.Keyring.NewWriter(r.Context(), c.tenant, w, ec, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(sw, r.Body); err != nil {
		return err
	}
	return sw.Close()
}

// decryptStream opens an envelope stream as it arrives. Each segment is
// authenticated before its plaintext is sent; a stream that fails later
// (altered, truncated) breaks the connection, so the client's read fails
// and it must discard what it received.
func (s *Server) decryptStream(w http.ResponseWriter, r *http.Request, c *call) error {
	ec, err := s.startStream(w, r, c)
	if err != nil {
		return err
	}
	sr, err := s.cfg.Keyring.NewReader(r.Context(), c.tenant, r.Body, ec, nil)
	if err != nil {
		return err
	}
	_, err = sr.WriteTo(w)
	return err
}

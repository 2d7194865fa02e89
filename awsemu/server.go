package awsemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/byok-dev/byok/awsemu/internal/sigv4"
)

// maxBody bounds a request body; the largest KMS request (a policy of 32 KiB
// or a 6 KiB ciphertext, base64) fits many times over.
const maxBody = 1 << 20

// Server is the emulator: an [http.Handler] that serves KMS and STS for every
// configured region, plus the test controls under [AdminPrefix].
type Server struct {
	mu        sync.Mutex
	st        *state
	regions   []string
	nextSweep time.Time

	faults faults
	events eventLog

	// stateFile, when set, receives an atomic snapshot after every change.
	stateFile string
}

// New returns an emulator holding world. The world is copied.
func New(w *World) (*Server, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	st, err := buildState(w)
	if err != nil {
		return nil, err
	}
	return &Server{st: st, regions: slices.Clone(w.Regions)}, nil
}

// Regions returns the regions the server answers for.
func (s *Server) Regions() []string { return slices.Clone(s.regions) }

// principal is an authenticated caller.
type principal struct {
	Account     string
	ARN         string // user ARN or assumed-role ARN
	RoleARN     string // set for assumed-role sessions
	Role        string
	SessionName string
	policies    []string // identity policy documents
}

// call is one authenticated request in flight.
type call struct {
	p         *principal
	region    string
	service   string
	op        string
	body      []byte
	requestID string
	ev        *Event
}

// ServeHTTP serves one AWS request, or a test control under [AdminPrefix].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	c := &call{requestID: newUUID()}
	c.ev = &Event{EventTime: s.Now(), RequestID: c.requestID}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	c.body = body
	c.service, c.op = identifyRequest(r, body)
	if err != nil {
		s.finish(w, c, validationErr("Request body exceeds the maximum size"), nil)
		return
	}
	cred, authErr := s.authenticate(r, c)
	if cred != nil && s.applyFaults(w, c) {
		return
	}
	if authErr != nil {
		s.finish(w, c, authErr, nil)
		return
	}
	out, err := s.dispatch(c)
	s.finish(w, c, err, out)
}

// identifyRequest finds the service and operation before authentication, so
// that errors use the right protocol.
func identifyRequest(r *http.Request, body []byte) (service, op string) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		op, _ = strings.CutPrefix(t, "TrentService.")
		return "kms", op
	}
	return "sts", stsAction(r, body)
}

func (s *Server) authenticate(r *http.Request, c *call) (*sigv4.Credential, error) {
	cred, err := sigv4.Parse(r)
	if errors.Is(err, sigv4.ErrMissing) {
		return nil, errMissingAuth.forService(c.service)
	}
	if err != nil {
		return nil, errIncompleteSig.forService(c.service)
	}
	c.service, c.region = cred.Service, cred.Region
	c.ev.AWSRegion = cred.Region
	if !slices.Contains(s.regions, cred.Region) {
		return cred, errUnknownKey.forService(c.service)
	}
	if c.service != "kms" && c.service != "sts" {
		return cred, errUnknownKey.forService(c.service)
	}
	secret, p, aerr := s.lookupCredential(cred.AccessKeyID, r.Header.Get("X-Amz-Security-Token"))
	if aerr != nil {
		return cred, aerr.forService(c.service)
	}
	err = sigv4.Verify(r, c.body, cred, secret, time.Now())
	if errors.Is(err, sigv4.ErrExpired) {
		return cred, skewErr(c.service, cred.Time, time.Now().UTC())
	}
	if err != nil {
		return cred, errBadSignature.forService(c.service)
	}
	c.p = p
	c.ev.UserIdentity = UserIdentity{AccountID: p.Account, ARN: p.ARN}
	return cred, nil
}

// skewErr is AWS's answer to a request signed too long before or after now.
func skewErr(service string, signed, now time.Time) *apiError {
	e := errBadSignature.forService(service)
	f := func(t time.Time) string { return t.Format(sigv4.TimeFormat) }
	if signed.Before(now) {
		e.Message = fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", f(signed), f(now.Add(-sigv4.MaxSkew)), f(now))
	} else {
		e.Message = fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)", f(signed), f(now.Add(sigv4.MaxSkew)), f(now))
	}
	return e
}

// lookupCredential finds the secret and principal for an access key.
func (s *Server) lookupCredential(akid, token string) (string, *principal, *authErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ak, ok := s.st.AccessKeys[akid]; ok {
		u := s.st.Accounts[ak.account].Users[ak.user]
		return u.SecretAccessKey, userPrincipal(ak.account, u), nil
	}
	sess, ok := s.st.Sessions[akid]
	if !ok {
		if exp, ok := tokenExpiry(s.st.SessionKey, akid, token); ok && !s.now().Before(exp) {
			return "", nil, &errExpiredToken
		}
		return "", nil, &errUnknownKey
	}
	if token != sess.SessionToken {
		return "", nil, &errUnknownKey
	}
	if !s.now().Before(sess.Expiration) {
		return "", nil, &errExpiredToken
	}
	r := s.st.Accounts[sess.Account].Roles[sess.Role]
	if r == nil {
		return "", nil, &errUnknownKey
	}
	return sess.SecretAccessKey, rolePrincipal(sess, r), nil
}

func userPrincipal(acct string, u *user) *principal {
	arn := userARN(acct, u.Name)
	return &principal{Account: acct, ARN: arn, policies: policyDocs(u.Policies)}
}

func rolePrincipal(sess *session, r *role) *principal {
	rarn := roleARN(sess.Account, r.Name)
	return &principal{
		Account: sess.Account, ARN: assumedRoleARN(sess.Account, r.Name, sess.SessionName), RoleARN: rarn,
		Role: r.Name, SessionName: sess.SessionName,
		policies: policyDocs(r.Policies),
	}
}

// userID is the caller's IAM unique id as GetCallerIdentity reports it.
func (p *principal) userID() string {
	if p.RoleARN != "" {
		return uniqueID("AROA", p.RoleARN) + ":" + p.SessionName
	}
	return uniqueID("AIDA", p.ARN)
}

func policyDocs(m map[string]string) []string {
	docs := make([]string, 0, len(m))
	for _, d := range m {
		docs = append(docs, d)
	}
	return docs
}

// dispatch runs the operation under the state lock.
func (s *Server) dispatch(c *call) (any, error) {
	if c.service == "sts" {
		return s.serveSTS(c)
	}
	op, ok := kmsOps[c.op]
	if !ok {
		return nil, errf(http.StatusBadRequest, "UnknownOperationException", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	out, err := op.run(s, c)
	if err == nil && op.mutates {
		s.saveLocked()
	}
	return out, err
}

// finish writes the response and records the event.
func (s *Server) finish(w http.ResponseWriter, c *call, err error, out any) {
	c.ev.EventName = c.op
	c.ev.EventSource = c.service + ".amazonaws.com"
	var ae *apiError
	if err != nil && !errors.As(err, &ae) {
		ae = errf(http.StatusInternalServerError, "KMSInternalException", "An internal error occurred")
		if c.service == "sts" {
			ae.Code = "InternalFailure"
		}
	}
	if ae != nil {
		c.ev.ErrorCode, c.ev.ErrorMessage = ae.Code, ae.Message
	}
	if err != nil && ae.Status >= http.StatusInternalServerError && err != error(ae) {
		c.ev.ErrorMessage = err.Error() // the caller gets a generic message; the log keeps the cause
	}
	s.events.add(*c.ev)
	w.Header().Set("X-Amzn-RequestId", c.requestID)
	if c.service == "sts" {
		writeSTS(w, c, ae, out)
		return
	}
	writeKMS(w, ae, out)
}

func writeKMS(w http.ResponseWriter, ae *apiError, out any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if ae != nil {
		w.WriteHeader(ae.Status)
		w.Write(mustJSON(map[string]string{"__type": ae.Code, "message": ae.Message}))
		return
	}
	var buf bytes.Buffer
	buf.Write(mustJSON(out))
	w.Write(buf.Bytes())
}

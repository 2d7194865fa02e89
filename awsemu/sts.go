package awsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/byok-dev/byok/awsemu/internal/iampolicy"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

func stsAction(r *http.Request, body []byte) string {
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return form.Get("Action")
}

func stsValidation(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "ValidationError", format, a...)
}

func (s *Server) serveSTS(c *call) (any, error) {
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		return nil, errf(http.StatusBadRequest, "MalformedQueryString", "The request body is not a valid query string")
	}
	switch c.op {
	case "GetCallerIdentity":
		return &getCallerIdentityResult{Arn: c.p.ARN, UserId: c.p.userID(), Account: c.p.Account}, nil
	case "AssumeRole":
		s.mu.Lock()
		defer s.mu.Unlock()
		out, err := s.assumeRole(c, form)
		if err == nil {
			s.saveLocked()
		}
		return out, err
	}
	return nil, errf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", c.op)
}

type getCallerIdentityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	Arn     string
	UserId  string
	Account string
}

type assumeRoleResult struct {
	XMLName         xml.Name `xml:"AssumeRoleResult"`
	Credentials     stsCredentials
	AssumedRoleUser struct{ AssumedRoleId, Arn string }
}

type stsCredentials struct {
	AccessKeyId, SecretAccessKey, SessionToken, Expiration string
}

var (
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	roleARNRe     = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

func (s *Server) assumeRole(c *call, form url.Values) (any, error) {
	roleArn, name := form.Get("RoleArn"), form.Get("RoleSessionName")
	if !sessionNameRe.MatchString(name) {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", name)
	}
	m := roleARNRe.FindStringSubmatch(roleArn)
	if m == nil {
		return nil, stsValidation("%s is invalid", roleArn)
	}
	if form.Has("Policy") || form.Has("PolicyArns.member.1") {
		return nil, stsValidation("session policies are not supported by this emulator")
	}
	ext := form.Get("ExternalId")
	if form.Has("ExternalId") && (len(ext) < 2 || len(ext) > 1224 || !externalIDRe.MatchString(ext)) {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*", ext)
	}
	acct := s.st.Accounts[m[1]]
	var r *role
	if acct != nil {
		r = acct.Roles[m[2]]
	}
	if r == nil || !strings.HasSuffix(roleArn, "/"+r.Name) || !s.trustAllows(c, r, roleArn, form) {
		return nil, accessDenied(c, "sts:AssumeRole", roleArn, "")
	}
	dur, err := sessionDuration(c, form, r)
	if err != nil {
		return nil, err
	}
	return s.newSession(c, m[1], r, name, dur), nil
}

func sessionDuration(c *call, form url.Values, r *role) (time.Duration, error) {
	max := r.MaxSessionDuration
	if max == 0 {
		max = 3600
	}
	if c.p.RoleARN != "" {
		max = 3600 // role chaining is limited to one hour
	}
	secs := 3600
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			return 0, stsValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", v)
		}
		secs = n
	}
	if secs > max {
		return 0, stsValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return time.Duration(secs) * time.Second, nil
}

// trustAllows evaluates the role's trust policy with the caller as principal
// and, when the trust policy names only the caller's account, or the caller is
// in another account, the caller's identity policies too.
func (s *Server) trustAllows(c *call, r *role, arn string, form url.Values) bool {
	pol, err := parsePolicy(r.TrustPolicy)
	if err != nil {
		return false
	}
	ctx := c.baseContext()
	if form.Has("ExternalId") {
		ctx["sts:ExternalId"] = []string{form.Get("ExternalId")}
	}
	req := &iampolicy.Request{Action: "sts:AssumeRole", Resource: arn, Principal: c.p.iamPrincipal(), Context: ctx}
	res := pol.EvaluateResource(req)
	if res.Decision != iampolicy.Allow {
		return false
	}
	id := identityDecision(c.p, req)
	if id == iampolicy.Deny {
		return false
	}
	direct := res.PrincipalMatched
	if direct && c.p.Account == strings.Split(arn, ":")[4] {
		return true
	}
	return id == iampolicy.Allow
}

func (s *Server) newSession(c *call, acct string, r *role, name string, dur time.Duration) *assumeRoleResult {
	sess := &session{
		AccessKeyID: randomAccessKeyID("ASIA"), SecretAccessKey: base64.RawStdEncoding.EncodeToString(randomBytes(30)),
		Account: acct, Role: r.Name, SessionName: name, Expiration: s.now().Add(dur).Truncate(time.Second),
	}
	sess.SessionToken = sessionToken(s.st.SessionKey, sess.AccessKeyID, sess.Expiration)
	s.st.Sessions[sess.AccessKeyID] = sess
	out := &assumeRoleResult{Credentials: stsCredentials{
		AccessKeyId: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey, SessionToken: sess.SessionToken,
		Expiration: sess.Expiration.UTC().Format(time.RFC3339),
	}}
	out.AssumedRoleUser.Arn = assumedRoleARN(acct, r.Name, name)
	out.AssumedRoleUser.AssumedRoleId = uniqueID("AROA", roleARN(acct, r.Name)) + ":" + name
	c.ev.Resources = []string{roleARN(acct, r.Name)}
	return out
}

type stsResponse struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Result   any
	Metadata struct {
		RequestId string
	} `xml:"ResponseMetadata"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type, Code, Message string
	}
	RequestId string
}

func writeSTS(w http.ResponseWriter, c *call, ae *apiError, out any) {
	w.Header().Set("Content-Type", "text/xml")
	if ae != nil {
		e := stsErrorResponse{Xmlns: stsNamespace, RequestId: c.requestID}
		e.Error.Type, e.Error.Code, e.Error.Message = "Sender", ae.Code, ae.Message
		if ae.Status >= 500 {
			e.Error.Type = "Receiver"
		}
		w.WriteHeader(ae.Status)
		writeXML(w, e)
		return
	}
	resp := stsResponse{XMLName: xml.Name{Local: c.op + "Response"}, Xmlns: stsNamespace, Result: out}
	resp.Metadata.RequestId = c.requestID
	writeXML(w, resp)
}

func writeXML(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err) // only fixed response types are marshalled
	}
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// Session tokens are 96 bytes: the expiration (Unix seconds, big-endian),
// random bytes, and an HMAC-SHA256 under the state's session key over the
// access key id and both. Like AWS's self-contained tokens, one outlives
// the emulator's record of its session: a session forgotten after expiry
// is still told apart from a key that never existed.
const (
	tokenBodyLen = 64
	tokenLen     = tokenBodyLen + sha256.Size
)

func sessionToken(key []byte, akid string, exp time.Time) string {
	body := binary.BigEndian.AppendUint64(make([]byte, 0, tokenLen), uint64(exp.Unix()))
	body = append(body, randomBytes(tokenBodyLen-8)...)
	return base64.StdEncoding.EncodeToString(append(body, tokenMAC(key, akid, body)...))
}

func tokenMAC(key []byte, akid string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(akid))
	h.Write(body)
	return h.Sum(nil)
}

// tokenExpiry returns the expiration in a token this emulator issued for
// akid; ok is false for any other token.
func tokenExpiry(key []byte, akid, token string) (exp time.Time, ok bool) {
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil || len(b) != tokenLen || len(key) == 0 {
		return time.Time{}, false
	}
	body, mac := b[:tokenBodyLen], b[tokenBodyLen:]
	if !hmac.Equal(mac, tokenMAC(key, akid, body)) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(body)), 0).UTC(), true
}

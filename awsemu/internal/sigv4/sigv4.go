// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests, the
// way AWS's front ends do for header-signed requests.
//
// # Use
//
// [Parse] reads the Authorization header into a [Credential] (access key,
// date, region, service) so that the caller can look up the secret key; then
// [Verify] recomputes the signature over the request and its body.
//
// Only the header form (Authorization: AWS4-HMAC-SHA256 ...) is accepted;
// presigned URLs and chunked payload signing are not used by the KMS and STS
// clients and are rejected.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TimeFormat is the layout of the X-Amz-Date header.
const TimeFormat = "20060102T150405Z"

const algorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far the request time may be from the server's clock, as on AWS.
const MaxSkew = 15 * time.Minute

// Errors returned by Parse and Verify. The caller maps them to each service's
// error codes.
var (
	ErrMissing   = errors.New("sigv4: missing authentication token")
	ErrMalformed = errors.New("sigv4: malformed authorization header")
	ErrMismatch  = errors.New("sigv4: signature does not match")
	ErrExpired   = errors.New("sigv4: signature expired")
)

// Credential is what the Authorization header says about the signer.
type Credential struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	Time          time.Time // X-Amz-Date
}

// Parse reads the Authorization and X-Amz-Date headers.
func Parse(r *http.Request) (*Credential, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, ErrMissing
	}
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return nil, ErrMalformed
	}
	c := &Credential{}
	for part := range strings.SplitSeq(rest, ",") {
		if err := c.setField(strings.TrimSpace(part)); err != nil {
			return nil, err
		}
	}
	if c.AccessKeyID == "" || c.Signature == "" || len(c.SignedHeaders) == 0 {
		return nil, ErrMalformed
	}
	t, err := time.Parse(TimeFormat, r.Header.Get("X-Amz-Date"))
	if err != nil || t.Format("20060102") != c.Date {
		return nil, ErrMalformed
	}
	c.Time = t
	return c, nil
}

func (c *Credential) setField(part string) error {
	name, value, ok := strings.Cut(part, "=")
	if !ok {
		return ErrMalformed
	}
	switch name {
	case "Credential":
		scope := strings.Split(value, "/")
		if len(scope) != 5 || scope[4] != "aws4_request" {
			return ErrMalformed
		}
		c.AccessKeyID, c.Date, c.Region, c.Service = scope[0], scope[1], scope[2], scope[3]
	case "SignedHeaders":
		c.SignedHeaders = strings.Split(value, ";")
	case "Signature":
		c.Signature = value
	default:
		return ErrMalformed
	}
	return nil
}

// Verify checks the signature of r, whose body is body, made with secret at
// about now.
func Verify(r *http.Request, body []byte, c *Credential, secret string, now time.Time) error {
	if d := now.Sub(c.Time); d > MaxSkew || d < -MaxSkew {
		return ErrExpired
	}
	canonical, ok := canonicalRequest(r, body, c.SignedHeaders)
	if !ok {
		return ErrMismatch
	}
	scope := c.Date + "/" + c.Region + "/" + c.Service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := algorithm + "\n" + c.Time.Format(TimeFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := signingKey(secret, c.Date, c.Region, c.Service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(toSign)))
	if !hmac.Equal([]byte(want), []byte(c.Signature)) {
		return ErrMismatch
	}
	return nil
}

func canonicalRequest(r *http.Request, body []byte, signed []string) (string, bool) {
	if !sort.StringsAreSorted(signed) || !contains(signed, "host") {
		return "", false
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(escapePath(r.URL.EscapedPath()) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	b.WriteString(payloadHash(r, body))
	return b.String(), true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// headerValue returns the canonical value of a signed header. Go's server
// moves Host and Content-Length out of r.Header, so they are read back.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		return strconv.FormatInt(r.ContentLength, 10)
	}
	values := r.Header.Values(name)
	if len(values) == 1 && !strings.Contains(values[0], "  ") && strings.TrimSpace(values[0]) == values[0] {
		return values[0] // the common case, without allocating
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func payloadHash(r *http.Request, body []byte) string {
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != "UNSIGNED-PAYLOAD" {
		return h
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// escapePath applies the second round of URI encoding that SigV4 asks of every
// service except S3.
func escapePath(p string) string {
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	return strings.Join(segs, "/")
}

func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// signingKeys caches derived keys: deriving costs four HMACs per request and
// the inputs change once a day.
var (
	signingKeys    sync.Map
	signingKeySize atomic.Int64
)

// maxSigningKeys bounds the cache: every AssumeRole adds a secret.
const maxSigningKeys = 4096

func signingKey(secret, date, region, service string) []byte {
	id := secret + "\x00" + date + "\x00" + region + "\x00" + service
	if k, ok := signingKeys.Load(id); ok {
		return k.([]byte)
	}
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	k = hmacSHA256(k, []byte("aws4_request"))
	if signingKeySize.Add(1) > maxSigningKeys {
		signingKeys.Clear()
		signingKeySize.Store(1)
	}
	signingKeys.Store(id, k)
	return k
}

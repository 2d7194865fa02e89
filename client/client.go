// Package client is the Go client of byok's HTTP API: tenants, customer key
// onboarding, encryption under a tenant's key (records, batches and streams
// of any size), API tokens and the audit log.
//
// # Usage
//
//	c, err := client.New(client.Config{URL: "https://byok.internal:8443", Token: os.Getenv("BYOK_TOKEN")})
//	ct, err := c.Encrypt(ctx, "acme", []byte("secret"), map[string]string{"table": "orders"})
//
// # Errors
//
// Every failure the server answers is an [*Error] carrying the HTTP status,
// the stable code (tenant_not_found, key_disabled, kms_throttled, ...),
// a message and, for some codes, details (the validation reports of
// validation_failed). Branch on the code with [Code] or errors.As;
// [Error.Meaning] and [Error.Hint] say what the code means and what to do
// about it. docs/api.md lists every code.
//
// # Administration
//
// Besides tenants and their keys, the client issues, lists and revokes API
// tokens ([Client.CreateToken]), reads the audit log as JSON lines
// ([Client.AuditTail], [Client.AuditExport]) and follows a key change
// ([Client.KeyChangeStatus]).
//
// # Streams
//
// [Client.EncryptStream] and [Client.DecryptStream] send a reader of any size
// and copy the answer to a writer as it arrives; neither side holds the
// whole stream in memory. A decryption that fails after plaintext started to
// arrive returns an error: discard what was written.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/byok-dev/byok/internal/errcode"
)

// Config configures a Client.
type Config struct {
	// URL is the server's base URL, e.g. "https://byok.example.com".
	URL string
	// Token is the API token, sent as "Authorization: Bearer <token>".
	Token string
	// HTTPClient makes the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Client calls the API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: URL %q must be an absolute http or https URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: cfg.Token, http: hc}, nil
}

// Error is a failure answered by the server.
type Error struct {
	Status    int             // the HTTP status
	Code      string          // the stable code
	Message   string          // for people
	Details   json.RawMessage // code-specific, e.g. validation reports
	RequestID string          // the server's request id, for its logs
}

func (e *Error) Error() string {
	s := fmt.Sprintf("byok: %s (%d): %s", e.Code, e.Status, e.Message)
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Meaning says in one line what the error's code means, or "" for a code
// this release of the client does not know.
func (e *Error) Meaning() string { return errcode.Meaning(e.Code) }

// Hint says what a person can do about the error, or "" when the code
// suggests nothing (or is unknown to this release).
func (e *Error) Hint() string { return errcode.Hint(e.Code) }

func statusOf(code string) int {
	e, _ := errcode.Lookup(code)
	return e.Status
}

// Code returns the stable code of the *Error in err's chain, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// request is one API call.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	body   io.Reader
	header http.Header
}

func (c *Client) do(ctx context.Context, rq request) (*http.Response, error) {
	u := *c.base
	u.RawPath = c.base.Path + rq.path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = rq.query.Encode()
	req, err := http.NewRequestWithContext(ctx, rq.method, u.String(), rq.body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", rq.method, rq.path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// decodeError reads the server's JSON error, or makes one from the status
// when the answer is not JSON (a proxy's page).
func decodeError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Code      string          `json:"code"`
		Message   string          `json:"message"`
		Details   json.RawMessage `json:"details"`
		RequestID string          `json:"request_id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Code == "" {
		e.Code, e.Message = "http_"+fmt.Sprint(resp.StatusCode), http.StatusText(resp.StatusCode)
		return e
	}
	e.Code, e.Message, e.Details, e.RequestID = body.Code, body.Message, body.Details, body.RequestID
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("Byok-Request-Id")
	}
	return e
}

// call sends in as JSON (nil for no body) and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	rq := request{method: method, path: path, query: q, header: http.Header{}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		rq.body = bytes.NewReader(b)
		rq.header.Set("Content-Type", "application/json")
	}
	resp, err := c.do(ctx, rq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

func tenantPath(id string, rest ...string) string {
	p := "/v1/tenants/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

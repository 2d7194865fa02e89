package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Context is an encryption context: non-secret pairs bound to a ciphertext;
// decrypting requires exactly the same pairs.
type Context = map[string]string

// record is one record sent: exactly one of its values is set, sent as ""
// when empty, since the server refuses a record without its value.
type record struct {
	Plaintext  *[]byte `json:"plaintext,omitempty"`
	Ciphertext *[]byte `json:"ciphertext,omitempty"`
	Context    Context `json:"context,omitempty"`
}

type result struct {
	Plaintext  []byte `json:"plaintext"`
	Ciphertext []byte `json:"ciphertext"`
	Error      *Error `json:"error"`
}

// Encrypt seals one record under the tenant's key.
func (c *Client) Encrypt(ctx context.Context, tenant string, plaintext []byte, ec Context) ([]byte, error) {
	var out result
	in := record{Plaintext: value(plaintext), Context: ec}
	if err := c.call(ctx, http.MethodPost, tenantPath(tenant, "encrypt"), nil, in, &out); err != nil {
		return nil, err
	}
	if len(out.Ciphertext) == 0 {
		return nil, errNoCiphertext
	}
	return out.Ciphertext, nil
}

// errNoCiphertext guards against a server (or proxy) that answers 200
// without the ciphertext: storing nothing would lose the data.
var errNoCiphertext = errors.New("client: the server's answer holds no ciphertext")

// nonNil answers an empty value as empty, not nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// value is a record's value as sent: "" when empty, never left out.
func value(b []byte) *[]byte {
	v := nonNil(b)
	return &v
}

// Decrypt opens one record of the tenant.
func (c *Client) Decrypt(ctx context.Context, tenant string, ciphertext []byte, ec Context) ([]byte, error) {
	var out result
	in := record{Ciphertext: value(ciphertext), Context: ec}
	if err := c.call(ctx, http.MethodPost, tenantPath(tenant, "decrypt"), nil, in, &out); err != nil {
		return nil, err
	}
	return nonNil(out.Plaintext), nil
}

// Record is one item of a batch: Data is the plaintext to encrypt or the
// ciphertext to decrypt.
type Record struct {
	Data    []byte
	Context Context
}

// Result is one item's outcome in a batch: Data, or Err (an *Error).
type Result struct {
	Data []byte
	Err  error
}

// EncryptBatch seals records in one request; each has its own result.
func (c *Client) EncryptBatch(ctx context.Context, tenant string, records []Record) ([]Result, error) {
	in := make([]record, len(records))
	for i, r := range records {
		in[i] = record{Plaintext: value(r.Data), Context: r.Context}
	}
	res, err := c.batch(ctx, tenantPath(tenant, "encrypt", "batch"), in, func(r result) []byte { return r.Ciphertext })
	for i := range res {
		if res[i].Err == nil && len(res[i].Data) == 0 {
			res[i].Err = errNoCiphertext
		}
	}
	return res, err
}

// DecryptBatch opens records in one request; each has its own result.
func (c *Client) DecryptBatch(ctx context.Context, tenant string, records []Record) ([]Result, error) {
	in := make([]record, len(records))
	for i, r := range records {
		in[i] = record{Ciphertext: value(r.Data), Context: r.Context}
	}
	return c.batch(ctx, tenantPath(tenant, "decrypt", "batch"), in, func(r result) []byte { return nonNil(r.Plaintext) })
}

func (c *Client) batch(ctx context.Context, path string, in []record, data func(result) []byte) ([]Result, error) {
	var out struct {
		Results []result `json:"results"`
	}
	if err := c.call(ctx, http.MethodPost, path, nil, map[string]any{"records": in}, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(in) {
		return nil, fmt.Errorf("client: batch answered %d results for %d records", len(out.Results), len(in))
	}
	res := make([]Result, len(in))
	for i, r := range out.Results {
		if r.Error != nil {
			// A record's error comes without an HTTP status of its own: it
			// gets the one its code has when answered alone.
			if r.Error.Status == 0 {
				r.Error.Status = statusOf(r.Error.Code)
			}
			res[i].Err = r.Error
			continue
		}
		res[i].Data = data(r)
	}
	return res, nil
}

// ContextHeader encodes ec for the Byok-Context header of streams:
// comma-separated key=value pairs, keys and values percent-encoded, sorted by
// key.
func ContextHeader(ec Context) string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = url.QueryEscape(k) + "=" + url.QueryEscape(ec[k])
	}
	return strings.Join(pairs, ",")
}

// EncryptStream sends src to the server, which seals it into the stream
// format as it arrives, and copies the ciphertext to dst. It returns the
// ciphertext bytes written.
func (c *Client) EncryptStream(ctx context.Context, tenant string, dst io.Writer, src io.Reader, ec Context) (int64, error) {
	return c.stream(ctx, tenantPath(tenant, "encrypt", "stream"), dst, src, ec)
}

// DecryptStream sends a stream ciphertext and copies the plaintext to dst.
// On error, discard whatever was written to dst: the stream did not
// authenticate to its end.
func (c *Client) DecryptStream(ctx context.Context, tenant string, dst io.Writer, src io.Reader, ec Context) (int64, error) {
	return c.stream(ctx, tenantPath(tenant, "decrypt", "stream"), dst, src, ec)
}

func (c *Client) stream(ctx context.Context, path string, dst io.Writer, src io.Reader, ec Context) (int64, error) {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if len(ec) > 0 {
		h.Set("Byok-Context", ContextHeader(ec))
	}
	// Hide any Len/Seek so the transport streams the body (chunked) instead
	// of buffering or rewinding it.
	var body io.Reader = http.NoBody
	if src != nil {
		body = io.NopCloser(src)
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: path, body: body, header: h})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(dst, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: %s: the stream broke off; discard the output: %w", path, err)
	}
	return n, nil
}

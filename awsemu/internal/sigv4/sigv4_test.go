package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func signed(t *testing.T, body string, at time.Time, secret string) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "http://127.0.0.1:4566/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	r.Header.Set("X-Amz-Meta-Spaces", "  a   b  ") // canonicalised as "a b"
	r.Header.Add("X-Amz-Meta-Twice", "one")
	r.Header.Add("X-Amz-Meta-Twice", "two")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, SessionToken: "tok"}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kms", "eu-west-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		body   string // body the server sees
		secret string // secret the server checks with
		now    time.Time
		want   error
	}{
		{"ok", "{}", "secret", now, nil},
		{"wrong secret", "{}", "other", now, ErrMismatch},
		{"body changed", `{"a":1}`, "secret", now, ErrMismatch},
		{"too old", "{}", "secret", now.Add(16 * time.Minute), ErrExpired},
		{"too new", "{}", "secret", now.Add(-16 * time.Minute), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, "{}", now, "secret")
			c, err := Parse(r)
			if err != nil {
				t.Fatalf("Parse() err = %v", err)
			}
			if c.AccessKeyID != "AKIDEXAMPLE" || c.Region != "eu-west-1" || c.Service != "kms" {
				t.Fatalf("Parse() = %+v", c)
			}
			if err := Verify(r, []byte(tt.body), c, tt.secret, tt.now); !errors.Is(err, tt.want) {
				t.Fatalf("Verify() err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyTamperedHeader(t *testing.T) {
	now := time.Now()
	r := signed(t, "{}", now, "secret")
	r.Header.Set("X-Amz-Target", "TrentService.Decrypt")
	c, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(r, []byte("{}"), c, "secret", now); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify() err = %v, want ErrMismatch", err)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, h := range []string{
		"",
		"Basic abc",
		"AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/kms/aws4_request, Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/kms/aws4_request, SignedHeaders=host, Bogus=1, Signature=00",
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", "20260102T000000Z")
		if _, err := Parse(r); err == nil {
			t.Errorf("Parse(%q) err = nil, want an error", h)
		}
	}
}

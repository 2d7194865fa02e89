package awsemu_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// rawKMS sends a signed KMS request with any target and body, as no SDK
// client would, and returns the status and the error body's __type.
func rawKMS(t *testing.T, e *env, target, body string, sign bool) (int, string) {
	return rawKMSAt(t, e, target, body, sign, time.Now())
}

func rawKMSAt(t *testing.T, e *env, target, body string, sign bool, at time.Time) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if sign {
		sum := sha256.Sum256([]byte(body))
		creds := e.ts.Credentials(t, customerAcct, "admin")
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", euWest1, at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(data, &out)
	return resp.StatusCode, out.Type
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, target, body string
		sign               bool
		wantStatus         int
		wantType           string
	}{
		{"malformed json", "TrentService.Encrypt", `{"KeyId":`, true, 400, "SerializationException"},
		{"not an object", "TrentService.Encrypt", `[1,2]`, true, 400, "SerializationException"},
		{"wrong field type", "TrentService.Encrypt", `{"KeyId":7}`, true, 400, "SerializationException"},
		{"bad base64", "TrentService.Decrypt", `{"CiphertextBlob":"!!!"}`, true, 400, "SerializationException"},
		{"unknown operation", "TrentService.MakeCoffee", `{}`, true, 400, "UnknownOperationException"},
		{"missing key id", "TrentService.Encrypt", `{"Plaintext":"eA=="}`, true, 400, "ValidationException"},
		{"empty plaintext", "TrentService.Encrypt", `{"KeyId":"alias/tenant-42"}`, true, 400, "ValidationException"},
		{"oversized ciphertext", "TrentService.Decrypt", `{"CiphertextBlob":"` + strings.Repeat("A", 8200) + `"}`, true, 400, "ValidationException"},
		{"unsigned", "TrentService.ListKeys", `{}`, false, 400, "MissingAuthenticationTokenException"},
		{"empty body", "TrentService.ListKeys", ``, true, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, typ := rawKMS(t, e, tt.target, tt.body, tt.sign)
			if status != tt.wantStatus || typ != tt.wantType {
				t.Fatalf("status %d __type %q, want %d %q", status, typ, tt.wantStatus, tt.wantType)
			}
		})
	}
}

func TestStaleSignature(t *testing.T) {
	e := newEnv(t)
	for _, at := range []time.Time{time.Now().Add(-16 * time.Minute), time.Now().Add(16 * time.Minute)} {
		if status, typ := rawKMSAt(t, e, "TrentService.ListKeys", "{}", true, at); status != 400 || typ != "InvalidSignatureException" {
			t.Fatalf("signed at %v: status %d __type %q, want 400 InvalidSignatureException", at, status, typ)
		}
	}
}

func TestFuzzSeedCorpusExists(t *testing.T) {
	entries, err := os.ReadDir("testdata/fuzz/FuzzKMSRequest")
	if err != nil || len(entries) < 5 {
		t.Fatalf("seed corpus testdata/fuzz/FuzzKMSRequest: %d files, err %v", len(entries), err)
	}
}

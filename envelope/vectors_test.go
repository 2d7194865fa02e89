package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

type vectorKey struct {
	Tenant  string `json:"tenant"`
	Version uint32 `json:"version"`
	Key     string `json:"key"`
}

type vector struct {
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Tenant       string            `json:"tenant"`
	KeyVersion   uint32            `json:"key_version"`
	Key          string            `json:"key"`
	Salt         string            `json:"salt"`
	Plaintext    string            `json:"plaintext"`
	Context      map[string]string `json:"context"`
	StoreContext bool              `json:"store_context"`
	SegmentSize  int               `json:"segment_size"`
	Reproducible bool              `json:"reproducible"`
	Ciphertext   string            `json:"ciphertext"`
	OpenKeys     []vectorKey       `json:"open_keys"`
	OpenContext  map[string]string `json:"open_context"`
	Outcome      string            `json:"outcome"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 20 {
		t.Fatalf("only %d vectors loaded", len(f.Vectors))
	}
	return f.Vectors
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectors opens every vector and checks its outcome; reproducible vectors
// are sealed again from their inputs and must come out byte for byte.
func TestVectors(t *testing.T) {
	outcomes := map[string]int{}
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ct := unhex(t, v.Ciphertext)
			if v.Reproducible {
				if got := resealVector(t, v); !bytes.Equal(got, ct) {
					t.Fatalf("sealing the inputs gave other bytes than the vector")
				}
			}
			pt, err := openVector(t, v, ct)
			got := "success"
			if err != nil {
				got = Code(err)
			}
			if got != v.Outcome {
				t.Fatalf("open outcome = %s (err %v), want %s", got, err, v.Outcome)
			}
			if err == nil && !bytes.Equal(pt, unhex(t, v.Plaintext)) {
				t.Fatalf("opened plaintext differs from the vector's")
			}
			outcomes[v.Kind+" "+v.Outcome]++
			if h, err := ParseHeader(ct); err == nil && strings.Contains(h.Tenant, "/") {
				outcomes[v.Kind+" vault "+v.Outcome]++
			}
		})
	}
	for _, want := range []string{"success", "invalid_ciphertext", "wrong_tenant", "key_version_unknown", "context_mismatch", "unsupported_version"} {
		for _, kind := range []string{"record", "stream"} {
			if outcomes[kind+" "+want] == 0 {
				t.Errorf("no %s vector with outcome %s", kind, want)
			}
		}
	}
	if outcomes["stream truncated_stream"] == 0 {
		t.Error("no truncated stream vector")
	}
	for _, want := range []string{"success", "wrong_tenant", "invalid_ciphertext"} {
		for _, kind := range []string{"record", "stream"} {
			if outcomes[kind+" vault "+want] == 0 {
				t.Errorf("no %s vector under a vault's key scope with outcome %s", kind, want)
			}
		}
	}
}

func resealVector(t *testing.T, v vector) []byte {
	key, err := NewTenantKey(v.Tenant, v.KeyVersion, unhex(t, v.Key))
	if err != nil {
		t.Fatal(err)
	}
	rnd := bytes.NewReader(unhex(t, v.Salt))
	if v.Kind == "record" {
		ct, err := AppendSeal(nil, key, unhex(t, v.Plaintext), v.Context, &RecordOptions{StoreContext: v.StoreContext, Rand: rnd})
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	return sealStream(t, key, unhex(t, v.Plaintext), v.Context, &StreamOptions{SegmentSize: v.SegmentSize, StoreContext: v.StoreContext, Rand: rnd})
}

func openVector(t *testing.T, v vector, ct []byte) ([]byte, error) {
	var keys []*TenantKey
	for _, k := range v.OpenKeys {
		key, err := NewTenantKey(k.Tenant, k.Version, unhex(t, k.Key))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	if v.Kind == "record" {
		return Open(bg, NewKeySet(keys...), ct, v.OpenContext)
	}
	r, err := NewReader(bg, bytes.NewReader(ct), NewKeySet(keys...), v.OpenContext, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

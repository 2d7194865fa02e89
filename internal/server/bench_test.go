package server

import (
	"bytes"
	"net/http"
	"testing"
)

// BenchmarkEncrypt measures single-record encryption of 1 KiB over loopback
// HTTP, with parallel clients.
func BenchmarkEncrypt(b *testing.B) {
	e := newEnv(b)
	e.onboard("acme")
	body := []byte(`{"plaintext":"` + b64(bytes.Repeat([]byte("x"), 1024)) + `"}`)
	url := e.http.URL + "/v1/tenants/acme/encrypt"
	token := "Bearer " + e.memberOf("acme")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Authorization", token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

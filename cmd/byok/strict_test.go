package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/byok-dev/byok/client"
)

// TestServeStrictBodies: byok dev (byok serve's server) refuses, through
// the API as a caller meets it, a body in another Content-Type (415) and a
// JSON body it would otherwise read loosely (400 invalid_request naming
// what is wrong), on the data plane and the control plane; the client
// still round-trips an empty record.
func TestServeStrictBodies(t *testing.T) {
	r := startDev(t, t.TempDir())
	defer r.stop()
	env := r.env(t)
	base, token := env["BYOK_URL"], env["BYOK_TOKEN"]
	data := "/v1/tenants/" + devTenant
	cases := []struct {
		path, contentType, body string
		status                  int
		code, want              string
	}{
		{data + "/encrypt", "application/json", `{"PLAINTEXT":"aGk="}`, 400, "invalid_request", `unknown field "PLAINTEXT"`},
		{data + "/encrypt", "application/json", `null`, 400, "invalid_request", "must be a JSON object, not null"},
		{data + "/encrypt", "application/json", `{"plaintext":null}`, 400, "invalid_request", "plaintext is null"},
		{data + "/encrypt", "application/json", `{}`, 400, "invalid_request", "the record has no plaintext"},
		{data + "/decrypt", "application/json", `[]`, 400, "invalid_request", "must be a JSON object, not an array"},
		{data + "/encrypt/batch", "application/json", `{"records":[null]}`, 400, "invalid_request", "records[0] is null"},
		{data + "/decrypt/batch", "application/json", `"x"`, 400, "invalid_request", "must be a JSON object, not a string"},
		{"/v1/tenants", "application/json", `{"ID":"newco","name":"N"}`, 400, "invalid_request", `did you mean "id"?`},
		{"/v1/tokens", "application/json", `{"role":"admin","role":"owner","name":"x"}`, 400, "invalid_request", `field "role" appears twice`},
		{data + "/webhooks", "application/json", `{"id":null,"url":"https://example.com/h"}`, 400, "invalid_request", "id is null"},
		{"/v1/tenants", "text/plain", `{"id":"newco","name":"N"}`, 415, "unsupported_media_type", "application/json"},
		{data + "/encrypt", "application/x-www-form-urlencoded", `plaintext=aGk=`, 415, "unsupported_media_type", "application/json"},
		{data + "/encrypt/stream", "application/json", `{"plaintext":"aGk="}`, 415, "unsupported_media_type", "application/octet-stream"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", base+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", c.contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Code, Message string }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != c.status || got.Code != c.code || !strings.Contains(got.Message, c.want) {
			t.Errorf("POST %s (%s) %s = %d %s %q; want %d %s naming %q", c.path, c.contentType, c.body,
				resp.StatusCode, got.Code, got.Message, c.status, c.code, c.want)
		}
	}
	ctx := context.Background()
	api := r.client(t)
	ct, err := api.Encrypt(ctx, devTenant, nil, nil)
	if err != nil {
		t.Fatalf("Encrypt(empty) = %v", err)
	}
	if pt, err := api.Decrypt(ctx, devTenant, ct, nil); err != nil || len(pt) != 0 {
		t.Fatalf("Decrypt(Encrypt(empty)) = %q, %v", pt, err)
	}
	res, err := api.EncryptBatch(ctx, devTenant, []client.Record{{Data: nil}, {Data: []byte("x")}})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("EncryptBatch with an empty record = %+v, %v", res, err)
	}
}

// TestServeTokenListByRole: a super_admin's token list shows no owner
// token, which it may not revoke either; an owner's shows every token.
func TestServeTokenListByRole(t *testing.T) {
	r := startDev(t, t.TempDir())
	defer r.stop()
	ctx := context.Background()
	owner := r.client(t)
	super, err := owner.CreateToken(ctx, client.CreateToken{Role: "super_admin", Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.CreateToken(ctx, client.CreateToken{Role: "owner", Name: "second owner"}); err != nil {
		t.Fatal(err)
	}
	roles := func(c *client.Client) map[string]int {
		list, err := c.Tokens(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, tk := range list {
			n[tk.Role]++
		}
		return n
	}
	if got := roles(owner); got["owner"] < 2 || got["super_admin"] != 1 {
		t.Errorf("the owner's token list has %v; want both owner tokens and the super_admin", got)
	}
	sc, err := client.New(client.Config{URL: r.env(t)["BYOK_URL"], Token: super.Token})
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(sc); got["owner"] != 0 || got["super_admin"] != 1 {
		t.Errorf("the super_admin's token list has %v; want no owner token", got)
	}
}

package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// strictFields names, for every route that decodes a JSON body, one field
// it reads and a value of the right type, so that each route is sent that
// field misspelt in case and given as null.
var strictFields = map[string][2]string{
	"POST /v1/tenants":                           {"id", `"newco"`},
	"PATCH /v1/tenants/{id}":                     {"name", `"x"`},
	"PUT /v1/tenants/{id}/keys/{region}":         {"key_arn", `"arn:aws:kms:eu-west-1:111122223333:key/x"`},
	"POST /v1/tenants/{id}/keys/{region}/change": {"key_arn", `"arn:aws:kms:eu-west-1:111122223333:key/x"`},
	"POST /v1/tenants/{id}/regions":              {"region", `"eu-central-1"`},
	"PUT /v1/tenants/{id}/policy":                {"key_binding", `"strict"`},
	"POST /v1/tokens":                            {"role", `"admin"`},
	"POST /v1/webhooks":                          {"url", `"https://example.com/h"`},
	"POST /v1/tenants/{id}/webhooks":             {"url", `"https://example.com/h"`},
	"POST /v1/tenants/{id}/encrypt":              {"plaintext", `"aGk="`},
	"POST /v1/tenants/{id}/decrypt":              {"ciphertext", `"aGk="`},
	"POST /v1/tenants/{id}/encrypt/batch":        {"records", `[{"plaintext":"aGk="}]`},
	"POST /v1/tenants/{id}/decrypt/batch":        {"records", `[{"ciphertext":"aGk="}]`},
}

// strictCall posts body to the route as the owner and returns the answer.
func strictCall(t *testing.T, e *env, rt *route, body string) (int, *Error) {
	t.Helper()
	path := strings.NewReplacer("{id}", "acme", "{region}", home).Replace(rt.path)
	req, _ := http.NewRequest(rt.method, e.http.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.owner)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out Error
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, &out
}

// Every route that decodes a JSON body refuses, with invalid_request and a
// message naming what is wrong: a body that is not an object, a field name
// in another case, a field given twice, and a field given as null.
func TestStrictBodiesEveryRoute(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	seen := 0
	for i := range routes {
		rt := &routes[i]
		if rt.body != bodyControl && rt.body != bodyData {
			continue
		}
		seen++
		name := rt.method + " " + rt.path
		f, ok := strictFields[name]
		if !ok {
			t.Errorf("%s takes a JSON body but strictFields names none of its fields", name)
			continue
		}
		field, value := f[0], f[1]
		cases := []struct{ body, want string }{
			{`null`, "must be a JSON object, not null"},
			{`[]`, "must be a JSON object, not an array"},
			{`"x"`, "must be a JSON object, not a string"},
			{`42`, "must be a JSON object, not a number"},
			{`{"` + strings.ToUpper(field) + `":` + value + `}`, `unknown field "` + strings.ToUpper(field) + `"`},
			{`{"` + field + `":` + value + `,"` + field + `":` + value + `}`, `field "` + field + `" appears twice`},
			{`{"` + field + `":null}`, field + " is null"},
			{`{"` + field + `":true}`, field + " must be"},
		}
		for _, c := range cases {
			status, got := strictCall(t, e, rt, c.body)
			if status != http.StatusBadRequest || got.Code != CodeInvalidRequest || !strings.Contains(got.Message, c.want) {
				t.Errorf("%s %s = %d %s %q; want 400 invalid_request naming %q", name, c.body, status, got.Code, got.Message, c.want)
			}
		}
	}
	if seen != len(strictFields) {
		t.Errorf("%d routes take a JSON body, strictFields names %d", seen, len(strictFields))
	}
}

// A record's own fields are as strict as the body's, and a record without
// its value is refused rather than sealed or opened as empty.
func TestStrictRecords(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	rt := func(path string) *route {
		for i := range routes {
			if routes[i].path == "/v1/tenants/{id}/"+path {
				return &routes[i]
			}
		}
		t.Fatalf("no route %s", path)
		return nil
	}
	cases := []struct{ path, body, want string }{
		{"encrypt", `{}`, "the record has no plaintext"},
		{"encrypt", `{"Plaintext":"aGk="}`, `did you mean "plaintext"?`},
		{"encrypt", `{"plaintext":"aGk=","context":null}`, "context is null"},
		{"encrypt", `{"plaintext":"aGk=","context":{"a":"b","a":"c"}}`, `key "a" in context appears twice`},
		{"encrypt", `{"plaintext":"aGk=","context":{"a":1}}`, "context.a must be a string, not a number"},
		{"encrypt", `{"plaintext":"aGk="} {}`, "more than one JSON value"},
		{"encrypt", `{"plaintext":"aGk="`, "malformed JSON body"},
		{"decrypt", `{}`, "the record has no ciphertext"},
		{"encrypt/batch", `{}`, "the body has no records"},
		{"encrypt/batch", `{"records":null}`, "records is null"},
		{"encrypt/batch", `{"records":[null]}`, "records[0] is null"},
		{"encrypt/batch", `{"records":[{"plaintext":"aGk="},{"PLAINTEXT":"aGk="}]}`, `unknown field "PLAINTEXT" in records[1]`},
		{"decrypt/batch", `{"records":[[]]}`, "records[0] must be an object, not an array"},
	}
	for _, c := range cases {
		status, got := strictCall(t, e, rt(c.path), c.body)
		if status != http.StatusBadRequest || got.Code != CodeInvalidRequest || !strings.Contains(got.Message, c.want) {
			t.Errorf("%s %s = %d %s %q; want 400 invalid_request naming %q", c.path, c.body, status, got.Code, got.Message, c.want)
		}
	}
	// A batch record without its value fails alone, as other bad records do.
	status, body := postRaw(t, e, e.owner, "/v1/tenants/acme/encrypt/batch", `{"records":[{"plaintext":""},{}]}`)
	if status != http.StatusOK || !strings.Contains(body, `{"error":{"code":"invalid_request","message":"the record has no plaintext`) {
		t.Errorf("batch with a record lacking plaintext = %d %s", status, body)
	}
}

// A body in another Content-Type is refused before it is read, on the
// control plane and the data plane alike.
func TestUnsupportedMediaType(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	for _, c := range []struct{ path, ct string }{
		{"/v1/tenants", "text/plain"},
		{"/v1/tenants/acme/encrypt", "application/x-www-form-urlencoded"},
		{"/v1/tenants/acme/encrypt", ""},
		{"/v1/tenants/acme/encrypt/stream", "application/json"},
	} {
		req, _ := http.NewRequest("POST", e.http.URL+c.path, strings.NewReader(`{"plaintext":"aGk="}`))
		req.Header.Set("Authorization", "Bearer "+e.owner)
		if c.ct != "" {
			req.Header.Set("Content-Type", c.ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out Error
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || out.Code != CodeUnsupportedMediaType {
			t.Errorf("POST %s as %q = %d %+v; want 415 unsupported_media_type", c.path, c.ct, resp.StatusCode, out)
		}
	}
}

// strictTargets are the shapes the routes decode, by number.
func strictTargets() []any {
	return []any{
		&recordIn{},
		&struct {
			Records []recordIn `json:"records"`
		}{},
		&struct {
			Role       string `json:"role"`
			TTLSeconds int64  `json:"ttl_seconds"`
		}{},
	}
}

// FuzzStrictDecode: the strict decoder never panics, refuses only with
// invalid_request, and whatever it accepts encoding/json reads into the
// same values; wherever it refuses what encoding/json reads, the body has
// a name that is not a field's exactly, a repeated name, a null or is not
// an object.
func FuzzStrictDecode(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzStrictDecode")
	if seeds, err := os.ReadDir(dir); err != nil || len(seeds) == 0 {
		f.Fatalf("seed folder %s is missing or empty (%v)", dir, err)
	}
	f.Add(`{"plaintext":"aGk=","context":{"a":"b"}}`, uint8(0))
	f.Add(`{"records":[{"ciphertext":"aGk="},null]}`, uint8(1))
	f.Add(`{"role":"admin","ttl_seconds":60,"ROLE":"owner"}`, uint8(2))
	f.Fuzz(func(t *testing.T, body string, target uint8) {
		targets := strictTargets()
		strict := targets[int(target)%len(targets)]
		lenient := strictTargets()[int(target)%len(targets)]
		err := decodeBytes([]byte(body), strict)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeInvalidRequest {
				t.Fatalf("%q: refused with %v, want invalid_request", body, err)
			}
			return
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(lenient); err != nil {
			t.Fatalf("%q: the strict decoder accepts it, encoding/json refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(strict, lenient) {
			t.Fatalf("%q: the strict decoder reads %+v, encoding/json %+v", body, strict, lenient)
		}
	})
}

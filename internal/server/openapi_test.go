package server

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOpenAPIMatchesRoutes checks that the document lists every route of the
// table with its method and path, and nothing else.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var inDoc, inTable []string
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			inDoc = append(inDoc, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range routes {
		inTable = append(inTable, rt.method+" "+rt.path)
	}
	sort.Strings(inDoc)
	sort.Strings(inTable)
	if diff := cmp.Diff(inTable, inDoc); diff != "" {
		t.Errorf("routes (-table +openapi.json):\n%s", diff)
	}
}

// TestOpenAPISecurity checks that exactly the public routes are marked as
// needing no token.
func TestOpenAPISecurity(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		var op struct {
			Security *[]any `json:"security"`
		}
		json.Unmarshal(doc.Paths[rt.path][strings.ToLower(rt.method)], &op)
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.action == "") {
			t.Errorf("%s %s: public in openapi.json = %v, in the table = %v", rt.method, rt.path, public, rt.action == "")
		}
	}
}

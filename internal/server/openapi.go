package server

import (
	_ "embed"
	"net/http"
)

// openapiJSON is the API's OpenAPI 3.1 document, written by hand and checked
// against the route table by TestOpenAPIMatchesRoutes.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
	return nil
}

package server

import (
	"net/http"
	"time"

	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// versionJSON describes a tenant key version without anything secret: which
// keys wrap it, not the wrapped bytes.
type versionJSON struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Keys    []string  `json:"keys"`
}

func toVersion(v *keyring.Version) *versionJSON {
	out := &versionJSON{Version: v.Version, Created: v.Created, Keys: []string{}}
	for _, w := range v.Wrappings {
		out.Keys = append(out.Keys, w.Key.ID)
	}
	return out
}

func (s *Server) rotate(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noBody(r); err != nil {
		return err
	}
	v, err := s.cfg.Control.RotateTenantKey(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVersion(v))
	return nil
}

func (s *Server) changeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		KeyARN  string `json:"key_arn"`
		RoleARN string `json:"role_arn"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c.keyARN = req.KeyARN
	res, err := s.cfg.Control.ChangeKey(r.Context(), control.ChangeKey{Tenant: c.tenant, Region: r.PathValue("region"),
		KeyARN: req.KeyARN, RoleARN: req.RoleARN})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Region  string                 `json:"region"`
		From    string                 `json:"from"`
		To      string                 `json:"to"`
		Resumed bool                   `json:"resumed"`
		Wrapped int                    `json:"wrapped"`
		Dropped int                    `json:"dropped"`
		Reports []control.RegionReport `json:"reports"`
	}{res.Region, res.From, res.To, res.Resumed, res.Wrapped, res.Dropped, res.Reports})
	return nil
}

// offboard crypto-shreds the tenant and answers the signed deletion receipt.
func (s *Server) offboard(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := noBody(r); err != nil {
		return err
	}
	rc, err := s.cfg.Control.Offboard(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}

func (s *Server) receipt(w http.ResponseWriter, r *http.Request, c *call) error {
	rc, err := s.cfg.Control.DeletionReceipt(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}

// receiptKeys publishes the public keys that verify deletion receipts. It
// needs no token: anyone handed a receipt may check it.
func (s *Server) receiptKeys(w http.ResponseWriter, _ *http.Request, _ *call) error {
	type key struct {
		Signer    string `json:"signer"`
		PublicKey []byte `json:"public_key"`
	}
	out := struct {
		Keys []key `json:"keys"`
	}{Keys: []key{}}
	for _, pub := range s.cfg.Control.ReceiptKeys() {
		out.Keys = append(out.Keys, key{Signer: control.SignerID(pub), PublicKey: pub})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) regions(w http.ResponseWriter, r *http.Request, c *call) error {
	rs, err := s.cfg.Control.Regions(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Regions map[string]*tenant.Region `json:"regions"`
	}{rs})
	return nil
}

func (s *Server) addRegion(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Region  string `json:"region"`
		KeyARN  string `json:"key_arn"`
		RoleARN string `json:"role_arn"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	res, err := s.cfg.Control.AddRegion(r.Context(), control.AddRegion{Tenant: c.tenant, Region: req.Region,
		KeyARN: req.KeyARN, RoleARN: req.RoleARN})
	if err != nil {
		return err
	}
	c.keyARN = res.KeyARN
	writeJSON(w, http.StatusOK, struct {
		Region  string                 `json:"region"`
		KeyARN  string                 `json:"key_arn"`
		Wrapped int                    `json:"wrapped"`
		Reports []control.RegionReport `json:"reports"`
	}{res.Region, res.KeyARN, res.Wrapped, res.Reports})
	return nil
}

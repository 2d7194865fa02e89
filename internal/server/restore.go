package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/errcode"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

// Monitor is what the server asks of the key health monitor: a tenant's
// status as the monitor sees it, its probe history and schedule, and the
// restore of an archived tenant.
type Monitor interface {
	Status(ctx context.Context, tenant string) (*monitor.Status, error)
	Health(ctx context.Context, tenant string, limit int) ([]*store.HealthRecord, error)
	NextProbe(tenant string) (time.Time, bool)
	Restore(ctx context.Context, tenant string) error
}

var _ Monitor = (*monitor.Monitor)(nil)

// defaultStatusHealth is how many health records the status shows unless
// asked for another number.
const defaultStatusHealth = 10

// statusJSON is a tenant's status: its state and why, what the monitor
// does about it, its key versions and regions, and its recent probes.
type statusJSON struct {
	Tenant   string `json:"tenant"`
	State    string `json:"state"`
	Halted   bool   `json:"halted"`
	Degraded bool   `json:"degraded"`
	// UnavailableSince and Reason describe the current outage.
	UnavailableSince time.Time `json:"unavailable_since,omitzero"`
	Reason           string    `json:"reason,omitempty"`
	NextProbe        time.Time `json:"next_probe,omitzero"`
	DeletionDate     time.Time `json:"deletion_date,omitzero"`
	ArchivedAt       time.Time `json:"archived_at,omitzero"`
	RestoreUntil     time.Time `json:"restore_until,omitzero"`

	KeyVersions []*keyVersionJSON         `json:"key_versions"`
	Regions     map[string]*tenant.Region `json:"regions"`
	Health      []healthJSON              `json:"health"`
}

// keyVersionJSON is a tenant key version and the keys that wrap it, never
// the wrapped bytes.
type keyVersionJSON struct {
	Version   uint32         `json:"version"`
	Created   time.Time      `json:"created"`
	Wrappings []wrappingJSON `json:"wrappings"`
}

type wrappingJSON struct {
	Provider  string `json:"provider"`
	Key       string `json:"key"`
	Region    string `json:"region,omitempty"`
	Algorithm string `json:"algorithm"`
}

func (s *Server) monitor() (Monitor, error) {
	if s.cfg.Monitor == nil {
		return nil, apiErr(http.StatusNotImplemented, CodeNotImplemented, "this server runs no key health monitor")
	}
	return s.cfg.Monitor, nil
}

func (s *Server) tenantStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	mon, err := s.monitor()
	if err != nil {
		return err
	}
	limit, err := healthLimit(r)
	if err != nil {
		return err
	}
	out, err := s.status(r.Context(), mon, c.tenant, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// restoreTenant brings an archived tenant back once its key is usable, and
// answers its status.
func (s *Server) restoreTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	mon, err := s.monitor()
	if err != nil {
		return err
	}
	if err := noBody(r); err != nil {
		return err
	}
	if err := mon.Restore(r.Context(), c.tenant); err != nil {
		return restoreErr(c.tenant, err)
	}
	out, err := s.status(r.Context(), mon, c.tenant, defaultStatusHealth)
	if err != nil {
		return err
	}
	if len(out.Health) > 0 {
		c.keyARN = out.Health[0].Key
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// restoreErr says what to do about a refused restore. A key still unusable
// is named by its code, without the provider's own text; a key service
// that did not answer is that service's transient failure, to retry; a
// probe that failed otherwise (the store) is the server's own failure.
func restoreErr(tenant string, err error) error {
	switch monitor.Code(err) {
	case monitor.ErrNotArchived.Code():
		return apiErr(http.StatusConflict, monitor.ErrNotArchived.Code(), strings.TrimPrefix(err.Error(), "monitor: ")+
			"; only an archived tenant needs restoring: a key_unavailable or suspended tenant becomes active by itself at the next probe once its key is usable")
	case monitor.ErrKeyUnavailable.Code():
		return keyStillUnavailable(tenant, err)
	}
	return err
}

func keyStillUnavailable(tenant string, err error) error {
	c := kms.ClassOf(err)
	switch {
	case c == 0:
		return fmt.Errorf("server: restore tenant %s: %s", tenant, err) // not %w: unclassified, a 500
	case c.Transient():
		return coded(c.Code(), "tenant "+tenant+" stays archived: the restore's probe got no answer ("+errcode.Meaning(c.Code())+")")
	}
	e := apiErr(http.StatusLocked, monitor.ErrKeyUnavailable.Code(), "tenant "+tenant+" stays archived: its key is still unusable ("+
		c.Code()+": "+errcode.Meaning(c.Code())+"); restore it again once the customer has fixed the key")
	e.Details = map[string]string{"reason": c.Code()}
	return e
}

func healthLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("health")
	if v == "" {
		return defaultStatusHealth, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > store.MaxPageSize {
		return 0, apiErr(http.StatusBadRequest, "invalid_argument", "health must be a number from 0 to 1000")
	}
	return n, nil
}

func (s *Server) status(ctx context.Context, mon Monitor, id string, limit int) (*statusJSON, error) {
	st, err := mon.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &statusJSON{Tenant: st.Tenant, State: string(st.State), Halted: st.Halted, Degraded: st.Degraded,
		UnavailableSince: st.UnavailableSince, Reason: st.Reason, DeletionDate: st.DeletionDate,
		ArchivedAt: st.ArchivedAt, RestoreUntil: st.RestoreUntil, Health: []healthJSON{}}
	if at, ok := mon.NextProbe(id); ok && probed(st) {
		out.NextProbe = at
	}
	if out.KeyVersions, err = s.keyVersions(ctx, id); err != nil {
		return nil, err
	}
	if out.Regions, err = s.cfg.Control.Regions(ctx, id); err != nil {
		return nil, err
	}
	if out.Regions == nil {
		out.Regions = map[string]*tenant.Region{}
	}
	if limit == 0 {
		return out, nil
	}
	recs, err := mon.Health(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	for _, h := range recs {
		out.Health = append(out.Health, healthJSON{h.At, string(h.Outcome), h.Code, h.Key, h.Version, h.RequestID, h.Detail})
	}
	return out, nil
}

// probed reports whether the monitor probes the tenant on its schedule: the
// scheduler drops an archived or offboarded tenant only at its next
// listing, and must not be shown probing it meanwhile.
func probed(st *monitor.Status) bool {
	switch st.State {
	case tenant.StateActive, tenant.StateKeyUnavailable, tenant.StateSuspended, tenant.StateDeletionPending:
		return st.ArchivedAt.IsZero()
	}
	return false
}

func (s *Server) keyVersions(ctx context.Context, id string) ([]*keyVersionJSON, error) {
	vs, err := s.cfg.Store.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []*keyVersionJSON{}
	for _, v := range vs {
		kv := &keyVersionJSON{Version: v.Version, Created: v.Created, Wrappings: []wrappingJSON{}}
		for _, w := range v.Wrappings {
			kv.Wrappings = append(kv.Wrappings, wrappingJSON{Provider: w.Key.Provider, Key: w.Key.ID,
				Region: regionOf(w.Key), Algorithm: w.Algorithm})
		}
		out = append(out, kv)
	}
	return out, nil
}

// regionOf is the region whose endpoint serves ref: its own, or the one
// in its ARN.
func regionOf(ref kms.KeyRef) string {
	if ref.Region != "" {
		return ref.Region
	}
	if parts := strings.SplitN(ref.ID, ":", 5); len(parts) == 5 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}

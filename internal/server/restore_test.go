package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/monitor"
)

// due is more than one probe interval and its jitter: every monitored
// tenant's probe is due after it.
const due = monitor.DefaultInterval + monitor.DefaultJitter + time.Second

func (e *env) setKey(enabled bool) {
	e.t.Helper()
	var err error
	if enabled {
		_, err = e.customer(home).EnableKey(bg, &kmsapi.EnableKeyInput{KeyId: aws.String(mrkID)})
	} else {
		_, err = e.customer(home).DisableKey(bg, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)})
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func status(t *testing.T, c *client.Client, id string) *client.TenantStatus {
	t.Helper()
	st, err := c.Status(bg, id, 0)
	if err != nil {
		t.Fatalf("Status(%s) err = %v", id, err)
	}
	return st
}

// archive takes acme from active to archived through the monitor's
// timers: the key disabled, then SuspendAfter, then ArchiveAfter.
func archive(t *testing.T, e *env, c *client.Client) {
	t.Helper()
	e.setKey(false)
	e.probe(due)
	if st := status(t, c, "acme"); st.State != "key_unavailable" || st.Reason != "key_disabled" || st.UnavailableSince.IsZero() || st.Halted {
		t.Fatalf("status after disabling = %+v, want key_unavailable since a time, reason key_disabled, not halted", st)
	}
	wantCode(t, restoreCall(c, "acme"), "tenant_not_archived", http.StatusConflict)
	e.probe(monitor.DefaultSuspendAfter)
	if st := status(t, c, "acme"); st.State != "suspended" || !st.Halted || !st.ArchivedAt.IsZero() {
		t.Fatalf("status after SuspendAfter = %+v, want suspended, halted, not archived", st)
	}
	wantCode(t, restoreCall(c, "acme"), "tenant_not_archived", http.StatusConflict)
	e.probe(monitor.DefaultArchiveAfter)
	st := status(t, c, "acme")
	if st.State != "suspended" || st.ArchivedAt.IsZero() || !st.RestoreUntil.Equal(st.ArchivedAt.Add(monitor.DefaultRestoreWindow)) || !st.NextProbe.IsZero() {
		t.Fatalf("status after ArchiveAfter = %+v, want archived with a restore window and no probe scheduled", st)
	}
}

func restoreCall(c *client.Client, id string) error {
	_, err := c.Restore(bg, id)
	return err
}

// TestRestore drives a tenant through the monitor from active to archived
// and back with POST /v1/tenants/{id}/restore, reading its status at each
// step through the client.
func TestRestore(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner := e.client(e.owner)
	e.probe(due)
	e.probe(due)
	st := status(t, owner, "acme")
	if st.State != "active" || st.Halted || st.Reason != "" || st.NextProbe.IsZero() || !st.NextProbe.After(e.clock.Now()) {
		t.Fatalf("status of a healthy tenant = %+v, want active with a probe ahead", st)
	}
	if len(st.Health) == 0 || st.Health[0].Outcome != "ok" {
		t.Fatalf("health = %+v, want the passing probe", st.Health)
	}
	wantCode(t, restoreCall(owner, "acme"), "tenant_not_archived", http.StatusConflict)

	archive(t, e, owner)
	admin := e.scoped(auth.RoleAdmin, "acme")
	err := restoreCall(admin, "acme")
	wantCode(t, err, "key_unavailable", http.StatusLocked)
	var ce *client.Error
	if asClientErr(err, &ce); !strings.Contains(ce.Message, "key_disabled") || !strings.Contains(string(ce.Details), `"reason":"key_disabled"`) {
		t.Fatalf("restore with the key disabled: %q %s, want the key's code in message and details", ce.Message, ce.Details)
	}
	member := e.memberOf("acme")
	if _, err := e.client(member).Encrypt(bg, "acme", []byte("x"), nil); client.Code(err) != "tenant_suspended" {
		t.Fatalf("Encrypt(archived) err = %v, want tenant_suspended", err)
	}

	e.setKey(true)
	e.probe(due)
	if status(t, owner, "acme").State != "suspended" {
		t.Fatal("an archived tenant came back without a restore")
	}
	for _, c := range []*client.Client{e.scoped(auth.RoleAuditor, "acme"), e.scoped(auth.RoleAdmin, "other"), e.client(member)} {
		wantCode(t, restoreCall(c, "acme"), "forbidden", http.StatusForbidden)
	}
	st, err = admin.Restore(bg, "acme")
	if err != nil {
		t.Fatalf("Restore() err = %v", err)
	}
	if st.State != "active" || st.Halted || !st.ArchivedAt.IsZero() || !st.UnavailableSince.IsZero() || st.Health[0].Outcome != "ok" {
		t.Fatalf("Restore() = %+v, want active, the outage cleared, the passing probe first", st)
	}
	if _, err := e.client(member).Encrypt(bg, "acme", []byte("x"), nil); err != nil {
		t.Fatalf("Encrypt(restored) err = %v", err)
	}
	evs := e.audit.find(string(auth.TenantRestore), "acme")
	outcomes := []string{}
	for _, ev := range evs {
		outcomes = append(outcomes, ev.Outcome)
	}
	// The admin of "other" was refused: that is in other's chain, not acme's.
	want := "tenant_not_archived tenant_not_archived tenant_not_archived key_unavailable forbidden forbidden ok"
	if got := strings.Join(outcomes, " "); got != want || evs[len(evs)-1].KeyARN != mrkARN {
		t.Fatalf("restore audit outcomes = %s (last %+v), want %s naming the key", got, evs[len(evs)-1], want)
	}
	if evs := e.audit.find(string(auth.TenantRestore), "other"); len(evs) != 1 || evs[0].Outcome != "forbidden" || evs[0].Details["requested_tenant"] != "acme" {
		t.Fatalf("other's restore events = %+v, want its admin's refusal naming acme", evs)
	}
}

// TestRestoreWindow: a throttled probe leaves an archived tenant to be
// restored later, and past the restore window it cannot be, even with its
// key back.
func TestRestoreWindow(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner := e.client(e.owner)
	e.probe(due)
	e.probe(due)
	archive(t, e, owner)
	e.setKey(true)
	// A key service that does not answer is not the key being unusable.
	if err := e.aws.SetFaults([]awsemu.Fault{{Kind: awsemu.FaultThrottle}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, restoreCall(owner, "acme"), "kms_throttled", http.StatusTooManyRequests)
	if err := e.aws.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(monitor.DefaultRestoreWindow + time.Second)
	wantCode(t, restoreCall(owner, "acme"), "restore_window_expired", http.StatusGone)
	wantCode(t, restoreCall(owner, "nobody"), "tenant_not_found", http.StatusNotFound)
	if status(t, owner, "acme").State != "suspended" {
		t.Fatal("an expired restore changed the tenant")
	}
}

// TestTenantStatus reads what the status route says of a tenant's keys
// and regions, and what it refuses.
func TestTenantStatus(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner := e.client(e.owner)
	if _, err := owner.Rotate(bg, "acme"); err != nil {
		t.Fatal(err)
	}
	st := status(t, owner, "acme")
	if len(st.KeyVersions) != 2 || st.KeyVersions[0].Version != 1 || st.KeyVersions[1].Version != 2 || st.KeyVersions[1].Created.IsZero() {
		t.Fatalf("key versions = %+v, want 1 and 2", st.KeyVersions)
	}
	replicaARN := strings.Replace(mrkARN, home, replica, 1)
	for _, v := range st.KeyVersions {
		var got []string
		for _, w := range v.Wrappings {
			got = append(got, w.Provider+" "+w.Region+" "+w.Key)
		}
		want := []string{"aws-kms " + home + " " + mrkARN, "aws-kms " + replica + " " + replicaARN}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("version %d wrappings = %q, want the customer's key and its replica: %q", v.Version, got, want)
		}
	}
	for _, region := range []string{home, replica} {
		if r := st.Regions[region]; r == nil || !r.Ready || len(st.Regions) != 2 {
			t.Fatalf("regions = %+v, want %s and %s ready", st.Regions, home, replica)
		}
	}
	if !st.NextProbe.IsZero() || len(st.Health) != 0 {
		t.Fatalf("before any pass: next probe %v, health %+v; want neither", st.NextProbe, st.Health)
	}
	raw := e.get(t, "/v1/tenants/acme/status?health=1", e.owner)
	for _, absent := range []string{"archived_at", "restore_until", "deletion_date", "unavailable_since", "reason", "next_probe"} {
		if _, ok := raw[absent]; ok {
			t.Errorf("status of an active tenant has %s: %v", absent, raw)
		}
	}
	if _, err := owner.Status(bg, "nobody", 0); client.Code(err) != "tenant_not_found" {
		t.Fatalf("Status(nobody) err = %v, want tenant_not_found", err)
	}
	if _, err := e.client(e.other).Status(bg, "acme", 0); client.Code(err) != "forbidden" {
		t.Fatalf("Status by another tenant's member err = %v, want forbidden", err)
	}
	if got := e.get(t, "/v1/tenants/acme/status?health=x", e.owner); got["code"] != "invalid_argument" {
		t.Fatalf("status?health=x = %v, want invalid_argument", got)
	}

	// An embedding without a monitor says so.
	cfg := e.server.cfg
	cfg.Monitor, cfg.Registry = nil, nil
	bare, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET /v1/tenants/acme/status", "POST /v1/tenants/acme/restore"} {
		m, path, _ := strings.Cut(method, " ")
		req := httptest.NewRequest(m, path, nil)
		req.Header.Set("Authorization", "Bearer "+e.owner)
		rec := httptest.NewRecorder()
		bare.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), `"not_implemented"`) {
			t.Errorf("%s without a monitor = %d %s, want 501 not_implemented", method, rec.Code, rec.Body)
		}
	}
}

// get calls a route with token and decodes its JSON answer, whatever the
// status.
func (e *env) get(t *testing.T, path, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeletionPendingServing: the server does not refuse a tenant whose key
// deletion is scheduled, but AWS KMS refuses the key, and the probe that
// sees it evicts the cached keys: data operations answer
// key_pending_deletion from then on.
func TestDeletionPendingServing(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner := e.client(e.owner)
	member := e.client(e.memberOf("acme"))
	if _, err := member.Encrypt(bg, "acme", []byte("cached"), nil); err != nil {
		t.Fatal(err)
	}
	e.probe(due)
	for _, region := range []string{replica, home} {
		_, err := e.customer(region).ScheduleKeyDeletion(bg, &kmsapi.ScheduleKeyDeletionInput{KeyId: aws.String(mrkID), PendingWindowInDays: aws.Int32(7)})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.probe(due)
	st := status(t, owner, "acme")
	// The primary waits for its replica's deletion (PendingReplicaDeletion)
	// and has no date yet.
	if st.State != "deletion_pending" || st.Halted || st.Reason != "key_pending_deletion" {
		t.Fatalf("status after scheduling deletion = %+v, want deletion_pending, not halted", st)
	}
	_, err := member.Encrypt(bg, "acme", []byte("x"), nil)
	wantCode(t, err, "key_pending_deletion", http.StatusLocked)
}

// restoreRoutes are TestAPI's subtests of the status and restore routes,
// on the pending tenant adm; TestRestore follows a tenant through them.
func restoreRoutes(e *env, run subtest) {
	owner := e.client(e.owner)
	run("GET /v1/tenants/{id}/status", func(t *testing.T) {
		st := status(t, owner, "adm")
		if st.State != "pending" || st.Halted || len(st.Regions) != 0 || !st.NextProbe.IsZero() {
			t.Fatalf("Status(pending) = %+v, want pending, no region, no probe", st)
		}
		// A new tenant's first version is under the platform key.
		if len(st.KeyVersions) != 1 || len(st.KeyVersions[0].Wrappings) != 1 || st.KeyVersions[0].Wrappings[0].Provider != "local" {
			t.Fatalf("Status(pending) key versions = %+v, want one under the platform key", st.KeyVersions)
		}
	})
	run("POST /v1/tenants/{id}/restore", func(t *testing.T) {
		err := restoreCall(owner, "adm")
		wantCode(t, err, "tenant_not_archived", http.StatusConflict)
		if !strings.Contains(err.Error(), "is pending and not archived") {
			t.Fatalf("Restore(pending) err = %v, want it to say the state", err)
		}
	})
}

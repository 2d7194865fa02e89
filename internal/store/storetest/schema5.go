package storetest

import (
	_ "embed"
	"encoding/json"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// schema5JSON holds the tenant rows of a database written by the release at
// schema version 5, when a tenant's settings were an untyped JSON object.
//
//go:embed testdata/schema5-tenants.json
var schema5JSON []byte

// Schema5Row is one tenants row as schema version 5 stored it.
type Schema5Row struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	ExternalID string `json:"external_id"`
	State      string `json:"state"`
	Revision   int64  `json:"revision"`
	CreatedAt  int64  `json:"created_at"` // Unix microseconds
	UpdatedAt  int64  `json:"updated_at"`
	Settings   string `json:"settings"`
}

// Schema5Rows returns the rows; the first five are those of
// testdata/schema5.db in package sqlite, written by that release's byok dev.
func Schema5Rows(t *testing.T) []Schema5Row {
	t.Helper()
	var doc struct{ Tenants []Schema5Row }
	if err := json.Unmarshal(schema5JSON, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Tenants
}

const (
	demoKey  = "arn:aws:kms:eu-west-1:222222222222:key/mrk-0d0e0f00112233445566778899aabbcc"
	spareKey = "arn:aws:kms:eu-west-1:222222222222:key/mrk-1d1e1f00112233445566778899aabbcc"
)

// CheckSchema5 checks that s, migrated from schema version 5 with
// Schema5Rows stored, reads each tenant's settings as the typed model.
func CheckSchema5(t *testing.T, s store.Store) {
	t.Helper()
	get := func(id string) *tenant.Tenant {
		t.Helper()
		tn, err := s.GetTenant(ctx, id)
		if err != nil {
			t.Fatalf("GetTenant(%s) after migration err = %v", id, err)
		}
		return tn
	}
	for _, row := range Schema5Rows(t) {
		tn := get(row.ID)
		if tn.Revision != row.Revision || string(tn.State) != row.State || !tn.StateSince.Equal(tn.UpdatedAt) {
			t.Errorf("%s: revision %d state %s since %v, want revision %d state %s since the last update %v",
				row.ID, tn.Revision, tn.State, tn.StateSince, row.Revision, row.State, tn.UpdatedAt)
		}
	}
	checkSchema5Demo(t, get("demo"))
	checkSchema5Shredded(t, get("acme"))
	if life := get("life"); life.KeyBinding == nil || life.KeyBinding.Regions["eu-west-1"] != spareKey || life.Outage != (tenant.Outage{}) {
		t.Errorf("life (key changed) = %+v, want bound to the spare key and no outage", life)
	}
	if p := get("pend"); p.KeyBinding != nil || p.Regions != nil || p.Outage != (tenant.Outage{}) || p.Receipt != nil {
		t.Errorf("pend (pending) = %+v, want an empty model", p)
	}
	checkSchema5Moving(t, get("moving"))
	if a := get("archived"); a.Outage.Reason != "key_access_denied" || !a.Outage.ArchivedAt.Equal(at("2026-11-27T10:00:00Z")) {
		t.Errorf("archived outage = %+v, want key_access_denied archived at 2026-11-27T10:00:00Z", a.Outage)
	}
	if w := get("warned"); w.Outage.Warned != 24*time.Hour || !w.Outage.DeletionDate.Equal(at("2026-12-10T00:00:00Z")) {
		t.Errorf("warned outage = %+v, want warned at 24h before 2026-12-10", w.Outage)
	}
}

func checkSchema5Demo(t *testing.T, d *tenant.Tenant) {
	t.Helper()
	if d.KeyBinding == nil || d.KeyBinding.Regions["eu-west-1"] != demoKey || d.KeyBinding.Enabled.IsZero() {
		t.Errorf("demo key binding = %+v, want eu-west-1 bound to %s with its enable time", d.KeyBinding, demoKey)
	}
	if d.Outage.Reason != "key_disabled" || d.Outage.Since.IsZero() {
		t.Errorf("demo outage = %+v, want key_disabled with its start", d.Outage)
	}
	for _, r := range []string{"eu-west-1", "eu-central-1"} {
		if !d.ReadyIn(r) || len(d.Regions[r].Keys) != 1 || d.Regions[r].Keys[0].Region != r {
			t.Errorf("demo region %s = %+v, want ready under its own key", r, d.Regions[r])
		}
	}
}

func checkSchema5Shredded(t *testing.T, a *tenant.Tenant) {
	t.Helper()
	if a.Receipt == nil || len(a.Receipt.Signature) != 64 || !json.Valid(a.Receipt.Receipt) {
		t.Errorf("acme (offboarded) receipt = %+v, want the signed receipt", a.Receipt)
	}
	if a.Offboarding == nil || len(a.Offboarding.Versions) != 1 || len(a.Offboarding.Keys) != 2 {
		t.Errorf("acme offboarding = %+v, want 1 version and 2 keys", a.Offboarding)
	}
}

func checkSchema5Moving(t *testing.T, m *tenant.Tenant) {
	t.Helper()
	kc := m.KeyChange
	if kc == nil || kc.Resolved != spareKey || len(kc.From) != 1 || len(kc.To) != 1 || !kc.Started.Equal(at("2026-12-03T13:40:00Z")) {
		t.Errorf("moving key change = %+v, want the change to the spare key under way", kc)
	}
	v := m.Vaults["backup"]
	if v == nil || !v.Default || v.RoleARN == "" || !v.Added.Equal(at("2026-12-03T13:41:00Z")) {
		t.Errorf("moving vault = %+v, want the backup vault", v)
	}
}

func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

// Package storetest is the contract every [store.Store] implementation
// passes.
//
// # Suites
//
// [Run] checks every method on a fresh, empty store per subtest: results,
// errors and their codes, compare-and-swap races, pagination, foreign-key
// protection of key versions, the [keyring.Store] semantics and concurrent
// use, API tokens, and the webhook outbox's leases. [RunShared] checks two stores open on the same
// database, as two server instances would be. [RunKeyring] runs a real keyring with a
// local key provider on the store.
//
// Stores under test must be opened with Writer set to [WriterA] (and the
// second store of [RunShared] with [WriterB]).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// Writers the stores under test must be opened with.
const (
	WriterA = "storetest-a"
	WriterB = "storetest-b"
)

// Opener returns a new, empty store, closed when t ends.
type Opener func(t *testing.T) store.Store

// Run runs the contract suite; each subtest opens its own store.
func Run(t *testing.T, open Opener) {
	suites := map[string]func(*testing.T, store.Store){
		"CreateGet":              testCreateGet,
		"CreateConflicts":        testCreateConflicts,
		"CreateInvalid":          testCreateInvalid,
		"GetErrors":              testGetErrors,
		"List":                   testList,
		"ListErrors":             testListErrors,
		"Update":                 testUpdate,
		"UpdateErrors":           testUpdateErrors,
		"UpdateRace":             testUpdateRace,
		"Delete":                 testDelete,
		"DeleteProtectsVersions": testDeleteProtectsVersions,
		"Shred":                  testShred,
		"Attachments":            testAttachments,
		"AttachmentErrors":       testAttachmentErrors,
		"AttachmentInvalid":      testAttachmentInvalid,
		"Versions":               testVersions,
		"NoKey":                  testNoKey,
		"VersionExists":          testVersionExists,
		"VersionRace":            testVersionRace,
		"VersionInvalid":         testVersionInvalid,
		"SetWrappings":           testSetWrappings,
		"SetWrappingsErrors":     testSetWrappingsErrors,
		"VersionsByWriter":       testVersionsByWriter,
		"Concurrent":             testConcurrent,
		"Canceled":               testCanceled,
		"Health":                 testHealth,
		"HealthErrors":           testHealthErrors,
		"Webhooks":               testWebhooks,
		"WebhookErrors":          testWebhookErrors,
		"SealedWebhooks":         testSealedWebhooks,
		"SealClearSecrets":       testSealClearSecrets,
		"Deliveries":             testDeliveries,
		"SameNameOwners":         testSameNameOwners,
		"PruneHistory":           testPruneHistory,
		"Outbox":                 testOutbox,
		"OutboxClaim":            testOutboxClaim,
		"OutboxErrors":           testOutboxErrors,
		"OutboxCleanup":          testOutboxCleanup,
		"UpdateWithEvents":       testUpdateWithEvents,
		"Tokens":                 testTokens,
		"TokenErrors":            testTokenErrors,
		"TokenInvalid":           testTokenInvalid,
		"TokenRevokeTouch":       testTokenRevokeTouch,
		"FirstToken":             testFirstToken,
		"FirstTokenRace":         testFirstTokenRace,
		"TokensGoWithTenant":     testTokensGoWithTenant,
	}
	for _, name := range sortedKeys(suites) {
		fn := suites[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// newTenant returns a valid tenant to create.
func newTenant(id string) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: "Tenant " + id, ExternalID: "ext-" + id + "-0000", State: tenant.StatePending}
}

func mustCreate(t *testing.T, s store.Store, id string) *tenant.Tenant {
	t.Helper()
	got, err := s.CreateTenant(ctx, newTenant(id))
	if err != nil {
		t.Fatalf("CreateTenant(%s) err = %v", id, err)
	}
	return got
}

// wantErr fails t unless err matches want and carries want's code.
func wantErr(t *testing.T, what string, err error, want *store.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s err = %v, want %s", what, err, want.Code())
	}
	if got := store.Code(err); got != want.Code() {
		t.Fatalf("%s code = %q, want %q (err %v)", what, got, want.Code(), err)
	}
}

// wrapping returns a distinct, fully populated wrapping.
func wrapping(n int) kms.Wrapped {
	w := kms.Wrapped{
		Key:        kms.KeyRef{Provider: "aws-kms", ID: fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/mrk-%d", n), Region: "eu-west-1"},
		Algorithm:  "SYMMETRIC_DEFAULT",
		Ciphertext: []byte(fmt.Sprintf("ciphertext-%d\x00\xff", n)),
		RequestID:  fmt.Sprintf("req-%d", n),
	}
	if n%2 == 1 {
		w.Key.FailoverRegions = []string{"eu-central-1", "us-east-1"}
		w.Key.RoleARN = "arn:aws:iam::111122223333:role/byok"
		w.Key.ExternalID = "ext-0123456789"
		w.Algorithm = "RSAES_OAEP_SHA_256"
		w.IdentityTag = []byte{1, 2, 3, byte(n)}
	}
	return w
}

func version(tenant string, v uint32, wrappings ...int) *keyring.Version {
	kv := &keyring.Version{Tenant: tenant, Version: v, Created: time.Date(2026, 3, 1, 12, 0, int(v), 123456000, time.UTC)}
	for _, n := range wrappings {
		kv.Wrappings = append(kv.Wrappings, wrapping(n))
	}
	return kv
}

func mustAdd(t *testing.T, s store.Store, v *keyring.Version) {
	t.Helper()
	if err := s.AddVersion(ctx, v); err != nil {
		t.Fatalf("AddVersion(%s v%d) err = %v", v.Tenant, v.Version, err)
	}
}

func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func ref(tenant string, v uint32) store.VersionRef {
	return store.VersionRef{Tenant: tenant, Version: v}
}

// SeedKeys creates tenant with two key versions, for implementation tests
// that look below the store.
func SeedKeys(t *testing.T, s store.Store, tenant string) {
	t.Helper()
	mustCreate(t, s, tenant)
	mustAdd(t, s, version(tenant, 1, 1, 2))
	mustAdd(t, s, version(tenant, 2, 3))
}

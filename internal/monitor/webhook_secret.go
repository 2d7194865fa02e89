package monitor

import (
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/rootseal"
	"github.com/byok-dev/byok/internal/store"
)

// Signing secrets at rest. With a root key (WebhookConfig.Secrets), a
// subscription's secret is stored sealed under it, bound to the
// subscription's id and tenant, and opened for each delivery: a copy of the
// database alone cannot sign deliveries, and a sealed secret copied to
// another subscription's row does not open there. Without one, secrets are
// stored in clear, as releases before sealing stored them; SealStoredSecrets
// seals those once a root key is configured.

// secretPurpose separates the webhook secrets' key from the other keys
// derived from the platform root key.
const secretPurpose = "webhook secret"

// NewSecretSealer returns the sealer of webhook signing secrets under the
// root key file's versions: new secrets under the newest, each opened under
// the version it names.
func NewSecretSealer(root *keyfile.File) (*rootseal.Sealer, error) {
	return rootseal.New(root, secretPurpose)
}

// sealedPage is how many subscriptions SealStoredSecrets reads at a time.
const sealedPage = 100

// protect puts secret into in as the store should keep it.
func (w *Webhooks) protect(in *store.Webhook, secret []byte) error {
	if w.cfg.Secrets == nil {
		in.Secret = secret
		return nil
	}
	sealed, err := w.cfg.Secrets.Seal(secret, in.ID, in.Tenant)
	if err != nil {
		return fmt.Errorf("monitor: sealing the secret of webhook %s: %w", in.ID, err)
	}
	in.SealedSecret = sealed
	return nil
}

// signingSecret returns the secret that signs o's delivery. A sealed
// secret that does not open fails the attempt with the reason, and nothing
// is sent: a delivery signed with anything else would only be refused.
func (w *Webhooks) signingSecret(o *store.Outbound) ([]byte, error) {
	if len(o.SealedSecret) == 0 {
		return o.Secret, nil
	}
	if w.cfg.Secrets == nil {
		return nil, fmt.Errorf("webhook %s: its signing secret is sealed under the platform root key, and this instance has no root key (root_key_file)", o.Webhook)
	}
	secret, err := w.cfg.Secrets.Open(o.SealedSecret, o.Webhook, o.Tenant)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: its signing secret does not open (%w); nothing was sent", o.Webhook, err)
	}
	return secret, nil
}

// SealStoredSecrets seals every secret stored in clear (by a release before
// sealing, or by an instance without a root key) and returns how many it
// sealed. Each is replaced in a statement of its own, so a start
// interrupted halfway leaves the rest in clear for the next; an instance
// sealing the same rows at once seals each only once. Without a root key it
// does nothing.
func (w *Webhooks) SealStoredSecrets(ctx context.Context) (int, error) {
	if w.cfg.Secrets == nil {
		return 0, nil
	}
	n, afterTenant, afterID := 0, "", ""
	for {
		page, err := w.cfg.Store.ClearSecretWebhooks(ctx, afterTenant, afterID, sealedPage)
		if err != nil {
			return n, fmt.Errorf("monitor: listing webhook secrets in clear: %w", err)
		}
		for _, h := range page {
			sealed, err := w.sealStored(ctx, h)
			if err != nil {
				return n, err
			}
			if sealed {
				n++
			}
		}
		if len(page) < sealedPage {
			return n, nil
		}
		afterTenant, afterID = page[len(page)-1].Tenant, page[len(page)-1].ID
	}
}

// sealStored seals h's clear secret in place; false when h was deleted or
// sealed meanwhile.
func (w *Webhooks) sealStored(ctx context.Context, h *store.Webhook) (bool, error) {
	sealed, err := w.cfg.Secrets.Seal(h.Secret, h.ID, h.Tenant)
	if err != nil {
		return false, fmt.Errorf("monitor: sealing the secret of webhook %s: %w", h.ID, err)
	}
	err = w.cfg.Store.SealWebhookSecret(ctx, h.Tenant, h.ID, h.Secret, sealed)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("monitor: storing the sealed secret of webhook %s: %w", h.ID, err)
	}
	return true, nil
}

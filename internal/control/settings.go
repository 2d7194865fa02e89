package control

import (
	"context"

	"github.com/byok-dev/byok/internal/tenant"
)

// update applies mutate to the stored tenant through the tenant manager's
// compare-and-swap, which re-reads the tenant when another writer got there
// first. mutate sees the newest state each time, so it must check its own
// preconditions; its *Error is returned as is.
func (s *Service) update(ctx context.Context, id string, mutate func(*tenant.Tenant) error) (*tenant.Tenant, error) {
	t, err := s.tenants.Update(ctx, id, mutate)
	if err != nil {
		return nil, fromStore(err)
	}
	return t, nil
}

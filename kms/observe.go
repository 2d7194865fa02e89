package kms

import "context"

// Call is one request a provider made to its KMS (or to STS for a role),
// as the customer's audit trail records it: providers retry and fail over,
// so one provider operation may be several calls, and a local RSA wrap none.
type Call struct {
	Service   string // "kms" or "sts"
	API       string // "Decrypt", "GenerateDataKey", "AssumeRole", ...
	Region    string
	RequestID string // the id the customer's CloudTrail shows
	Class     Class  // 0 on success
	Err       error
}

type observerKey struct{}

// WithObserver returns a context whose provider calls report each request
// they make to fn, on the calling goroutine, as soon as it is answered.
func WithObserver(ctx context.Context, fn func(Call)) context.Context {
	return context.WithValue(ctx, observerKey{}, fn)
}

// Observe reports c to the observer in ctx, if any. Providers call it.
func Observe(ctx context.Context, c Call) {
	if fn, ok := ctx.Value(observerKey{}).(func(Call)); ok && fn != nil {
		fn(c)
	}
}

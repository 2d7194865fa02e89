package awskms

import (
	"sync"
	"time"
)

// breaker is one region's circuit breaker. Closed, it counts consecutive
// transient failures; at the threshold it opens and the region is skipped;
// after the cool-down one call is let through (half-open), whose outcome
// closes or reopens it.
type breaker struct {
	policy BreakerPolicy

	mu       sync.Mutex
	failures int
	openedAt time.Time // zero while closed
	trial    bool      // a half-open trial call is in flight
}

// allow reports whether a call may go to the region now.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return true
	}
	if b.trial || now.Sub(b.openedAt) < b.policy.Cooldown {
		return false
	}
	b.trial = true
	return true
}

// record notes the outcome of an allowed call: transient is true for a
// throttled or unavailable region. Other failures show the region answering.
func (b *breaker) record(now time.Time, transient bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if !transient {
		b.failures, b.openedAt = 0, time.Time{}
		return
	}
	b.failures++
	if b.failures >= b.policy.Failures {
		b.openedAt = now
	}
}

// release ends an allowed call that reached no verdict on the region (the
// caller gave up), so that a half-open breaker may try again.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// isOpen reports whether the breaker is open or half-open.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openedAt.IsZero()
}

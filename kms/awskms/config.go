package awskms

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config configures a [Provider]. The zero value of every field but AWS
// means its documented default.
type Config struct {
	// AWS is the platform's base SDK configuration, from
	// config.LoadDefaultConfig in production. Its Credentials are the
	// platform's own, used directly (cross-account key policy) and to call
	// sts:AssumeRole. Its Region is ignored: each key names its region. Its
	// BaseEndpoint, when set, serves every service and region (an emulator).
	// Its retryer is replaced: the provider retries itself.
	AWS aws.Config

	// Endpoint, when set, returns the endpoint URL for service ("kms" or
	// "sts") in region, for example a VPC interface endpoint; "" keeps the
	// SDK's endpoint (or AWS.BaseEndpoint).
	Endpoint func(service, region string) string

	// RoleSessionPrefix starts every assumed-role session name, which goes on
	// with the tenant id so that the customer's CloudTrail names the tenant.
	// Default "byok"; at most 32 characters of A-Z a-z 0-9 + = , . @ _ -.
	RoleSessionPrefix string
	// SessionDuration is the lifetime asked of sts:AssumeRole (900 s to 12 h,
	// and at most the role's maximum). Default 1 hour.
	SessionDuration time.Duration
	// RefreshWindow is how long before expiry session credentials are
	// replaced. Default 5 minutes; less than SessionDuration.
	RefreshWindow time.Duration

	Retry   RetryPolicy
	Breaker BreakerPolicy

	// CallTimeout bounds each provider call, retries and failover included.
	// Default 10 seconds.
	CallTimeout time.Duration
	// AttemptTimeout bounds one request to one region, so that a region that
	// hangs counts as a failure and the call fails over while time is left.
	// Default 3 seconds; at most CallTimeout.
	AttemptTimeout time.Duration

	// IntegrityKey is the platform secret (32 bytes) keying the identity tag
	// of RSA wrappings. Required to use RSA keys; keep it as safe as the
	// store is not. Changing it invalidates every RSA wrapping.
	IntegrityKey []byte

	// Clock returns the current time for credential expiry and circuit
	// breakers. Default time.Now.
	Clock func() time.Time
}

// RetryPolicy is capped exponential backoff with full jitter: before attempt
// n+1 the provider sleeps a uniform random time in [0, min(MaxDelay,
// BaseDelay·2ⁿ⁻¹)), and never past the call's deadline. Only Throttled and
// Unavailable failures are retried.
type RetryPolicy struct {
	// MaxAttempts is the number of rounds over the key's regions, 1 to 20.
	// Default 3.
	MaxAttempts int
	// BaseDelay defaults to 50 ms, MaxDelay to 2 s.
	BaseDelay, MaxDelay time.Duration
}

// BreakerPolicy configures the per-region circuit breakers: a region is
// skipped after Failures consecutive transient failures, and tried again by
// a single call once Cooldown has passed.
type BreakerPolicy struct {
	// Failures defaults to 5; Cooldown to 30 seconds.
	Failures int
	Cooldown time.Duration
}

// IntegrityKeySize is the size of Config.IntegrityKey.
const IntegrityKeySize = 32

var sessionPrefixRe = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDefault(&c.RoleSessionPrefix, "byok")
	setDefault(&c.SessionDuration, time.Hour)
	setDefault(&c.RefreshWindow, 5*time.Minute)
	setDefault(&c.Retry.MaxAttempts, 3)
	setDefault(&c.Retry.BaseDelay, 50*time.Millisecond)
	setDefault(&c.Retry.MaxDelay, 2*time.Second)
	setDefault(&c.Breaker.Failures, 5)
	setDefault(&c.Breaker.Cooldown, 30*time.Second)
	setDefault(&c.CallTimeout, 10*time.Second)
	setDefault(&c.AttemptTimeout, min(3*time.Second, c.CallTimeout))
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// validate reports the first invalid field of a defaulted config.
func (c Config) validate() error {
	switch {
	case c.AWS.Credentials == nil:
		return errors.New("AWS.Credentials is nil: load the default chain with config.LoadDefaultConfig")
	case c.IntegrityKey != nil && len(c.IntegrityKey) != IntegrityKeySize:
		return fmt.Errorf("IntegrityKey is %d bytes, want %d", len(c.IntegrityKey), IntegrityKeySize)
	case !sessionPrefixRe.MatchString(c.RoleSessionPrefix):
		return fmt.Errorf("RoleSessionPrefix %q: want 1 to 32 of A-Z a-z 0-9 + = , . @ _ -", c.RoleSessionPrefix)
	case c.SessionDuration < 15*time.Minute || c.SessionDuration > 12*time.Hour:
		return fmt.Errorf("SessionDuration %v is not between 15m and 12h", c.SessionDuration)
	case c.RefreshWindow < 0 || c.RefreshWindow >= c.SessionDuration:
		return fmt.Errorf("RefreshWindow %v must be less than SessionDuration %v", c.RefreshWindow, c.SessionDuration)
	}
	return c.validateResilience()
}

func (c Config) validateResilience() error {
	switch {
	case c.Retry.MaxAttempts < 1 || c.Retry.MaxAttempts > 20:
		return fmt.Errorf("retry: MaxAttempts %d is not between 1 and 20", c.Retry.MaxAttempts)
	case c.Retry.BaseDelay < 0 || c.Retry.MaxDelay < c.Retry.BaseDelay:
		return fmt.Errorf("retry: delays %v..%v: want 0 <= BaseDelay <= MaxDelay", c.Retry.BaseDelay, c.Retry.MaxDelay)
	case c.Breaker.Failures < 1 || c.Breaker.Cooldown < 0:
		return fmt.Errorf("breaker %+v: want Failures >= 1 and Cooldown >= 0", c.Breaker)
	case c.CallTimeout < 0:
		return fmt.Errorf("CallTimeout %v is negative", c.CallTimeout)
	case c.AttemptTimeout < 0 || c.AttemptTimeout > c.CallTimeout:
		return fmt.Errorf("AttemptTimeout %v is not between 0 and CallTimeout %v", c.AttemptTimeout, c.CallTimeout)
	}
	return nil
}

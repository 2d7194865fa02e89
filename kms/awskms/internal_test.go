package awskms

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/byok-dev/byok/kms"
)

func TestBreaker(t *testing.T) {
	b := &breaker{policy: BreakerPolicy{Failures: 2, Cooldown: time.Minute}}
	t0 := time.Unix(1000, 0)
	step := func(now time.Time, wantAllow bool, transient bool) {
		t.Helper()
		if got := b.allow(now); got != wantAllow {
			t.Fatalf("allow(%v) = %v, want %v", now.Sub(t0), got, wantAllow)
		}
		if wantAllow {
			b.record(now, transient)
		}
	}
	step(t0, true, true)
	step(t0, true, false) // a success resets the count
	step(t0, true, true)
	step(t0, true, true) // second consecutive failure: open
	step(t0.Add(59*time.Second), false, false)
	if !b.allow(t0.Add(time.Minute)) {
		t.Fatal("allow() after the cool-down = false, want a half-open trial")
	}
	if b.allow(t0.Add(time.Minute)) {
		t.Fatal("a second call was let through while the half-open trial is in flight")
	}
	b.record(t0.Add(time.Minute), true) // the trial failed: open again
	step(t0.Add(time.Minute+time.Second), false, false)
	step(t0.Add(2*time.Minute), true, false) // trial succeeded: closed
	if b.isOpen() {
		t.Fatal("breaker still open after a successful trial")
	}
	step(t0.Add(2*time.Minute), true, true)
}

func TestBreakerRelease(t *testing.T) {
	b := &breaker{policy: BreakerPolicy{Failures: 1, Cooldown: time.Second}}
	t0 := time.Unix(1000, 0)
	b.allow(t0)
	b.record(t0, true)
	if !b.allow(t0.Add(time.Second)) {
		t.Fatal("no half-open trial after the cool-down")
	}
	b.release()
	if !b.allow(t0.Add(time.Second)) || !b.isOpen() {
		t.Fatal("after a released trial, another trial should be allowed and the breaker still open")
	}
}

func TestSessionName(t *testing.T) {
	for tenant, want := range map[string]string{
		"acme":    "byok-acme",
		"acme:eu": "byok-acme-eu",
		"a.b_c-d": "byok-a.b_c-d",
		"":        "byok-",
	} {
		if got := sessionName("byok", tenant); got != want {
			t.Errorf("sessionName(%q) = %q, want %q", tenant, got, want)
		}
	}
	long1, long2 := strings.Repeat("t", 100)+"1", strings.Repeat("t", 100)+"2"
	n1, n2 := sessionName("byok", long1), sessionName("byok", long2)
	if len(n1) != 64 || n1 == n2 || !strings.HasPrefix(n1, "byok-ttt") {
		t.Errorf("long tenant ids: names %q and %q, want 64 characters each and distinct", n1, n2)
	}
	if !sessionNameRe(n1) {
		t.Errorf("sessionName() = %q is outside STS's charset", n1)
	}
}

func sessionNameRe(s string) bool {
	for i := 0; i < len(s); i++ {
		if sessionChar(s[i]) != s[i] {
			return false
		}
	}
	return len(s) >= 2 && len(s) <= 64
}

func TestInvalidStateClass(t *testing.T) {
	for msg, want := range map[string]kms.Class{
		"arn:aws:kms:eu-west-1:222222222222:key/x is pending deletion.":         kms.PendingDeletion,
		"arn:aws:kms:eu-west-1:222222222222:key/x is pending replica deletion.": kms.PendingDeletion,
		"KeyState PendingDeletion is not valid for this operation":              kms.PendingDeletion,
		"arn:aws:kms:eu-west-1:222222222222:key/x is pending import.":           kms.Unavailable,
		"arn:aws:kms:eu-west-1:222222222222:key/x is unavailable.":              kms.Unavailable,
	} {
		if got := invalidStateClass(msg); got != want {
			t.Errorf("invalidStateClass(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	creds := aws.AnonymousCredentials{}
	base := Config{AWS: aws.Config{Credentials: creds}}
	if _, err := New(t.Context(), base); err != nil {
		t.Fatalf("New(defaults) err = %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"NoCredentials":      func(c *Config) { c.AWS.Credentials = nil },
		"ShortIntegrityKey":  func(c *Config) { c.IntegrityKey = make([]byte, 16) },
		"BadPrefix":          func(c *Config) { c.RoleSessionPrefix = "by ok" },
		"ShortSession":       func(c *Config) { c.SessionDuration = time.Minute },
		"WindowPastSession":  func(c *Config) { c.RefreshWindow = 2 * time.Hour },
		"TooManyAttempts":    func(c *Config) { c.Retry.MaxAttempts = 50 },
		"NegativeAttempts":   func(c *Config) { c.Retry.MaxAttempts = -1 },
		"DelaysInverted":     func(c *Config) { c.Retry.BaseDelay, c.Retry.MaxDelay = time.Second, time.Millisecond },
		"NegativeThreshold":  func(c *Config) { c.Breaker.Failures = -1 },
		"NegativeCallTimout": func(c *Config) { c.CallTimeout = -time.Second },
		"AttemptPastCall":    func(c *Config) { c.AttemptTimeout = time.Minute },
	} {
		c := base
		mutate(&c)
		if _, err := New(t.Context(), c); err == nil {
			t.Errorf("%s: New() err = nil, want a config error", name)
		}
	}
}

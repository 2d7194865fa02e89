package monitor

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	w := &Webhooks{cfg: WebhookConfig{BaseDelay: 5 * time.Second, MaxDelay: 10 * time.Minute}}
	caps := []time.Duration{5, 10, 20, 40, 80, 160, 320, 600, 600, 600}
	var total time.Duration
	for i, c := range caps {
		c *= time.Second
		for range 50 {
			if d := w.backoff(i + 1); d < c/2 || d > c {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", i+1, d, c/2, c)
			}
		}
		if i < 9 {
			total += c
		}
	}
	// Documented: with 10 attempts the last comes at most ~30 minutes after the first.
	if total != 1835*time.Second {
		t.Fatalf("sum of the 9 capped delays = %s, want 30m35s", total)
	}
	if d := w.backoff(200); d > 10*time.Minute || d < 5*time.Minute {
		t.Fatalf("backoff(200) = %s, want the cap without overflow", d)
	}
}

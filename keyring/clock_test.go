package keyring

import (
	"testing"
	"time"
)

func TestCoarseClock(t *testing.T) {
	c := newCoarseClock()
	first := c.read()
	time.Sleep(30 * time.Millisecond)
	second := c.read()
	if d := time.Duration(second - first); d < 20*time.Millisecond || d > time.Second {
		t.Fatalf("30 ms apart the clock moved %v", d)
	}
	if !c.running.Load() {
		t.Fatal("the refreshing goroutine is not running while the clock is read")
	}
	if lag := time.Duration(c.since() - c.read()); lag > 50*clockTick {
		t.Fatalf("the coarse reading lags %v behind", lag)
	}
	deadline := time.Now().Add(clockIdle + 2*time.Second)
	for c.running.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the refreshing goroutine did not stop when idle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Duration(c.read() - second); d < clockIdle {
		t.Fatalf("after idling the clock moved only %v", d)
	}
}

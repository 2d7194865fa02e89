package keyring

import (
	"sync/atomic"
	"time"
)

// clockTick is how often the coarse clock is refreshed while in use, and
// clockIdle how long it keeps ticking without readers.
const (
	clockTick = 5 * time.Millisecond
	clockIdle = time.Second
)

// coarseClock serves the cache's monotonic time cheaply: reading the system
// clock costs about as much as the rest of a cache hit on a virtual machine,
// so while the keyring is busy a background goroutine refreshes one shared
// reading every clockTick and hits read that (at most a few milliseconds
// old, far below any TTL). The goroutine stops after clockIdle without
// readers and starts again on the next read.
type coarseClock struct {
	base    time.Time
	now     atomic.Int64 // nanoseconds since base
	running atomic.Bool
	used    atomic.Bool
}

func newCoarseClock() *coarseClock { return &coarseClock{base: time.Now()} }

func (c *coarseClock) since() int64 { return int64(time.Since(c.base)) }

func (c *coarseClock) read() int64 {
	if c.running.Load() {
		if !c.used.Load() {
			c.used.Store(true)
		}
		return c.now.Load()
	}
	now := c.since()
	if c.running.CompareAndSwap(false, true) {
		c.now.Store(now)
		go c.tick()
	}
	return now
}

func (c *coarseClock) tick() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	idle := 0
	for range t.C {
		c.now.Store(c.since())
		if c.used.Swap(false) {
			idle = 0
			continue
		}
		if idle++; time.Duration(idle)*clockTick >= clockIdle {
			c.running.Store(false)
			return
		}
	}
}

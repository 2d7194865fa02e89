package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/byok-dev/byok/awsemu"
)

// emulatorClockEvery is how often the service rereads the emulator's clock:
// an advance shows in the monitor, the rotation job and the key cache
// within about this long.
const emulatorClockEvery = 500 * time.Millisecond

// emulatorClock is the service's clock when byok.yaml sets
// aws.emulator_clock: the real time plus the offset the AWS emulator's clock
// has been advanced by (POST /_awsemu/clock/advance). Following it lets a
// demo or a test watch hours-long timers (suspension, archival, deletion
// warnings, scheduled rotation) pass at once; only the emulator, never AWS,
// has such a clock.
type emulatorClock struct {
	url    string
	client *http.Client
	offset atomic.Int64 // nanoseconds the emulator is ahead of this process
}

// newEmulatorClock reads the emulator's clock once, so that a wrong
// endpoint is found at start rather than by a demo that never moves.
func newEmulatorClock(ctx context.Context, endpoint string) (*emulatorClock, error) {
	c := &emulatorClock{url: strings.TrimSuffix(endpoint, "/") + awsemu.AdminPrefix + "clock",
		client: &http.Client{Timeout: 5 * time.Second}}
	if err := c.sync(ctx); err != nil {
		return nil, withHint(exitError, fmt.Errorf("byok.yaml: aws.emulator_clock: %w", err),
			"point aws.endpoint at the AWS emulator (byok kms-emulator), or remove aws.emulator_clock")
	}
	return c, nil
}

// Now suits the Now of the monitor, the control plane and the keyring.
func (c *emulatorClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// sync measures the offset against the middle of the request. The
// emulator's clock only moves forward, so a smaller reading within a second
// of the last is the request's latency and is ignored, keeping this clock
// from stepping back; a larger drop means the emulator started over.
func (c *emulatorClock) sync(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Now time.Time `json:"now"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", c.url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Now.IsZero() {
		return fmt.Errorf("GET %s did not answer the emulator's clock", c.url)
	}
	mid := start.Add(time.Since(start) / 2)
	offset := int64(body.Now.Sub(mid))
	if old := c.offset.Load(); offset < old && old-offset < int64(time.Second) {
		return nil
	}
	c.offset.Store(offset)
	return nil
}

// run follows the emulator's clock until ctx ends.
func (c *emulatorClock) run(ctx context.Context, log *slog.Logger) error {
	t := time.NewTicker(emulatorClockEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		err := c.sync(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			log.Warn("cannot read the AWS emulator's clock; keeping the last offset", "err", err.Error())
		}
		failing = err != nil
	}
}

package keyring

import (
	"errors"
	"testing"

	"github.com/byok-dev/byok/kms"
)

func TestProbe(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	f.create(t, "acme")
	res, err := f.kr.Probe(bg, "acme")
	if err != nil || !res.OK() || res.Version != 2 {
		t.Fatalf("Probe() = %+v, %v; want a pass on version 2", res, err)
	}
	before := f.p.unwraps.Load()
	f.kr.Probe(bg, "acme")
	if f.p.unwraps.Load() != before+1 {
		t.Fatal("Probe() was served from the cache")
	}

	f.p.setFail(kms.Unavailable)
	res, _ = f.kr.Probe(bg, "acme")
	if res.OK() || res.Class != kms.Unavailable || f.kr.Stats("acme").CachedKeys == 0 {
		t.Fatalf("transient Probe() = %+v, want class Unavailable and the cache kept", res)
	}
	f.p.setFail(kms.Denied)
	res, _ = f.kr.Probe(bg, "acme")
	if res.Class != kms.Denied || res.RequestID != "req-test" || !errors.Is(res.Err, kms.ErrDenied) {
		t.Fatalf("denied Probe() = %+v, want class Denied with the request id", res)
	}
	if n := f.kr.Stats("acme").CachedKeys; n != 0 {
		t.Fatalf("cached keys after a definitive probe failure = %d, want 0", n)
	}
	if _, err := f.kr.Probe(bg, "nobody"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Probe(tenant without key) err = %v, want ErrNoKey", err)
	}
}

// ProbeRegion judges one region's key alone: a transient failure there is
// not hidden by another region's wrapping, as Probe's fallback would, and
// a region without a wrapping is not judged at all.
func TestProbeRegion(t *testing.T) {
	f := newFixture(t, nil)
	v, err := f.kr.CreateVersion(bg, "acme", []kms.KeyRef{f.root, f.other})
	if err != nil {
		t.Fatal(err)
	}
	// The local provider keeps no region: place its two keys as a
	// multi-Region key's home and replica would be.
	v.Wrappings[0].Key.Region, v.Wrappings[1].Key.Region = "eu-west-1", "eu-central-1"
	if err := f.store.SetWrappings(bg, "acme", v.Version, v.Wrappings); err != nil {
		t.Fatal(err)
	}
	central := v.Wrappings[1].Key
	res, err := f.kr.ProbeRegion(bg, "acme", "eu-central-1")
	if err != nil || !res.OK() || res.Key.ID != central.ID {
		t.Fatalf("ProbeRegion(eu-central-1) = %+v, %v; want a pass through eu-central-1's key", res, err)
	}
	f.p.setFail(kms.Unavailable)
	before := f.p.unwraps.Load()
	res, err = f.kr.ProbeRegion(bg, "acme", "eu-central-1")
	if err != nil || res.Class != kms.Unavailable || res.Key.ID != central.ID {
		t.Fatalf("transient ProbeRegion() = %+v, %v; want eu-central-1's failure", res, err)
	}
	if n := f.p.unwraps.Load() - before; n != 1 {
		t.Fatalf("ProbeRegion() made %d unwraps, want 1: no other region's key is tried", n)
	}
	f.p.setFail(0)
	if _, err := f.kr.ProbeRegion(bg, "acme", "us-west-2"); !errors.Is(err, ErrNoRegionWrapping) {
		t.Fatalf("ProbeRegion(region without a wrapping) err = %v, want ErrNoRegionWrapping", err)
	}
}

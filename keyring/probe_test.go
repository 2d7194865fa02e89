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

package keyring

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/byok-dev/byok/envelope"
)

// realClock makes a benchmark's keyring read the system clock, as in
// production, rather than the tests' fake one.
func realClock(c *Config) { c.Now = nil }

// BenchmarkCacheHit is a lookup of a cached tenant key: the hot path of every
// record operation. Target: ≤ 100 ns, 0 allocations.
func BenchmarkCacheHit(b *testing.B) {
	f := newFixture(b, realClock)
	f.create(b, "acme")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.kr.TenantKey(bg, "acme", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHitParallel is the same lookup from every core at once.
func BenchmarkCacheHitParallel(b *testing.B) {
	f := newFixture(b, realClock)
	f.create(b, "acme")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.kr.TenantKey(bg, "acme", 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSeal compares the keyring's Seal (cache lookup + envelope) with
// envelope.AppendSeal on the same key. Target: within 10%.
func BenchmarkSeal(b *testing.B) {
	ec := envelope.Context{"table": "invoices", "row": "8f14e45f"}
	pt := make([]byte, 1<<10)
	dst := make([]byte, 0, 2<<10)
	f := newFixture(b, realClock)
	f.create(b, "acme")
	b.Run("envelope/1KiB", func(b *testing.B) {
		key, _ := f.kr.Current(bg, "acme")
		b.SetBytes(1 << 10)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := envelope.AppendSeal(dst[:0], key, pt, ec, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keyring/1KiB", func(b *testing.B) {
		b.SetBytes(1 << 10)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.kr.AppendSeal(bg, dst[:0], "acme", pt, ec, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCachedTenantsMemory reports the heap held by the cache for 10,000
// tenants, each with one unwrapped key, before and after each has sealed one
// record (which adds its derived data key). Target: ≤ 10 MB.
func BenchmarkCachedTenantsMemory(b *testing.B) {
	const tenants = 10_000
	for b.Loop() {
		f := newFixture(b, nil)
		names := make([]string, tenants)
		for i := range names {
			names[i] = fmt.Sprintf("tenant-%05d", i)
			f.create(b, names[i])
		}
		kr := f.fresh(b)
		before := heapInUse()
		for _, n := range names {
			if _, err := kr.Current(bg, n); err != nil {
				b.Fatal(err)
			}
		}
		unwrapped := heapInUse()
		for _, n := range names {
			if _, err := kr.Seal(bg, n, []byte("x"), nil); err != nil {
				b.Fatal(err)
			}
		}
		sealed := heapInUse()
		b.ReportMetric(float64(unwrapped-before)/1e6, "MB-cached")
		b.ReportMetric(float64(sealed-before)/1e6, "MB-cached+sealing")
		runtime.KeepAlive(kr)
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"runtime"
	"testing"
)

var benchCtx = Context{"table": "invoices", "row": "8f14e45f"}

func benchKey(b *testing.B) *TenantKey {
	k, err := GenerateTenantKey("tenant-bench", 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkRawAESGCM is the reference: one AES-256-GCM seal with a fixed key
// and nonce, no header, no derivation.
func BenchmarkRawAESGCM(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			block, _ := aes.NewCipher(make([]byte, 32))
			aead, _ := cipher.NewGCM(block)
			pt := make([]byte, size)
			dst := make([]byte, 0, size+tagSize)
			nonce := make([]byte, nonceSize)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				aead.Seal(dst[:0], nonce, pt, nil)
			}
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// The record benchmarks run without an encryption context, like the
// reference, and with a two-pair one: iterating a Go map of two entries alone
// costs about 45 ns, which a caller passing a context pays per record.
var recordBenchContexts = []struct {
	name string
	ec   Context
}{{"1KiB", nil}, {"1KiB-context", benchCtx}}

func BenchmarkSeal(b *testing.B) {
	for _, bc := range recordBenchContexts {
		b.Run(bc.name, func(b *testing.B) {
			key := benchKey(b)
			pt := make([]byte, 1<<10)
			dst := make([]byte, 0, 2<<10)
			b.SetBytes(int64(len(pt)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := AppendSeal(dst[:0], key, pt, bc.ec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, bc := range recordBenchContexts {
		b.Run(bc.name, func(b *testing.B) {
			key := benchKey(b)
			ks := NewKeySet(key)
			ct, err := Seal(key, make([]byte, 1<<10), bc.ec)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 2<<10)
			ctx := context.Background()
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := AppendOpen(ctx, dst[:0], ks, ct, bc.ec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const streamBenchSize = 64 << 20

func BenchmarkStreamSeal(b *testing.B) {
	for _, bc := range []struct {
		name    string
		workers int
	}{{"64MiB", 1}, {"64MiB-parallel", runtime.GOMAXPROCS(0)}} {
		b.Run(bc.name, func(b *testing.B) {
			key := benchKey(b)
			pt := make([]byte, streamBenchSize)
			b.SetBytes(streamBenchSize)
			b.ReportAllocs()
			for b.Loop() {
				w, err := NewWriter(io.Discard, key, benchCtx, &StreamOptions{Workers: bc.workers})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(pt); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStreamOpen(b *testing.B) {
	for _, bc := range []struct {
		name    string
		workers int
	}{{"64MiB", 1}, {"64MiB-parallel", runtime.GOMAXPROCS(0)}} {
		b.Run(bc.name, func(b *testing.B) {
			key := benchKey(b)
			ks := NewKeySet(key)
			var ct bytes.Buffer
			w, _ := NewWriter(&ct, key, benchCtx, nil)
			w.Write(make([]byte, streamBenchSize))
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.SetBytes(streamBenchSize)
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(ctx, bytes.NewReader(ct.Bytes()), ks, benchCtx, &StreamOptions{Workers: bc.workers})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

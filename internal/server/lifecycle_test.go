package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
)

func contextWithCancel() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "byok test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// slowReader feeds a stream slowly, so that a shutdown starts mid-request.
type slowReader struct {
	n       int
	started chan struct{}
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if r.started != nil {
		close(r.started)
		r.started = nil
	}
	time.Sleep(20 * time.Millisecond)
	r.n--
	return copy(p, bytes.Repeat([]byte("x"), min(len(p), 1024))), nil
}

// TestGracefulShutdown cancels Serve's context while a stream is in flight:
// the stream completes, Serve returns nil, and new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	cfg := e.server.cfg
	cfg.Registry = nil
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveOn(t, srv, "http")
	c, _ := client.New(client.Config{URL: url, Token: e.memberOf("acme")})
	started := make(chan struct{})
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := c.EncryptStream(bg, "acme", &out, &slowReader{n: 20, started: started}, nil)
		done <- err
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Serve() after cancel = %v, want nil", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("stream in flight during shutdown: %v", err)
	}
	var pt bytes.Buffer
	if _, err := e.client(e.memberOf("acme")).DecryptStream(bg, "acme", &pt, &out, nil); err != nil || pt.Len() != 20*1024 {
		t.Fatalf("the stream sealed during shutdown opens to %d bytes, %v", pt.Len(), err)
	}
	if _, err := c.Tenant(bg, "acme"); err == nil {
		t.Fatal("a request after shutdown succeeded")
	}
}

// countingReader produces n bytes of a pattern without holding them.
type countingReader struct{ left int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.left))
	for i := range p[:n] {
		p[i] = byte(i)
	}
	r.left -= int64(n)
	return n, nil
}

// TestStreamLarge sends 64 MiB through encrypt and decrypt streams chained by
// a pipe: it can only finish if both sides stream rather than buffer, which
// the heap bound checks too.
func TestStreamLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large stream")
	}
	e := newEnv(t)
	e.onboard("acme")
	c := e.client(e.memberOf("acme"))
	const size = 64 << 20
	pr, pw := io.Pipe()
	go func() {
		_, err := c.EncryptStream(bg, "acme", pw, &countingReader{left: size}, client.Context{"f": "big"})
		pw.CloseWithError(err)
	}()
	var n int64
	var peak uint64
	sink := writerFunc(func(p []byte) (int, error) {
		n += int64(len(p))
		if n%(8<<20) < int64(len(p)) {
			peak = max(peak, heapInUse())
		}
		return len(p), nil
	})
	if _, err := c.DecryptStream(bg, "acme", sink, pr, client.Context{"f": "big"}); err != nil {
		t.Fatal(err)
	}
	if n != size {
		t.Fatalf("decrypted %d bytes, want %d", n, size)
	}
	if peak > 48<<20 {
		t.Errorf("heap in use reached %d MiB while streaming 64 MiB: something buffers the stream", peak>>20)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

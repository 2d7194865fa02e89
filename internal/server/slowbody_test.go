package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Timeouts of the slow-body tests: short, so that the tests are quick, and
// far below the bound the tests wait for an answer, so that a loaded machine
// does not fail them.
const (
	testBodyTimeout = 300 * time.Millisecond
	testIdleTimeout = 300 * time.Millisecond
	testMinRate     = 4 << 10
	// answerBound is how long a test waits for an answer that, without the
	// limits, never comes.
	answerBound = 5 * time.Second
)

// slowServer serves e's platform on a loopback port with short body,
// header and idle timeouts; it returns the address.
func slowServer(t *testing.T, e *env) string {
	t.Helper()
	cfg := e.server.cfg
	cfg.Registry = nil
	cfg.BodyTimeout, cfg.HeaderTimeout, cfg.IdleTimeout = testBodyTimeout, testBodyTimeout, testIdleTimeout
	cfg.StreamMinRate = testMinRate
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveOn(t, srv, "http")
	t.Cleanup(func() { stop() })
	return strings.TrimPrefix(url, "http://")
}

// dial connects to addr; every read fails after answerBound.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(answerBound))
	return conn
}

// answer reads one response from conn: its status, its body, and the
// error reading the body (a connection broken mid-answer).
func answer(t *testing.T, conn net.Conn) (int, string, error) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestStalledBodyTimesOut sends the headers of a control-plane request
// and part of its body, then nothing: the server answers 408 once the body
// timeout passes, and closes.
func TestStalledBodyTimesOut(t *testing.T) {
	e := newEnv(t)
	conn := dial(t, slowServer(t, e))
	fmt.Fprintf(conn, "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":", e.owner)
	status, body, _ := answer(t, conn)
	if status != http.StatusRequestTimeout || !strings.Contains(body, `"request_timeout"`) {
		t.Fatalf("stalled body: %d %s, want 408 request_timeout", status, body)
	}
	wantClosed(t, conn)
}

// TestUnauthenticatedBodyNotRead: a request without a token is refused
// from its headers; its body, never sent, is not waited for.
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	e := newEnv(t)
	cfg := e.server.cfg
	cfg.Registry = nil
	cfg.BodyTimeout = time.Hour // the answer may not wait for it
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveOn(t, srv, "http")
	defer stop()
	conn := dial(t, strings.TrimPrefix(url, "http://"))
	fmt.Fprint(conn, "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
	status, body, _ := answer(t, conn)
	if status != http.StatusUnauthorized {
		t.Fatalf("unauthenticated stalled body: %d %s, want 401", status, body)
	}
	wantClosed(t, conn)
}

// TestStreamMinimumRate: a stream body trickling in (never pausing as long
// as the body timeout) is cut off once it falls below the minimum rate,
// while a stream at normal speed that lasts several body timeouts passes:
// the limit is a rate, not a wall clock.
func TestStreamMinimumRate(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	addr := slowServer(t, e)

	conn := dial(t, addr)
	go trickle(conn, e.owner, 400, 20*time.Millisecond, 1) // 50 B/s for 8 s
	status, _, err := answer(t, conn)
	if status == http.StatusOK && err == nil {
		t.Fatal("a stream at 50 B/s ran to its end; want it cut off below the minimum rate")
	}

	conn = dial(t, addr)
	// 64 KiB every 100 ms for 1.2 s: 640 KiB/s, well above the rate, and
	// four body timeouts long.
	go trickle(conn, e.owner, 12, 100*time.Millisecond, 64<<10)
	status, body, err := answer(t, conn)
	if status != http.StatusOK || err != nil || len(body) < 12*64<<10 {
		t.Fatalf("normal-speed stream: %d, %d bytes, %v", status, len(body), err)
	}
}

// trickle sends an encrypt stream of n chunks of size bytes, one every
// gap, chunked.
func trickle(conn net.Conn, token string, n int, gap time.Duration, size int) {
	fmt.Fprintf(conn, "POST /v1/tenants/acme/encrypt/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n", token)
	chunk := bytes.Repeat([]byte("a"), size)
	for range n {
		if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", size, chunk); err != nil {
			return
		}
		time.Sleep(gap)
	}
	fmt.Fprint(conn, "0\r\n\r\n")
}

// TestIdleConnectionClosed: a kept-alive connection with no next request
// is closed after the idle timeout; one whose headers stall, after the
// header timeout.
func TestIdleConnectionClosed(t *testing.T) {
	e := newEnv(t)
	addr := slowServer(t, e)
	conn := dial(t, addr)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server closed a kept-alive connection at once")
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v, want closed by the server", err)
	}

	conn = dial(t, addr)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	wantClosed(t, conn)
}

// wantClosed reads conn to its end: the server must close it before
// answerBound.
func wantClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

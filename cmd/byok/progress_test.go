package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The progress line counts what passes through and ends with the total.
func TestProgressLine(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, label: "encrypt", total: 4 << 20, units: true}
	n, err := io.Copy(io.Discard, countingReader{bytes.NewReader(make([]byte, 4<<20)), p})
	if err != nil || n != 4<<20 {
		t.Fatalf("copy = %d, %v", n, err)
	}
	p.finish()
	last := out.String()[strings.LastIndex(out.String(), "\r")+1:]
	if want := "encrypt [##############################] 4.0 MiB / 4.0 MiB\n"; last != want {
		t.Fatalf("last line = %q, want %q", last, want)
	}
}

// Without a terminal on stderr there is no progress line: the reader is
// returned as it is.
func TestNoProgressWithoutTerminal(t *testing.T) {
	c := &cli{stderr: &bytes.Buffer{}}
	src := strings.NewReader("x")
	if r, _ := withProgress(c, "encrypt", src, -1); r != io.Reader(src) {
		t.Fatal("withProgress wrapped the input although stderr is not a terminal")
	}
	if p := newProgress(c, "rewrap", 0); p != nil {
		t.Fatal("newProgress returned a line although stderr is not a terminal")
	}
}

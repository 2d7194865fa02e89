package main

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/byok-dev/byok/envelope"
)

func TestWorkersForBoundsMemory(t *testing.T) {
	for _, seg := range []int{envelope.MinSegmentSize, envelope.DefaultSegmentSize, 1 << 20, envelope.MaxSegmentSize} {
		w := workersFor(seg)
		if w < 1 || w > runtime.GOMAXPROCS(0) {
			t.Errorf("workersFor(%d) = %d, want 1..GOMAXPROCS", seg, w)
		}
		if w > 1 && w*8*seg > streamMemory {
			t.Errorf("workersFor(%d) = %d holds %d bytes per batch, over %d", seg, w, w*8*seg, streamMemory)
		}
	}
	if w := workersFor(envelope.MaxSegmentSize); w != 1 {
		t.Errorf("workersFor(MaxSegmentSize) = %d, want 1", w)
	}
}

func TestPeekSegmentSize(t *testing.T) {
	key, err := envelope.GenerateTenantKey("t", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	ec := envelope.Context{"k": strings.Repeat("v", 8000)} // a header near its largest
	w, err := envelope.NewWriter(&sealed, key, ec, &envelope.StreamOptions{SegmentSize: 4096, StoreContext: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := sealed.Bytes()
	br := bufio.NewReaderSize(bytes.NewReader(want), headerPeek*2)
	if got := peekSegmentSize(br); got != 4096 {
		t.Errorf("peekSegmentSize() = %d, want 4096", got)
	}
	if rest, _ := io.ReadAll(br); !bytes.Equal(rest, want) {
		t.Error("peekSegmentSize consumed input")
	}
	junk := bufio.NewReader(strings.NewReader("not a stream"))
	if got := peekSegmentSize(junk); got != envelope.MaxSegmentSize {
		t.Errorf("peekSegmentSize(junk) = %d, want MaxSegmentSize", got)
	}
}

package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func sealStream(t testing.TB, key *TenantKey, pt []byte, ec Context, opts *StreamOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key, ec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openStream opens ct twice, through Read and through WriteTo from an
// in-memory source (which opens segments where they lie), and fails the test
// if the two disagree.
func openStream(key *TenantKey, ct []byte, ec Context, workers int) ([]byte, error) {
	pulled, perr := openStreamWith(key, ct, ec, workers, func(r *Reader) ([]byte, error) { return io.ReadAll(r) })
	pushed, werr := openStreamWith(key, ct, ec, workers, func(r *Reader) ([]byte, error) {
		var out bytes.Buffer
		_, err := r.WriteTo(&out)
		return out.Bytes(), err
	})
	if Code(perr) != Code(werr) || (perr == nil) != (werr == nil) || (perr == nil && !bytes.Equal(pulled, pushed)) {
		panic(fmt.Sprintf("Read and WriteTo disagree: %v vs %v", perr, werr))
	}
	return pulled, perr
}

func openStreamWith(key *TenantKey, ct []byte, ec Context, workers int, read func(*Reader) ([]byte, error)) ([]byte, error) {
	r, err := NewReader(bg, bytes.NewReader(ct), NewKeySet(key), ec, &StreamOptions{Workers: workers})
	if err != nil {
		return nil, err
	}
	return read(r)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	ec := Context{"object": "backup.tar"}
	sizes := []int{0, 1, seg - 1, seg, seg + 1, 2 * seg, 17*seg + 5, 3<<20 + 11}
	for _, size := range sizes {
		pt := randomBytes(size, uint64(size))
		for _, sw := range []int{1, 3} {
			for _, ow := range []int{1, 2} {
				t.Run(fmt.Sprintf("%d/seal%d/open%d", size, sw, ow), func(t *testing.T) {
					ct := sealStream(t, key, pt, ec, &StreamOptions{SegmentSize: seg, Workers: sw})
					segs := max(1, (size+seg-1)/seg)
					if want := len(pt) + segs*tagSize + streamHeaderLen(4); len(ct) != want {
						t.Fatalf("len(ct) = %d, want %d", len(ct), want)
					}
					got, err := openStream(key, ct, ec, ow)
					if err != nil {
						t.Fatalf("open err = %v", err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatalf("open = %d bytes, differs from the %d sealed", len(got), len(pt))
					}
				})
			}
		}
	}
}

// The default 64 KiB segments at the sizes around a segment and a few MiB.
func TestStreamRoundTripDefaultSegments(t *testing.T) {
	key := mustKey(t, "acme", 1)
	for _, size := range []int{0, 1, DefaultSegmentSize - 1, DefaultSegmentSize, DefaultSegmentSize + 1, 5<<20 + 3} {
		pt := randomBytes(size, uint64(size)+77)
		ct := sealStream(t, key, pt, nil, &StreamOptions{Workers: 2})
		for _, workers := range []int{1, 2} {
			got, err := openStream(key, ct, nil, workers)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("size %d workers %d: open = %d bytes, %v", size, workers, len(got), err)
			}
		}
	}
}

func streamHeaderLen(tenantLen int) int { return prefixLen + tenantLen + 4 + 4 + saltSize + commitSize }

// The sealed bytes do not depend on how the plaintext is split into writes,
// nor on the number of workers.
func TestStreamWriteSplitting(t *testing.T) {
	key := mustKey(t, "acme", 1)
	pt := randomBytes(9*MinSegmentSize+100, 1)
	salt := bytes.Repeat([]byte{7}, saltSize)
	fixed := func(workers int) *StreamOptions {
		return &StreamOptions{SegmentSize: MinSegmentSize, Workers: workers, Rand: bytes.NewReader(salt)}
	}
	want := sealStream(t, key, pt, nil, fixed(1))
	writers := map[string]func(w *Writer) error{
		"one byte at a time": func(w *Writer) error {
			for i := range pt {
				if _, err := w.Write(pt[i : i+1]); err != nil {
					return err
				}
			}
			return nil
		},
		"io.Copy (ReadFrom)": func(w *Writer) error {
			_, err := io.Copy(w, iotest.HalfReader(bytes.NewReader(pt)))
			return err
		},
		"odd chunks": func(w *Writer) error {
			for p := pt; len(p) > 0; {
				n := min(len(p), 1000+len(p)%777)
				if _, err := w.Write(p[:n]); err != nil {
					return err
				}
				p = p[n:]
			}
			return nil
		},
	}
	for name, write := range writers {
		for _, workers := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(t *testing.T) {
				var buf bytes.Buffer
				w, err := NewWriter(&buf, key, nil, fixed(workers))
				if err != nil {
					t.Fatal(err)
				}
				if err := write(w); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Fatalf("sealed bytes differ from a single sequential write")
				}
			})
		}
	}
}

func TestStreamReadPaths(t *testing.T) {
	key := mustKey(t, "acme", 1)
	pt := randomBytes(5*MinSegmentSize+3, 2)
	ct := sealStream(t, key, pt, nil, &StreamOptions{SegmentSize: MinSegmentSize})
	for _, workers := range []int{1, 2} {
		r, err := NewReader(bg, iotest.OneByteReader(bytes.NewReader(ct)), NewKeySet(key), nil, &StreamOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(r, pt); err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		r, _ = NewReader(bg, bytes.NewReader(ct), NewKeySet(key), nil, &StreamOptions{Workers: workers})
		var out bytes.Buffer
		if _, err := r.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), pt) {
			t.Fatalf("workers=%d: WriteTo() = %d bytes, %v", workers, out.Len(), err)
		}
	}
}

// Truncation at every byte is rejected, and at a segment boundary it is
// reported as truncated_stream.
func TestStreamTruncatedAtEveryByte(t *testing.T) {
	key := mustKey(t, "acme", 1)
	pt := randomBytes(3*MinSegmentSize+200, 3)
	ct := sealStream(t, key, pt, Context{"a": "b"}, &StreamOptions{SegmentSize: MinSegmentSize, StoreContext: true})
	h, _ := ParseHeader(ct)
	hlen := len(h.marshal())
	stride := MinSegmentSize + tagSize
	for n := range len(ct) {
		for _, workers := range []int{1, 2} {
			_, err := openStream(key, ct[:n], Context{"a": "b"}, workers)
			if err == nil {
				t.Fatalf("stream cut to %d of %d bytes opened", n, len(ct))
			}
			boundary := n > hlen && (n-hlen)%stride == 0
			if (boundary || n < hlen) && !errors.Is(err, ErrTruncatedStream) {
				t.Fatalf("cut at %d: err = %v, want ErrTruncatedStream", n, err)
			}
			if Code(err) == "" {
				t.Fatalf("cut at %d: err = %v has no stable code", n, err)
			}
		}
	}
}

func TestStreamTampering(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	ec := Context{"a": "b"}
	pt := randomBytes(4*seg+10, 4)
	ct := sealStream(t, key, pt, ec, &StreamOptions{SegmentSize: seg})
	other := sealStream(t, key, pt, ec, &StreamOptions{SegmentSize: seg})
	hlen := streamHeaderLen(4)
	stride := seg + tagSize
	segment := func(b []byte, i int) []byte { return b[hlen+i*stride : min(len(b), hlen+(i+1)*stride)] }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdr := ct[:hlen]
	cases := map[string][]byte{
		"segments swapped":       join(hdr, segment(ct, 1), segment(ct, 0), segment(ct, 2), segment(ct, 3), segment(ct, 4)),
		"segment duplicated":     join(hdr, segment(ct, 0), segment(ct, 0), segment(ct, 1), segment(ct, 2), segment(ct, 3), segment(ct, 4)),
		"segment dropped":        join(hdr, segment(ct, 0), segment(ct, 2), segment(ct, 3), segment(ct, 4)),
		"final segment dropped":  join(hdr, segment(ct, 0), segment(ct, 1), segment(ct, 2), segment(ct, 3)),
		"data appended":          join(ct, []byte("more")),
		"segment appended":       join(ct, segment(ct, 1)),
		"header from another":    join(other[:hlen], ct[hlen:]),
		"segment from another":   join(hdr, segment(ct, 0), segment(other, 1), segment(ct, 2), segment(ct, 3), segment(ct, 4)),
		"final from another":     join(ct[:len(ct)-len(segment(ct, 4))], segment(other, 4)),
		"two streams joined":     join(ct, other),
		"empty":                  nil,
		"header only":            hdr,
		"record instead":         mustSealRecord(t, key, pt[:10], ec),
		"segment size rewritten": join(hdr[:hlen-68], []byte{0, 0, 8, 0}, hdr[hlen-64:], ct[hlen:]),
	}
	for name, bad := range cases {
		for _, workers := range []int{1, 2} {
			if _, err := openStream(key, bad, ec, workers); err == nil || Code(err) == "" {
				t.Errorf("%s (workers=%d): err = %v, want a coded error", name, workers, err)
			}
		}
	}
	if _, err := openStream(key, cases["final segment dropped"], ec, 1); !errors.Is(err, ErrTruncatedStream) {
		t.Errorf("final segment dropped: err = %v, want ErrTruncatedStream", err)
	}
}

func mustSealRecord(t testing.TB, key *TenantKey, pt []byte, ec Context) []byte {
	t.Helper()
	ct, err := Seal(key, pt, ec)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestStreamBitFlips(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ct := sealStream(t, key, randomBytes(MinSegmentSize+50, 5), Context{"k": "v"}, &StreamOptions{SegmentSize: MinSegmentSize, StoreContext: true})
	for i := range len(ct) * 8 {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := openStream(key, bad, Context{"k": "v"}, 1); err == nil || Code(err) == "" {
			t.Fatalf("flip of bit %d: err = %v, want a coded error", i, err)
		}
	}
}

func TestStreamWrongKeyOrContext(t *testing.T) {
	acme := mustKey(t, "acme", 1)
	ec := Context{"a": "b"}
	ct := sealStream(t, acme, []byte("payload"), ec, nil)
	stored := sealStream(t, acme, []byte("payload"), ec, &StreamOptions{StoreContext: true})
	otherMaterial, _ := NewTenantKey("acme", 1, mustKey(t, "x", 1).Material())
	for _, tc := range []struct {
		name string
		keys *KeySet
		ct   []byte
		ec   Context
		want error
	}{
		{"wrong tenant", NewKeySet(mustKey(t, "globex", 1)), ct, ec, ErrWrongTenant},
		{"wrong version", NewKeySet(mustKey(t, "acme", 2)), ct, ec, ErrKeyVersionUnknown},
		{"other material", NewKeySet(otherMaterial), ct, ec, ErrInvalidCiphertext},
		{"wrong context", NewKeySet(acme), ct, Context{"a": "c"}, ErrInvalidCiphertext},
		{"wrong stored context", NewKeySet(acme), stored, Context{"a": "c"}, ErrContextMismatch},
	} {
		_, err := NewReader(bg, bytes.NewReader(tc.ct), tc.keys, tc.ec, nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: NewReader() err = %v, want %v", tc.name, err, tc.want)
		}
		_, err = NewReaderAt(bg, bytes.NewReader(tc.ct), int64(len(tc.ct)), tc.keys, tc.ec)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: NewReaderAt() err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestStreamOptionsErrors(t *testing.T) {
	key := mustKey(t, "acme", 1)
	for _, opts := range []*StreamOptions{{SegmentSize: 100}, {SegmentSize: MaxSegmentSize + 1}, {Workers: -1}} {
		if _, err := NewWriter(io.Discard, key, nil, opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("NewWriter(%+v) err = %v, want ErrInvalidOptions", opts, err)
		}
	}
	w, _ := NewWriter(io.Discard, key, nil, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestStreamWriterErrorIsSticky(t *testing.T) {
	key := mustKey(t, "acme", 1)
	boom := errors.New("disk full")
	w, _ := NewWriter(failingWriter{boom}, key, nil, &StreamOptions{SegmentSize: MinSegmentSize})
	_, err := w.Write(make([]byte, 3*MinSegmentSize))
	if !errors.Is(err, boom) {
		t.Fatalf("Write() err = %v, want %v", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close() err = %v, want %v", err, boom)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestReaderAt(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	for _, size := range []int{0, 1, seg - 1, seg, seg + 1, 7*seg + 123} {
		pt := randomBytes(size, uint64(size)+9)
		ct := sealStream(t, key, pt, nil, &StreamOptions{SegmentSize: seg})
		src := &countingReaderAt{r: bytes.NewReader(ct)}
		r, err := NewReaderAt(bg, src, int64(len(ct)), NewKeySet(key), nil)
		if err != nil {
			t.Fatalf("size %d: NewReaderAt() err = %v", size, err)
		}
		if r.Size() != int64(size) {
			t.Fatalf("Size() = %d, want %d", r.Size(), size)
		}
		if err := iotest.TestReader(io.NewSectionReader(r, 0, r.Size()), pt); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for range 50 {
			off := rng.IntN(size + 1)
			n := rng.IntN(3 * seg)
			buf := make([]byte, n)
			got, err := r.ReadAt(buf, int64(off))
			want := min(n, size-off)
			if got != want || !bytes.Equal(buf[:got], pt[off:off+got]) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes", n, off, got, err, want)
			}
			if got < n && err != io.EOF {
				t.Fatalf("short ReadAt err = %v, want io.EOF", err)
			}
		}
	}
}

// ReadAt decrypts only the segments it touches.
func TestReaderAtTouchesOnlyNeededSegments(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	ct := sealStream(t, key, randomBytes(100*seg, 8), nil, &StreamOptions{SegmentSize: seg})
	src := &countingReaderAt{r: bytes.NewReader(ct)}
	r, err := NewReaderAt(bg, src, int64(len(ct)), NewKeySet(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	src.bytes = 0
	buf := make([]byte, 10)
	if _, err := r.ReadAt(buf, 50*seg+seg-5); err != nil {
		t.Fatal(err)
	}
	if src.bytes != 2*(seg+tagSize) {
		t.Fatalf("a read across one boundary read %d ciphertext bytes, want two segments (%d)", src.bytes, 2*(seg+tagSize))
	}
}

type countingReaderAt struct {
	r     io.ReaderAt
	bytes int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes += n
	return n, err
}

func TestReaderAtRejects(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	ct := sealStream(t, key, randomBytes(3*seg+7, 6), nil, &StreamOptions{SegmentSize: seg})
	hlen := streamHeaderLen(4)
	for n := range len(ct) {
		_, err := NewReaderAt(bg, bytes.NewReader(ct), int64(n), NewKeySet(key), nil)
		if err == nil {
			t.Fatalf("NewReaderAt(size %d of %d) opened", n, len(ct))
		}
		if n > hlen && (n-hlen)%(seg+tagSize) == 0 && !errors.Is(err, ErrTruncatedStream) {
			t.Fatalf("cut at a boundary (%d): err = %v, want ErrTruncatedStream", n, err)
		}
	}
	bad := bytes.Clone(ct)
	bad[hlen+5] ^= 1
	r, err := NewReaderAt(bg, bytes.NewReader(bad), int64(len(bad)), NewKeySet(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrInvalidCiphertext) {
		t.Fatalf("ReadAt(tampered segment) err = %v, want ErrInvalidCiphertext", err)
	}
	if _, err := r.ReadAt(make([]byte, 10), seg); err != nil {
		t.Fatalf("ReadAt(intact segment) err = %v", err)
	}
	if _, err := NewReaderAt(bg, bytes.NewReader(ct), int64(len(ct))+100, NewKeySet(key), nil); err == nil {
		t.Fatal("NewReaderAt with a size past the end opened")
	}
}

// chunked is a source whose WriteTo hands over its bytes in pieces of a fixed
// size, as a buffered reader would.
type chunked struct {
	*bytes.Reader
	size int
}

func (c *chunked) WriteTo(w io.Writer) (int64, error) {
	var total int64
	buf := make([]byte, c.size)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// WriteTo opens correctly whatever pieces the source writes in, across
// segment boundaries, and rejects a cut stream the same way.
func TestStreamWriteToChunkedSource(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	stride := seg + tagSize
	pt := randomBytes(7*seg+333, 11)
	ct := sealStream(t, key, pt, nil, &StreamOptions{SegmentSize: seg})
	for _, size := range []int{1, 17, stride - 1, stride, stride + 1, 3*stride + 5, len(ct)} {
		for _, workers := range []int{1, 2} {
			for _, cut := range []int{len(ct), len(ct) - 1, len(ct) - 340} {
				r, err := NewReader(bg, &chunked{bytes.NewReader(ct[:cut]), size}, NewKeySet(key), nil, &StreamOptions{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				_, err = r.WriteTo(&out)
				if cut == len(ct) && (err != nil || !bytes.Equal(out.Bytes(), pt)) {
					t.Fatalf("chunk %d workers %d: WriteTo = %d bytes, %v", size, workers, out.Len(), err)
				}
				if cut < len(ct) && err == nil {
					t.Fatalf("chunk %d workers %d: a stream cut to %d of %d bytes opened", size, workers, cut, len(ct))
				}
			}
		}
	}
}

// Streams long enough for the pipelined paths (several rounds on persistent
// workers) still reject tampering anywhere, with the same codes.
func TestStreamPipelinedRejects(t *testing.T) {
	key := mustKey(t, "acme", 1)
	const seg = MinSegmentSize
	stride := seg + tagSize
	pt := randomBytes(700*seg+5, 12)
	ct := sealStream(t, key, pt, nil, &StreamOptions{SegmentSize: seg, Workers: 2})
	if got, err := openStream(key, ct, nil, 2); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open = %d bytes, %v", len(got), err)
	}
	hlen := streamHeaderLen(4)
	flip := func(i int) []byte { b := bytes.Clone(ct); b[i] ^= 1; return b }
	for name, tc := range map[string]struct {
		ct   []byte
		want error
	}{
		"flip in segment 3":         {flip(hlen + 3*stride + 9), ErrInvalidCiphertext},
		"flip in segment 400":       {flip(hlen + 400*stride + 9), ErrInvalidCiphertext},
		"cut at a segment boundary": {ct[:hlen+500*stride], ErrTruncatedStream},
		"segment appended":          {append(bytes.Clone(ct), ct[hlen:hlen+stride]...), ErrInvalidCiphertext},
	} {
		for _, workers := range []int{1, 2} {
			if _, err := openStream(key, tc.ct, nil, workers); !errors.Is(err, tc.want) {
				t.Errorf("%s (workers %d): err = %v, want %v", name, workers, err, tc.want)
			}
		}
	}
}

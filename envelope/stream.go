package envelope

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Stream segment sizes, in plaintext bytes.
const (
	DefaultSegmentSize = 64 << 10
	MinSegmentSize     = 1 << 10
	MaxSegmentSize     = 16 << 20
	// MaxSegments is the most segments a stream may have; the segment index in
	// each nonce is 32 bits.
	MaxSegments = 1 << 32
)

func validSegmentSize(n int) bool { return n >= MinSegmentSize && n <= MaxSegmentSize }

// segmentsPerWorker is how many segments each worker takes per batch: enough
// that waking the workers (tens of microseconds on a virtual machine) is small
// next to the work, few enough to bound memory.
const segmentsPerWorker = 32

// maxBatchBytes bounds a batch whatever the worker count and segment size, so
// a reader's or writer's buffers stay under about 2 × 32 MiB.
const maxBatchBytes = 32 << 20

// batchSegments is how many segments a writer or reader handles at once.
func batchSegments(workers, segSize int) int {
	if workers <= 1 {
		return 1
	}
	return max(1, min(workers*segmentsPerWorker, maxBatchBytes/segSize))
}

// StreamOptions adjusts stream sealing and opening. The zero value is the
// default: 64 KiB segments, context not stored, one goroutine.
type StreamOptions struct {
	// SegmentSize is the plaintext bytes per segment, from MinSegmentSize to
	// MaxSegmentSize; 0 means DefaultSegmentSize. Opening reads it from the header.
	SegmentSize int
	// StoreContext writes the encryption context into the header.
	StoreContext bool
	// Workers is how many segments are sealed or opened at once. 0 or 1 works in
	// the caller's goroutine; use runtime.GOMAXPROCS(0) to use every core.
	// With several workers a Writer or Reader holds up to about 4 batches of
	// Workers × 32 segments (at most 32 MiB each) in memory.
	Workers int
	// Rand, when set, supplies the salt. For test vectors only.
	Rand io.Reader
}

func (o *StreamOptions) segmentSize() (int, error) {
	if o.SegmentSize == 0 {
		return DefaultSegmentSize, nil
	}
	if !validSegmentSize(o.SegmentSize) {
		return 0, fmt.Errorf("%w: segment size %d is outside %d..%d", ErrInvalidOptions, o.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	return o.SegmentSize, nil
}

func (o *StreamOptions) workers() (int, error) {
	if o.Workers < 0 || o.Workers > 1024 {
		return 0, fmt.Errorf("%w: workers %d is outside 0..1024", ErrInvalidOptions, o.Workers)
	}
	return max(o.Workers, 1), nil
}

var streamLabel = "byok stream v1 key"

// streamAEAD derives the stream's key. The header (but for salt and
// commitment, which are HKDF's salt and output) and the canonical context go
// into HKDF's info, so changing either yields another key: a header swapped
// between streams, or a wrong context, fails at the commitment check.
func streamAEAD(k *TenantKey, h *Header, ec Context) (cipher.AEAD, [commitSize]byte, error) {
	extra, err := ec.appendCanonical(h.appendPreSalt(nil))
	if err != nil {
		return nil, [commitSize]byte{}, err
	}
	return k.derive(h.salt, deriveInfo(streamLabel, k.tenant, k.version, extra))
}

// putSegmentNonce writes seven zero bytes, the 32-bit segment index and the
// final flag. Each stream has its own key, so nonces only need to differ within
// a stream; binding index and flag makes reordering and truncation fail.
func putSegmentNonce(n []byte, idx uint64, final bool) {
	clear(n[:7])
	binary.BigEndian.PutUint32(n[7:], uint32(idx))
	n[11] = 0
	if final {
		n[11] = 1
	}
}

func segmentNonce(idx uint64, final bool) []byte {
	n := make([]byte, nonceSize)
	putSegmentNonce(n, idx, final)
	return n
}

// segmenter seals or opens runs of consecutive segments, on several goroutines
// when asked to.
type segmenter struct {
	aead    cipher.AEAD
	segSize int
	workers int
}

// sealRun appends the sealed form of pt, cut into segments starting at index
// idx, to out. When final is set the last segment (possibly empty) is marked
// final; otherwise len(pt) is a multiple of segSize.
func (s *segmenter) sealRun(out, pt []byte, idx uint64, final bool) []byte {
	n := max(1, (len(pt)+s.segSize-1)/s.segSize)
	start := len(out)
	out, _ = grow(out, len(pt)+n*tagSize)
	s.parallel(n, func(lo, hi int) error {
		nonce := make([]byte, nonceSize)
		for i := lo; i < hi; i++ {
			seg := pt[i*s.segSize : min((i+1)*s.segSize, len(pt))]
			at := start + i*(s.segSize+tagSize)
			putSegmentNonce(nonce, idx+uint64(i), final && i == n-1)
			s.aead.Seal(out[at:at], nonce, seg, nil)
		}
		return nil
	})
	return out
}

// openRun opens n whole non-final segments of ct in place, starting at index
// idx.
func (s *segmenter) openRun(ct []byte, n int, idx uint64) error {
	stride := s.segSize + tagSize
	return s.parallel(n, func(lo, hi int) error {
		nonce := make([]byte, nonceSize)
		for i := lo; i < hi; i++ {
			seg := ct[i*stride : (i+1)*stride]
			putSegmentNonce(nonce, idx+uint64(i), false)
			if _, err := s.aead.Open(seg[:0], nonce, seg, nil); err != nil {
				return fail(ErrInvalidCiphertext, fmt.Sprintf("segment %d failed authentication", idx+uint64(i)))
			}
		}
		return nil
	})
}

// openRunInto opens n whole non-final segments of ct, starting at index idx,
// into out, which has room for n segments of plaintext; ct is not modified.
func (s *segmenter) openRunInto(out, ct []byte, n int, idx uint64) error {
	stride := s.segSize + tagSize
	return s.parallel(n, func(lo, hi int) error {
		nonce := make([]byte, nonceSize)
		for i := lo; i < hi; i++ {
			putSegmentNonce(nonce, idx+uint64(i), false)
			at := i * s.segSize
			if _, err := s.aead.Open(out[at:at], nonce, ct[i*stride:(i+1)*stride], nil); err != nil {
				return errSegmentAuth
			}
		}
		return nil
	})
}

var errSegmentAuth = fail(ErrInvalidCiphertext, "segment failed authentication")

// parallel splits 0..n-1 into up to s.workers contiguous ranges, runs f on
// each in its own goroutine (or inline for one), and returns the error of the
// lowest failing range.
func (s *segmenter) parallel(n int, f func(lo, hi int) error) error {
	w := min(s.workers, n)
	if w <= 1 {
		return f(0, n)
	}
	errs := make([]error, w)
	var wg sync.WaitGroup
	for g := 1; g < w; g++ {
		wg.Go(func() { errs[g] = f(g*n/w, (g+1)*n/w) })
	}
	// The caller takes the first range itself: one fewer goroutine to wake,
	// and its thread stays busy instead of parking.
	errs[0] = f(0, n/w)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Writer seals a stream. Data is buffered until a segment is full and known
// not to be the last; Close seals the last segment. Close does not close the
// underlying writer.
type Writer struct {
	dst    io.Writer
	seg    segmenter
	header []byte // written before the first segment
	buf    []byte // pending plaintext; cap is batch bytes + 1
	out    []byte
	batch  int // plaintext bytes sealed per write to dst
	idx    uint64
	err    error
	closed bool
}

// NewWriter starts a stream for key's tenant and version, bound to ec, that
// writes to dst.
func NewWriter(dst io.Writer, key *TenantKey, ec Context, opts *StreamOptions) (*Writer, error) {
	if opts == nil {
		opts = &StreamOptions{}
	}
	h, seg, err := newStreamHeader(key, ec, opts)
	if err != nil {
		return nil, err
	}
	w := &Writer{dst: dst, seg: seg, batch: batchSegments(seg.workers, seg.segSize) * seg.segSize}
	w.header = h.marshal()
	return w, nil
}

func newStreamHeader(key *TenantKey, ec Context, opts *StreamOptions) (*Header, segmenter, error) {
	var seg segmenter
	if err := key.usable(); err != nil {
		return nil, seg, err
	}
	segSize, err := opts.segmentSize()
	if err != nil {
		return nil, seg, err
	}
	workers, err := opts.workers()
	if err != nil {
		return nil, seg, err
	}
	enc, err := ec.appendCanonical(nil)
	if err != nil {
		return nil, seg, err
	}
	h := &Header{Kind: KindStream, FormatVersion: formatV1, Algorithm: algAES256GCMHKDF, Tenant: key.tenant,
		KeyVersion: key.version, SegmentSize: segSize, salt: make([]byte, saltSize), tlen: len(key.tenant)}
	if err := readRandom(opts.Rand, h.salt); err != nil {
		return nil, seg, err
	}
	if opts.StoreContext {
		h.flags, h.Context, h.contextEnc = flagContextStored, ec, enc
	}
	aead, commit, err := streamAEAD(key, h, ec)
	if err != nil {
		return nil, seg, err
	}
	h.commit = commit[:]
	return h, segmenter{aead: aead, segSize: segSize, workers: workers}, nil
}

// Write buffers and seals p. Errors are sticky.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	total := len(p)
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) > w.seg.segSize {
			// Seal straight from p, keeping at least one byte back: only Close
			// knows which segment is the last.
			n := (len(p) - 1) / w.seg.segSize * w.seg.segSize
			if err := w.sealFull(p[:n]); err != nil {
				return total - len(p), err
			}
			p = p[n:]
			continue
		}
		n := min(len(p), w.batch+1-len(w.buf))
		w.buf, p = append(w.buf, p[:n]...), p[n:]
		if err := w.flushFull(); err != nil {
			return total - len(p), err
		}
	}
	return total, nil
}

// ReadFrom seals everything src yields, so io.Copy reads into the segment
// buffer directly.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	var total int64
	for {
		w.ensureBuf()
		n, err := src.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf, total = w.buf[:len(w.buf)+n], total+int64(n)
		if ferr := w.flushFull(); ferr != nil {
			return total, ferr
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ensureBuf gives the plaintext buffer its full size for ReadFrom. Write
// grows it only as far as it needs: large writes are sealed straight from the
// caller's slice.
func (w *Writer) ensureBuf() {
	if cap(w.buf) < w.batch+1 {
		w.buf = slices.Grow(w.buf, w.batch+1-len(w.buf))
	}
}

// flushFull seals the buffered batch once a byte past it has arrived.
func (w *Writer) flushFull() error {
	if len(w.buf) <= w.batch {
		return nil
	}
	if err := w.sealFull(w.buf[:w.batch]); err != nil {
		return err
	}
	n := copy(w.buf, w.buf[w.batch:])
	w.buf = w.buf[:n]
	return nil
}

// sealFull seals non-final segments (len(pt) is a multiple of the segment
// size), a batch at a time.
func (w *Writer) sealFull(pt []byte) error {
	if w.seg.workers > 1 && len(pt) > 2*w.batch {
		return w.sealPipelined(pt)
	}
	for len(pt) > 0 {
		n := min(len(pt), w.batch)
		if err := w.emit(pt[:n], false); err != nil {
			return err
		}
		pt = pt[n:]
	}
	return nil
}

// sealPipelined seals many rounds of non-final segments on persistent
// workers, writing each round out in order while later ones are sealed.
func (w *Writer) sealPipelined(pt []byte) error {
	segSize, stride := w.seg.segSize, w.seg.segSize+tagSize
	total := len(pt) / segSize
	if w.idx+uint64(total) > MaxSegments {
		w.err = fmt.Errorf("%w: stream exceeds %d segments", ErrTooLarge, uint64(MaxSegments))
		return w.err
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	perRound := w.batch / segSize
	var outs [pipeDepth][]byte
	for i := range outs {
		b := getRoundBuffer(perRound * stride)
		defer putRoundBuffer(b)
		outs[i] = *b
	}
	items := func(r int) int { return min(perRound, total-r*perRound) }
	work := func(r, lo, hi int) error {
		nonce := make([]byte, nonceSize)
		out := outs[r%pipeDepth]
		for i := lo; i < hi; i++ {
			g := r*perRound + i
			putSegmentNonce(nonce, w.idx+uint64(g), false)
			w.seg.aead.Seal(out[i*stride:i*stride], nonce, pt[g*segSize:(g+1)*segSize], nil)
		}
		return nil
	}
	finish := func(r int) error {
		_, err := w.dst.Write(outs[r%pipeDepth][:items(r)*stride])
		return err
	}
	rounds := (total + perRound - 1) / perRound
	if err := w.seg.pipeline(rounds, items, work, finish); err != nil {
		w.err = err
		return err
	}
	w.idx += uint64(total)
	return nil
}

func (w *Writer) writeHeader() error {
	if w.header == nil {
		return nil
	}
	_, err := w.dst.Write(w.header)
	w.header = nil
	if err != nil {
		w.err = err
	}
	return err
}

func (w *Writer) emit(pt []byte, final bool) error {
	segs := uint64(max(1, (len(pt)+w.seg.segSize-1)/w.seg.segSize))
	if w.idx+segs > MaxSegments {
		w.err = fmt.Errorf("%w: stream exceeds %d segments", ErrTooLarge, uint64(MaxSegments))
		return w.err
	}
	w.out = append(w.out[:0], w.header...)
	w.header = nil
	w.out = w.seg.sealRun(w.out, pt, w.idx, final)
	w.idx += segs
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("envelope: write to a closed stream")
	}
	return nil
}

// Close seals the final segment and writes it. It must be called: a stream
// without its final segment does not open.
func (w *Writer) Close() error {
	if err := w.usable(); err != nil {
		if w.closed {
			return nil
		}
		return err
	}
	w.closed = true
	return w.emit(w.buf, true)
}

// Reader opens a stream sequentially. Each segment is authenticated before
// any of its plaintext is returned; truncation is reported when the end of the
// stream is reached, so plaintext read before an error must be discarded
// unless the reader reached io.EOF.
type Reader struct {
	src     io.Reader
	seg     segmenter
	bufs    [2][]byte // ciphertext batches; cap is batch bytes + 1
	cur     int       // which of bufs holds the batch being served
	pending *batch    // the next batch, read while the current one was opened
	plain   [][]byte
	tail    []byte // out-of-place plaintext of the last two segments
	carry   []byte // one byte read past the previous batch
	idx     uint64
	batch   int // segments per batch
	done    bool
	err     error
	Header  *Header
}

// NewReader reads the stream header from src, finds the key with lookup and
// checks the key commitment. opts may set Workers; the segment size comes from
// the header.
func NewReader(ctx context.Context, src io.Reader, lookup KeyLookup, ec Context, opts *StreamOptions) (*Reader, error) {
	if opts == nil {
		opts = &StreamOptions{}
	}
	workers, err := opts.workers()
	if err != nil {
		return nil, err
	}
	h, seg, err := openStreamHeader(ctx, src, lookup, ec)
	if err != nil {
		return nil, err
	}
	seg.workers = workers
	return &Reader{src: src, seg: seg, Header: h, batch: batchSegments(workers, seg.segSize)}, nil
}

// readStreamHeader reads and parses a stream header from src.
func readStreamHeader(src io.Reader) (*Header, error) {
	b := make([]byte, prefixLen, 256)
	if err := readHeaderPart(src, b); err != nil {
		return nil, err
	}
	h := &Header{}
	if err := h.parsePrefix(b); err != nil {
		return nil, err
	}
	var err error
	if h.Kind != KindStream {
		return nil, fail(ErrInvalidCiphertext, "this is a record, not a stream")
	}
	b = readMore(src, b, h.fixedLen()-prefixLen, &err)
	if err == nil && h.flags&flagContextStored != 0 {
		b = readMore(src, b, 2, &err)
		if err == nil {
			b = readMore(src, b, int(binary.BigEndian.Uint16(b[len(b)-2:])), &err)
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := h.parse(b); err != nil {
		return nil, err
	}
	return h, nil
}

func readMore(src io.Reader, b []byte, n int, err *error) []byte {
	b = append(b, make([]byte, n)...)
	*err = readHeaderPart(src, b[len(b)-n:])
	return b
}

func readHeaderPart(src io.Reader, b []byte) error {
	_, err := io.ReadFull(src, b)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fail(ErrTruncatedStream, "stream ends inside its header")
	}
	return err
}

// openStreamHeader reads the header and derives the stream key, checking the
// stored context and the key commitment.
func openStreamHeader(ctx context.Context, src io.Reader, lookup KeyLookup, ec Context) (*Header, segmenter, error) {
	var seg segmenter
	enc, err := ec.appendCanonical(nil)
	if err != nil {
		return nil, seg, err
	}
	h, err := readStreamHeader(src)
	if err != nil {
		return nil, seg, err
	}
	if h.stored() && string(h.contextEnc) != string(enc) {
		return nil, seg, fail(ErrContextMismatch, "stored context differs from the caller's")
	}
	key, err := lookupKey(ctx, lookup, h.Tenant, h.KeyVersion)
	if err != nil {
		return nil, seg, err
	}
	aead, commit, err := streamAEAD(key, h, ec)
	if err != nil {
		return nil, seg, err
	}
	if !equalCommit(commit[:], h.commit) {
		return nil, seg, fail(ErrInvalidCiphertext, "stream key commitment does not match (wrong key, context or header)")
	}
	return h, segmenter{aead: aead, segSize: h.SegmentSize}, nil
}

// Read returns authenticated plaintext.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.plain[0])
	r.plain[0] = r.plain[0][n:]
	if len(r.plain[0]) == 0 {
		r.plain = r.plain[1:]
	}
	return n, nil
}

// WriteTo writes the whole plaintext to w, so io.Copy avoids a copy.
//
// When nothing has been read yet and the source is an io.WriterTo (an
// in-memory reader, say), segments are opened straight out of the source's
// buffers instead of being copied into the Reader's first.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := r.src.(io.WriterTo); ok && r.untouched() {
		return r.pushFrom(wt, w)
	}
	var total int64
	for {
		for len(r.plain) > 0 {
			n, err := w.Write(r.plain[0])
			total += int64(n)
			if err != nil {
				return total, err
			}
			r.plain = r.plain[1:]
		}
		if err := r.next(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
	}
}

func (r *Reader) untouched() bool {
	return r.idx == 0 && r.err == nil && !r.done && r.pending == nil && len(r.carry) == 0 && len(r.plain) == 0
}

// pushFrom has src write the ciphertext into a pushOpener, which opens each
// whole segment where it lies and writes the plaintext to dst.
func (r *Reader) pushFrom(src io.WriterTo, dst io.Writer) (int64, error) {
	p := &pushOpener{r: r, dst: dst, round: r.batch * r.seg.segSize}
	if _, err := src.WriteTo(p); err != nil {
		r.err = err
		return p.written, err
	}
	if err := p.finish(); err != nil {
		r.err = err
		return p.written, err
	}
	r.done = true
	return p.written, nil
}

// pushOpener is the io.Writer a source's WriteTo writes ciphertext to. Whole
// segments followed by at least one more byte are not final and are opened
// in place in the source's buffer; the rest waits in pending.
type pushOpener struct {
	r       *Reader
	dst     io.Writer
	pending []byte // the start of a segment that has not fully arrived
	out     []byte // plaintext of one round of segments
	round   int    // plaintext bytes per round
	written int64
}

func (p *pushOpener) Write(b []byte) (int, error) {
	n := len(b)
	stride := p.r.seg.segSize + tagSize
	if len(p.pending) > 0 {
		need := stride - len(p.pending)
		if len(b) <= need {
			p.pending = append(p.pending, b...)
			return n, nil
		}
		p.pending = append(p.pending, b[:need]...)
		if err := p.open(p.pending, 1); err != nil {
			return 0, err
		}
		p.pending, b = p.pending[:0], b[need:]
	}
	whole := (len(b) - 1) / stride
	perRound := max(1, p.round/p.r.seg.segSize)
	if p.r.seg.workers > 1 && whole > 2*perRound {
		if err := p.openPipelined(b[:whole*stride], whole, perRound); err != nil {
			return 0, err
		}
		p.pending = append(p.pending, b[whole*stride:]...)
		return n, nil
	}
	for done := 0; done < whole; {
		k := min(whole-done, max(1, p.round/p.r.seg.segSize))
		if err := p.open(b[done*stride:(done+k)*stride], k); err != nil {
			return 0, err
		}
		done += k
	}
	p.pending = append(p.pending, b[whole*stride:]...)
	return n, nil
}

// open opens k whole non-final segments of ct into p.out and writes them.
func (p *pushOpener) open(ct []byte, k int) error {
	r := p.r
	if r.idx+uint64(k) >= MaxSegments {
		return fail(ErrInvalidCiphertext, "stream has more segments than the format allows")
	}
	p.out = slices.Grow(p.out[:0], k*r.seg.segSize)[:k*r.seg.segSize]
	if err := r.seg.openRunInto(p.out, ct, k, r.idx); err != nil {
		return r.explain(ct, k)
	}
	r.idx += uint64(k)
	n, err := p.dst.Write(p.out)
	p.written += int64(n)
	return err
}

// openPipelined opens many rounds of whole non-final segments on persistent
// workers, writing each round's plaintext out while later ones are opened.
func (p *pushOpener) openPipelined(ct []byte, whole, perRound int) error {
	r := p.r
	segSize, stride := r.seg.segSize, r.seg.segSize+tagSize
	if r.idx+uint64(whole) >= MaxSegments {
		return fail(ErrInvalidCiphertext, "stream has more segments than the format allows")
	}
	var outs [pipeDepth][]byte
	for i := range outs {
		b := getRoundBuffer(perRound * segSize)
		defer putRoundBuffer(b)
		outs[i] = *b
	}
	items := func(k int) int { return min(perRound, whole-k*perRound) }
	work := func(k, lo, hi int) error {
		nonce := make([]byte, nonceSize)
		out := outs[k%pipeDepth]
		for i := lo; i < hi; i++ {
			g := k*perRound + i
			putSegmentNonce(nonce, r.idx+uint64(g), false)
			if _, err := r.seg.aead.Open(out[i*segSize:i*segSize], nonce, ct[g*stride:(g+1)*stride], nil); err != nil {
				return errSegmentAuth
			}
		}
		return nil
	}
	finish := func(k int) error {
		n, err := p.dst.Write(outs[k%pipeDepth][:items(k)*segSize])
		p.written += int64(n)
		return err
	}
	rounds := (whole + perRound - 1) / perRound
	err := r.seg.pipeline(rounds, items, work, finish)
	if errors.Is(err, errSegmentAuth) {
		return r.explain(ct, whole)
	}
	if err != nil {
		return err
	}
	r.idx += uint64(whole)
	return nil
}

// finish opens what is left, which must be the final segment.
func (p *pushOpener) finish() error {
	if len(p.pending) < tagSize {
		return fail(ErrTruncatedStream, "stream ends inside a segment")
	}
	r := p.r
	r.plain = r.plain[:0]
	if err := r.openTail(p.pending, 0); err != nil {
		return err
	}
	r.idx++
	for _, pt := range r.plain {
		n, err := p.dst.Write(pt)
		p.written += int64(n)
		if err != nil {
			return err
		}
	}
	r.plain = r.plain[:0]
	return nil
}

// explain finds the first of k segments in ct that fails and says why.
func (r *Reader) explain(ct []byte, k int) error {
	stride := r.seg.segSize + tagSize
	for i := range k {
		seg := ct[i*stride : (i+1)*stride]
		nonce := segmentNonce(r.idx+uint64(i), false)
		if _, err := r.seg.aead.Open(nil, nonce, seg, nil); err != nil {
			return r.tailError(r.idx+uint64(i), seg, false)
		}
	}
	return fail(ErrInvalidCiphertext, "segment failed authentication")
}

// next reads and opens the next batch of segments.
func (r *Reader) next() error {
	if r.err != nil {
		return r.err
	}
	if r.done {
		return io.EOF
	}
	r.err = r.fill()
	return r.err
}

// batch is a run of segment ciphertext read from the source.
type batch struct {
	ct    []byte
	final bool // the stream ends with this batch
	err   error
}

// fill reads and opens the next batch. With several workers the batch after
// it is read while this one is opened, so reading and decrypting overlap.
func (r *Reader) fill() error {
	b := r.pending
	r.pending = nil
	if b == nil {
		b = r.read(r.cur)
	}
	if b.err != nil {
		return b.err
	}
	if r.seg.workers <= 1 || b.final {
		return r.openBatch(b.ct, b.final)
	}
	next := 1 - r.cur
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.pending = r.read(next)
	}()
	err := r.openBatch(b.ct, b.final)
	<-done
	r.cur = next
	return err
}

// read reads one batch into buf, plus one byte past it that proves the batch
// is not the last; that byte starts the next batch.
func (r *Reader) read(i int) *batch {
	if r.bufs[i] == nil { // first use: WriteTo from an in-memory source never needs it
		r.bufs[i] = make([]byte, 0, r.batch*(r.seg.segSize+tagSize)+1)
	}
	buf := append(r.bufs[i][:0], r.carry...)
	full := cap(buf)
	n, err := io.ReadFull(r.src, buf[len(buf):full])
	buf = buf[:len(buf)+n]
	switch {
	case err == nil:
		r.carry = append(r.carry[:0], buf[full-1])
		return &batch{ct: buf[:full-1]}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		r.carry = r.carry[:0]
		return &batch{ct: buf, final: true}
	default:
		return &batch{err: err}
	}
}

// openBatch opens the segments in ct in place. In the final batch the last
// segment must carry the final flag; it and the one before it are opened out
// of place, so that a failure can be told apart as truncation or appended data.
func (r *Reader) openBatch(ct []byte, final bool) error {
	r.done = final
	stride := r.seg.segSize + tagSize
	n := (len(ct) + stride - 1) / stride
	if final && (n == 0 || len(ct)-(n-1)*stride < tagSize) {
		return fail(ErrTruncatedStream, "stream ends inside a segment")
	}
	if r.idx+uint64(n) > MaxSegments {
		return fail(ErrInvalidCiphertext, "stream has more segments than the format allows")
	}
	inPlace := n
	if final {
		inPlace = max(0, n-2)
	}
	r.plain = r.plain[:0]
	if err := r.seg.openRun(ct, inPlace, r.idx); err != nil {
		return err
	}
	for i := range inPlace {
		r.plain = append(r.plain, ct[i*stride:i*stride+r.seg.segSize])
	}
	if final {
		if err := r.openTail(ct[inPlace*stride:], inPlace); err != nil {
			return err
		}
	}
	r.idx += uint64(n)
	return nil
}

// openTail opens the last one or two segments of a stream.
func (r *Reader) openTail(ct []byte, first int) error {
	stride := r.seg.segSize + tagSize
	r.tail = r.tail[:0]
	segs := [][]byte{ct}
	if len(ct) > stride {
		segs = [][]byte{ct[:stride], ct[stride:]}
	}
	for j, seg := range segs {
		idx := r.idx + uint64(first+j)
		last := j == len(segs)-1
		nonce := segmentNonce(idx, last)
		start := len(r.tail)
		var err error
		r.tail, err = r.seg.aead.Open(r.tail, nonce, seg, nil)
		if err != nil {
			return r.tailError(idx, seg, last)
		}
		r.plain = append(r.plain, r.tail[start:len(r.tail):len(r.tail)])
	}
	return nil
}

// tailError tells why a segment at the end failed: a last segment that opens
// as non-final means the stream was cut; a non-final one that opens as final
// means data was appended after the real end.
func (r *Reader) tailError(idx uint64, seg []byte, last bool) error {
	nonce := segmentNonce(idx, !last)
	if _, err := r.seg.aead.Open(nil, nonce, seg, nil); err == nil {
		if last {
			return fail(ErrTruncatedStream, fmt.Sprintf("stream ends after segment %d, which is not its final segment", idx))
		}
		return fail(ErrInvalidCiphertext, fmt.Sprintf("data follows the final segment %d", idx))
	}
	return fail(ErrInvalidCiphertext, fmt.Sprintf("segment %d failed authentication", idx))
}

// ReaderAt gives random access to a stream's plaintext, decrypting only the
// segments a read touches. It is safe for concurrent use.
type ReaderAt struct {
	src    io.ReaderAt
	seg    segmenter
	hlen   int64
	nseg   int64
	size   int64 // plaintext size
	pool   sync.Pool
	Header *Header
}

// NewReaderAt opens the stream of size bytes in src. It reads the header and
// authenticates the last segment, so Size is trustworthy and truncation is
// reported here rather than at the end of a read.
func NewReaderAt(ctx context.Context, src io.ReaderAt, size int64, lookup KeyLookup, ec Context) (*ReaderAt, error) {
	sr := io.NewSectionReader(src, 0, size)
	h, seg, err := openStreamHeader(ctx, sr, lookup, ec)
	if err != nil {
		return nil, err
	}
	hlen, _ := sr.Seek(0, io.SeekCurrent)
	body := size - hlen
	stride := int64(seg.segSize + tagSize)
	nseg := (body + stride - 1) / stride
	if nseg == 0 || body-(nseg-1)*stride < tagSize {
		return nil, fail(ErrTruncatedStream, "stream ends inside a segment")
	}
	if nseg > MaxSegments {
		return nil, fail(ErrInvalidCiphertext, "stream has more segments than the format allows")
	}
	r := &ReaderAt{src: src, seg: seg, hlen: hlen, nseg: nseg, Header: h}
	r.size = (nseg-1)*int64(seg.segSize) + body - (nseg-1)*stride - tagSize
	r.pool.New = func() any { b := make([]byte, stride); return &b }
	if _, err := r.segment(nseg-1, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// Size returns the plaintext size.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt reads len(p) plaintext bytes from off.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("envelope: negative offset")
	}
	n := 0
	for n < len(p) && off < r.size {
		idx := off / int64(r.seg.segSize)
		within := int(off - idx*int64(r.seg.segSize))
		bp := r.pool.Get().(*[]byte)
		pt, err := r.segment(idx, *bp)
		if err != nil {
			r.pool.Put(bp)
			return n, err
		}
		c := copy(p[n:], pt[within:])
		r.pool.Put(bp)
		n, off = n+c, off+int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// segment reads segment idx into buf (allocated when nil) and opens it in place.
func (r *ReaderAt) segment(idx int64, buf []byte) ([]byte, error) {
	stride := int64(r.seg.segSize + tagSize)
	at := r.hlen + idx*stride
	length := stride
	if idx == r.nseg-1 {
		length = r.size - idx*int64(r.seg.segSize) + tagSize
	}
	if buf == nil {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if err := readFullAt(r.src, buf, at); err != nil {
		return nil, fmt.Errorf("envelope: read segment %d: %w", idx, err)
	}
	last := idx == r.nseg-1
	nonce := segmentNonce(uint64(idx), last)
	pt, err := r.seg.aead.Open(buf[:0], nonce, buf, nil)
	if err != nil && last {
		return nil, r.lastError(idx, at, length)
	}
	if err != nil {
		return nil, fail(ErrInvalidCiphertext, fmt.Sprintf("segment %d failed authentication", idx))
	}
	return pt, nil
}

// lastError re-reads the last segment (opening in place cleared it) and tells
// truncation apart from tampering.
func (r *ReaderAt) lastError(idx, at, length int64) error {
	buf := make([]byte, length)
	if err := readFullAt(r.src, buf, at); err != nil {
		return fmt.Errorf("envelope: read segment %d: %w", idx, err)
	}
	nonce := segmentNonce(uint64(idx), false)
	if _, err := r.seg.aead.Open(nil, nonce, buf, nil); err == nil {
		return fail(ErrTruncatedStream, fmt.Sprintf("stream ends after segment %d, which is not its final segment", idx))
	}
	return fail(ErrInvalidCiphertext, fmt.Sprintf("segment %d failed authentication", idx))
}

// readFullAt reads exactly len(buf) bytes; a source shorter than the size the
// caller gave is reported as io.ErrUnexpectedEOF.
func readFullAt(src io.ReaderAt, buf []byte, at int64) error {
	n, err := src.ReadAt(buf, at)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

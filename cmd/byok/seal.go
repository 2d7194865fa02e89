package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
)

const (
	sealUsage = "byok seal -k KEYFILE [-c key=value]... [-store-context] [-segment-size N] [-o OUT] [IN]"
	openUsage = "byok open -k KEYFILE [-c key=value]... [-o OUT] [IN]"
)

// streamFlags are the flags seal and open share.
type streamFlags struct {
	fs      *flag.FlagSet
	keyPath *string
	out     *string
	ec      contextFlag
}

func newStreamFlags(c *cli, name, usage string) *streamFlags {
	s := &streamFlags{fs: newFlags(c, name, usage), ec: contextFlag{}}
	s.keyPath = s.fs.String("k", "", "key `file` (required)")
	s.out = s.fs.String("o", "-", "output `file`, written only if the command succeeds; - for stdout")
	s.fs.Var(s.ec, "c", "encryption context `key=value` pair; repeat for more")
	return s
}

// parse parses args and returns the input path ("-" for stdin).
func (s *streamFlags) parse(args []string) (string, error) {
	if err := parseFlags(s.fs, args); err != nil {
		return "", err
	}
	if *s.keyPath == "" {
		return "", usageErr("-k KEYFILE is required")
	}
	if s.fs.NArg() > 1 {
		return "", usageErr("at most one input file, got %d arguments", s.fs.NArg())
	}
	if s.fs.NArg() == 1 {
		return s.fs.Arg(0), nil
	}
	return "-", nil
}

// runSeal encrypts IN under the key file's highest key version.
func runSeal(ctx context.Context, c *cli, args []string) error {
	s := newStreamFlags(c, "seal", sealUsage)
	store := s.fs.Bool("store-context", false, "write the encryption context into the output's header (it is not secret)")
	segSize := s.fs.Int("segment-size", envelope.DefaultSegmentSize, "plaintext `bytes` per segment")
	inPath, err := s.parse(args)
	if err != nil {
		return err
	}
	if *segSize < envelope.MinSegmentSize || *segSize > envelope.MaxSegmentSize {
		return usageErr("-segment-size %d is outside %d..%d", *segSize, envelope.MinSegmentSize, envelope.MaxSegmentSize)
	}
	opts := &envelope.StreamOptions{SegmentSize: *segSize, StoreContext: *store, Workers: workersFor(*segSize)}
	return s.run(ctx, c, inPath, func(dst io.Writer, src io.Reader, kf *keyfile.File) error {
		return seal(dst, src, kf, envelope.Context(s.ec), opts)
	})
}

func seal(dst io.Writer, src io.Reader, kf *keyfile.File, ec envelope.Context, opts *envelope.StreamOptions) error {
	w, err := envelope.NewWriter(dst, kf.Latest().Key, ec, opts)
	if err != nil {
		return envelopeErr(err, nil)
	}
	if _, err := io.Copy(w, src); err != nil {
		return envelopeErr(err, nil)
	}
	return envelopeErr(w.Close(), nil)
}

// runOpen decrypts IN with whichever key version in the key file sealed it.
func runOpen(ctx context.Context, c *cli, args []string) error {
	s := newStreamFlags(c, "open", openUsage)
	inPath, err := s.parse(args)
	if err != nil {
		return err
	}
	return s.run(ctx, c, inPath, func(dst io.Writer, src io.Reader, kf *keyfile.File) error {
		return open(ctx, dst, src, kf, envelope.Context(s.ec))
	})
}

func open(ctx context.Context, dst io.Writer, src io.Reader, kf *keyfile.File, ec envelope.Context) error {
	lookup := &namedLookup{set: envelope.NewKeySet(kf.Keys()...)}
	br := bufio.NewReaderSize(src, headerPeek*2)
	opts := &envelope.StreamOptions{Workers: workersFor(peekSegmentSize(br))}
	r, err := envelope.NewReader(ctx, br, lookup, ec, opts)
	if err != nil {
		return envelopeErr(err, lookup)
	}
	if _, err := io.Copy(dst, r); err != nil {
		return envelopeErr(err, lookup)
	}
	return nil
}

// run opens the input and output around f, and publishes a file output only
// when f succeeds. On stdout, whatever f wrote before failing is already out:
// the exit status tells the reader to discard it.
func (s *streamFlags) run(ctx context.Context, c *cli, inPath string, f func(io.Writer, io.Reader, *keyfile.File) error) error {
	kf, err := loadKeyFile(*s.keyPath)
	if err != nil {
		return err
	}
	in, closeIn, err := openInput(ctx, c, inPath)
	if err != nil {
		return err
	}
	defer closeIn()
	out, err := createOutput(c, *s.out)
	if err != nil {
		return err
	}
	defer out.abort()
	if err := f(out, in, kf); err != nil {
		return err
	}
	return out.commit()
}

// streamMemory bounds the data one stream batch holds. The envelope works on
// Workers×8 segments at a time (and an opening reader holds two batches), so
// on a many-core machine with large segments an unbounded worker count would
// buffer gigabytes, and the segment size of an input comes from its header.
const streamMemory = 32 << 20

func workersFor(segSize int) int {
	limit := max(1, streamMemory/(8*segSize))
	return min(runtime.GOMAXPROCS(0), limit, 1024)
}

// headerPeek covers the longest stream header: fixed fields, a 128-byte
// tenant id and a stored context of envelope.MaxContextSize bytes.
const headerPeek = envelope.MaxContextSize + 512

// peekSegmentSize reads the segment size from the stream header without
// consuming it, so that the number of workers (and with it the memory used)
// follows what the header says. It returns the largest size when the header
// does not parse; NewReader then reports why.
func peekSegmentSize(br *bufio.Reader) int {
	b, _ := br.Peek(headerPeek)
	h, err := envelope.ParseHeader(b)
	if err != nil || h.Kind != envelope.KindStream {
		return envelope.MaxSegmentSize
	}
	return h.SegmentSize
}

// namedLookup remembers the tenant and key version a stream asked for, so an
// error can say which key file would open it.
type namedLookup struct {
	set     *envelope.KeySet
	tenant  string
	version uint32
}

func (l *namedLookup) TenantKey(ctx context.Context, tenant string, version uint32) (*envelope.TenantKey, error) {
	l.tenant, l.version = tenant, version
	return l.set.TenantKey(ctx, tenant, version)
}

// envelopeErr adds the stable code, an exit code and a hint to an error from
// the envelope package; l is the open's lookup, nil when sealing. Other errors
// (I/O, interrupts) pass through.
func envelopeErr(err error, l *namedLookup) error {
	code := envelope.Code(err)
	if code == "" {
		return err
	}
	err = fmt.Errorf("%w (%s)", err, code)
	switch {
	case code == "invalid_context" || code == "invalid_options":
		return withHint(exitUsage, err, "")
	case l == nil:
		return withHint(exitError, err, "")
	case code == "wrong_tenant" || code == "key_version_unknown":
		return withHint(exitDecrypt, err, fmt.Sprintf(
			"this data was sealed for tenant %s key version %d; use the key file that holds it", l.tenant, l.version))
	}
	return withHint(exitDecrypt, err, decryptHints[code])
}

var decryptHints = map[string]string{
	"context_mismatch":    "pass the same -c pairs used to seal",
	"invalid_ciphertext":  "check that the input is what seal wrote, unaltered, and pass the same -c pairs used to seal",
	"truncated_stream":    "the input ends early: it was cut short, or the seal that wrote it did not finish",
	"unsupported_version": "the input was written by a newer release of byok; open it with that release",
}

// contextFlag collects repeated -c key=value pairs.
type contextFlag envelope.Context

func (f contextFlag) String() string {
	pairs := make([]string, 0, len(f))
	for k, v := range f {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (f contextFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want key=value with a non-empty key")
	}
	if _, dup := f[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	f[k] = v
	return nil
}

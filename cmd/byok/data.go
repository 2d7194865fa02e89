package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/byok-dev/byok/client"
)

const (
	encryptUsage = "byok encrypt [--record] [-c key=value]... [-o OUT] TENANT [IN]"
	decryptUsage = "byok decrypt [--record] [-c key=value]... [-o OUT] TENANT [IN]"
)

// dataFlags are the flags encrypt and decrypt share.
type dataFlags struct {
	*remote
	record bool
	out    string
	ec     contextFlag
}

func parseDataFlags(c *cli, name, usage string, args []string) (*dataFlags, string, string, error) {
	f := &dataFlags{remote: newRemoteRaw(c, name, usage), ec: contextFlag{}}
	f.fs.BoolVar(&f.record, "record", false, "one record (up to the server's record limit) instead of the stream format")
	f.fs.StringVar(&f.out, "o", "-", "output `file`, written only if the command succeeds; - for stdout")
	f.fs.Var(f.ec, "c", "encryption context `key=value` pair; repeat for more")
	pos, err := f.parseAny(args)
	switch {
	case err != nil:
		return nil, "", "", err
	case len(pos) == 0 || len(pos) > 2:
		return nil, "", "", usageErr("want TENANT and at most one input file, got %d argument(s)", len(pos))
	case len(pos) == 1:
		pos = append(pos, "-")
	}
	return f, pos[0], pos[1], nil
}

func runEncrypt(ctx context.Context, c *cli, args []string) error {
	return runData(ctx, c, "encrypt", encryptUsage, args)
}

func runDecrypt(ctx context.Context, c *cli, args []string) error {
	return runData(ctx, c, "decrypt", decryptUsage, args)
}

// runData encrypts or decrypts IN through the server into OUT, which is
// created only once the whole answer arrived: a decryption that fails
// midway leaves no partial plaintext behind.
func runData(ctx context.Context, c *cli, op, usage string, args []string) error {
	f, tenant, in, err := parseDataFlags(c, op, usage, args)
	if err != nil {
		return err
	}
	cl, err := f.client()
	if err != nil {
		return err
	}
	src, size, closeIn, err := openSized(ctx, c, in)
	if err != nil {
		return err
	}
	defer closeIn()
	out, err := createOutput(c, f.out)
	if err != nil {
		return err
	}
	defer out.abort()
	if f.record {
		err = dataRecord(ctx, cl, op, tenant, out, src, client.Context(f.ec))
	} else {
		err = dataStream(ctx, c, cl, op, tenant, out, src, size, client.Context(f.ec))
	}
	if err != nil {
		return apiErr(err)
	}
	return out.commit()
}

// openSized opens the input and returns its size, or -1 when unknown.
func openSized(ctx context.Context, c *cli, path string) (io.Reader, int64, func(), error) {
	r, closeIn, err := openInput(ctx, c, path)
	if err != nil {
		return nil, 0, nil, err
	}
	size := int64(-1)
	if fi, err := os.Stat(path); err == nil && path != "-" && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return r, size, closeIn, nil
}

// maxRecord bounds what --record reads into memory: a record travels
// base64-encoded in one JSON body, which the server caps (16 MiB by default).
const maxRecord = 12 << 20

func dataRecord(ctx context.Context, cl *client.Client, op, tenant string, dst io.Writer, src io.Reader, ec client.Context) error {
	b, err := io.ReadAll(io.LimitReader(src, maxRecord+1))
	if err != nil {
		return err
	}
	if len(b) > maxRecord {
		return withHint(exitUsage, fmt.Errorf("the input is over %d MiB, too large for --record", maxRecord>>20), "leave out --record to use the stream format, which has no size limit")
	}
	do := cl.Encrypt
	if op == "decrypt" {
		do = cl.Decrypt
	}
	res, err := do(ctx, tenant, b, ec)
	if err != nil {
		return err
	}
	_, err = dst.Write(res)
	return err
}

func dataStream(ctx context.Context, c *cli, cl *client.Client, op, tenant string, dst io.Writer, src io.Reader, size int64, ec client.Context) error {
	src, stop := withProgress(c, op, src, size)
	defer stop()
	do := cl.EncryptStream
	if op == "decrypt" {
		do = cl.DecryptStream
	}
	if _, err := do(ctx, tenant, dst, src, ec); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

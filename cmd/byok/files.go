package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/byok-dev/byok/internal/keyfile"
)

// loadKeyFile reads and parses a key file. Like ssh with private keys, it
// refuses a file that the group or others may read or write: such a key has
// likely leaked already, and using it would hide that.
func loadKeyFile(path string) (*keyfile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, keyFileOpenErr(path, err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, keyfile.MaxSize+1))
	defer clear(data)
	if err != nil {
		return nil, withHint(exitKeyFile, fmt.Errorf("read key file %s: %w", path, err), "")
	}
	kf, err := keyfile.Parse(data)
	if err != nil {
		return nil, withHint(exitKeyFile, fmt.Errorf("key file %s: %w (%s)", path, err, keyfile.Code(err)), "")
	}
	return kf, nil
}

func keyFileOpenErr(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return withHint(exitKeyFile, fmt.Errorf("key file %s does not exist", path),
			"create one with 'byok keygen -o "+path+"'")
	}
	return withHint(exitKeyFile, fmt.Errorf("key file: %w", err), "")
}

func checkPrivate(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return withHint(exitKeyFile, fmt.Errorf("key file: %w", err), "")
	}
	if !fi.Mode().IsRegular() {
		return withHint(exitKeyFile, fmt.Errorf("key file %s is not a regular file", path), "")
	}
	// Windows has no group/other permission bits; its ACLs are out of reach here.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return withHint(exitKeyFile,
			fmt.Errorf("key file %s may be read or written by group or others (mode %04o)", path, perm),
			"chmod 600 "+path)
	}
	return nil
}

// createNew writes data to a new file of mode 0600, refusing to replace an
// existing one, and removes what it wrote if anything fails.
func createNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return withHint(exitError, fmt.Errorf("%s already exists", path),
			"'byok keygen -add "+path+"' adds a key version to it; or choose another name")
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(path)
	}
	return err
}

// output is where a command writes its result: stdout, or a temporary file
// in the destination's directory that commit renames into place, so readers
// of the destination never see a partial or unauthenticated result.
type output struct {
	w    io.Writer
	tmp  *os.File // nil for stdout
	dest string
	done bool
}

// createOutput starts writing to path, or to stdout for "" and "-". The file
// is created with mode 0600: it may hold plaintext.
func createOutput(c *cli, path string) (*output, error) {
	if path == "" || path == "-" {
		return &output{w: c.stdout}, nil
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".byok-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, pathErrCause(err))
	}
	return &output{w: tmp, tmp: tmp, dest: path}, nil
}

func (o *output) Write(p []byte) (int, error) { return o.w.Write(p) }

// commit makes the output visible under its name.
func (o *output) commit() error {
	if o.tmp == nil || o.done {
		return nil
	}
	o.done = true
	err := errors.Join(o.tmp.Sync(), o.tmp.Close())
	if err == nil {
		err = os.Rename(o.tmp.Name(), o.dest)
	}
	if err != nil {
		os.Remove(o.tmp.Name())
		return fmt.Errorf("write %s: %w", o.dest, pathErrCause(err))
	}
	return nil
}

// abort discards an uncommitted output file; it is a no-op after commit.
func (o *output) abort() {
	if o.tmp == nil || o.done {
		return
	}
	o.done = true
	o.tmp.Close()
	os.Remove(o.tmp.Name())
}

// pathErrCause drops the path from an *fs.PathError, which for an output
// would name the temporary file rather than the one the user asked for.
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openInput opens path, or stdin for "" and "-". Reads stop once ctx is
// cancelled, so an interrupt ends a long run between two reads.
func openInput(ctx context.Context, c *cli, path string) (io.Reader, func(), error) {
	if path == "" || path == "-" {
		return ctxReader{ctx, c.stdin}, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return ctxReader{ctx, f}, func() { f.Close() }, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Modes of what byok keeps in a data folder of its own (byok dev's): the
// database, the root key, the owner token and the emulator's state are no
// one else's to read.
const (
	privateDirMode  = 0o700
	privateFileMode = 0o600
)

// privateDir creates dir with mode 0700, or tightens an existing one and
// the files named that the group or others may use, each with a warning
// naming its path: a folder written by an older release keeps working, and
// the operator learns what was exposed. Only byok's own files are touched:
// --dir may name a folder that holds other things too.
func privateDir(dir string, names []string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, privateDirMode); err != nil {
		return withHint(exitError, fmt.Errorf("create the data folder: %w", err), "pass --dir with a folder you may write")
	}
	if err := tightenMode(dir, privateDirMode, log); err != nil {
		return err
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
			continue // not written yet; or a symlink, whose mode is its target's
		}
		if err != nil {
			return err
		}
		if err := tightenMode(path, privateFileMode, log); err != nil {
			return err
		}
	}
	return nil
}

// tightenMode sets want on path if its mode gives the group or others more.
func tightenMode(path string, want os.FileMode, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 || runtime.GOOS == "windows" {
		return nil
	}
	if err := os.Chmod(path, want); err != nil {
		return fmt.Errorf("tighten %s (mode %04o): %w", path, perm, err)
	}
	log.Warn("byok: group or others could use this data path; its mode is tightened", "path", path,
		"was", fmt.Sprintf("%04o", perm), "now", fmt.Sprintf("%04o", want))
	return nil
}

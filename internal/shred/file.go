package shred

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// fileFormat names version 1 of a keystore file.
const fileFormat = "byok-shred-key-v1"

// maxFileSize bounds what the parser reads: a live file is a few hundred
// bytes.
const maxFileSize = 8 << 10

// file is one keystore file: a live key (Wrapped set) or a tombstone
// (Destroyed set), never both.
type file struct {
	Format  string    `json:"format"`
	Tenant  string    `json:"tenant"`
	Created time.Time `json:"created,omitzero"`
	// Wrapped is the shred key wrapped under the platform root key.
	Wrapped *kms.Wrapped `json:"wrapped,omitempty"`
	// Destroyed is when the key was destroyed; zero in a tombstone that a
	// destruction left as zeros when it stopped before writing the
	// tombstone.
	Destroyed time.Time `json:"destroyed,omitzero"`
	// Tombstone marks a destroyed key.
	Tombstone bool `json:"tombstone,omitempty"`
}

var errZeroed = errors.New("the file is zeroed: its key was destroyed")

// parseFile reads a keystore file. A file of only zero bytes is what an
// interrupted destruction leaves: it reads as a tombstone without a time.
func parseFile(b []byte) (*file, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("the file is larger than %d bytes", maxFileSize)
	}
	if len(b) > 0 && len(bytes.Trim(b, "\x00")) == 0 {
		return &file{Format: fileFormat, Tombstone: true}, errZeroed
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("the file does not parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the file has data after its object")
	}
	return &f, f.check()
}

func (f *file) check() error {
	switch {
	case f.Format != fileFormat:
		return fmt.Errorf("unknown format %q", f.Format)
	case !envelope.ValidTenantID(f.Tenant):
		return errors.New("the file names no valid tenant")
	case f.Tombstone && f.Wrapped != nil:
		return errors.New("a tombstone holds a key")
	case f.Tombstone && f.Destroyed.IsZero():
		return errors.New("a tombstone has no time of destruction")
	case !f.Tombstone && (f.Wrapped == nil || len(f.Wrapped.Ciphertext) == 0):
		return errors.New("the file holds no key")
	case !f.Tombstone && !f.Destroyed.IsZero():
		return errors.New("a live key has a time of destruction")
	}
	return nil
}

func (f *file) marshal() ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

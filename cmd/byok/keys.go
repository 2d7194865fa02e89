package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
)

const keygenUsage = "byok keygen [-tenant ID] -o FILE | -add FILE"

// runKeygen creates a key file with version 1, or adds the next version to an
// existing one.
func runKeygen(_ context.Context, c *cli, args []string) error {
	fs := newFlags(c, "keygen", keygenUsage)
	tenant := fs.String("tenant", "", "tenant `id` the key belongs to (default \"local\"; with -add, the file's)")
	out := fs.String("o", "", "new key `file` to create with mode 0600; - writes to stdout")
	add := fs.String("add", "", "existing key `file` to add the next key version to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("keygen takes no arguments, got %q", fs.Arg(0))
	}
	if *tenant != "" && !envelope.ValidTenantID(*tenant) {
		return usageErr("-tenant %q is not a tenant id: use 1 to 128 characters A-Z a-z 0-9 . _ : -", *tenant)
	}
	switch {
	case *out != "" && *add != "":
		return usageErr("-o and -add cannot be used together")
	case *add != "":
		return addKey(c, *add, *tenant)
	case *out != "":
		return newKeyFile(c, *out, *tenant)
	}
	return usageErr("say where the key goes: -o FILE (or -o - for stdout), or -add FILE")
}

func newKeyFile(c *cli, path, tenant string) error {
	if tenant == "" {
		tenant = "local"
	}
	kf := &keyfile.File{}
	if err := appendNewKey(kf, tenant); err != nil {
		return err
	}
	data, err := keyfile.Marshal(kf)
	defer clear(data)
	if err != nil {
		return err
	}
	if path == "-" {
		_, err := c.stdout.Write(data)
		return err
	}
	if err := createNew(path, data); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "byok: created %s: tenant %s, key version 1\n", path, tenant)
	return nil
}

// addKey rewrites path with one more key version, atomically: a crash leaves
// either the old file or the new one.
func addKey(c *cli, path, tenant string) error {
	real, err := filepath.EvalSymlinks(path) // replace the file, not a link to it
	if err != nil {
		return keyFileOpenErr(path, err)
	}
	path = real
	kf, err := loadKeyFile(path)
	if err != nil {
		return err
	}
	if tenant != "" && tenant != kf.Tenant() {
		return usageErr("key file %s holds tenant %s, not %s", path, kf.Tenant(), tenant)
	}
	if err := appendNewKey(kf, kf.Tenant()); err != nil {
		return err
	}
	if err := replaceFile(c, path, kf); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "byok: added key version %d of tenant %s to %s\n", kf.Latest().Key.Version(), kf.Tenant(), path)
	return nil
}

func appendNewKey(kf *keyfile.File, tenant string) error {
	v, err := kf.NextVersion()
	if err != nil {
		return err
	}
	k, err := envelope.GenerateTenantKey(tenant, v, nil)
	if err != nil {
		return err
	}
	return kf.Append(keyfile.Entry{Key: k, Created: time.Now().UTC()})
}

func replaceFile(c *cli, path string, kf *keyfile.File) error {
	data, err := keyfile.Marshal(kf)
	defer clear(data)
	if err != nil {
		return err
	}
	out, err := createOutput(c, path)
	if err != nil {
		return err
	}
	defer out.abort()
	if _, err := out.Write(data); err != nil {
		return err
	}
	return out.commit()
}

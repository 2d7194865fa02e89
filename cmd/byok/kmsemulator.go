package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/byok-dev/byok/awsemu"
)

const kmsEmulatorUsage = "byok kms-emulator --world world.yaml [--listen 127.0.0.1:4566] [--state-file state.json]"

// runKMSEmulator serves the AWS KMS + STS emulator until ctx is cancelled.
func runKMSEmulator(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "kms-emulator", kmsEmulatorUsage)
	listen := fs.String("listen", "127.0.0.1:4566", "`address` to listen on")
	worldPath := fs.String("world", "", "world YAML `file`: regions, accounts, users, roles, keys (see docs/awsemu.md)")
	stateFile := fs.String("state-file", "", "`file` that keeps the state across restarts (written atomically after every change)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *worldPath == "" {
		return usageErr("--world is required")
	}
	emu, err := newEmulator(*worldPath, *stateFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return withHint(exitError, err, "choose another address with --listen")
	}
	fmt.Fprintf(c.stdout, "kms-emulator: serving %s on http://%s (test controls under %s)\n",
		strings.Join(emu.Regions(), ", "), ln.Addr(), awsemu.AdminPrefix)
	return serveUntilDone(ctx, ln, emu)
}

func newEmulator(worldPath, stateFile string) (*awsemu.Server, error) {
	world, err := awsemu.LoadWorld(worldPath)
	if err != nil {
		return nil, withHint(exitError, err, "docs/awsemu.md describes the world file")
	}
	emu, err := awsemu.New(world)
	if err != nil {
		return nil, err
	}
	if stateFile != "" {
		if err := emu.SetStateFile(stateFile); err != nil {
			return nil, withHint(exitError, err, "remove the state file to start again from the world")
		}
	}
	return emu, nil
}

// serveUntilDone serves until ctx ends, then lets requests in flight finish.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Package pgtest gives tests a fresh PostgreSQL database each.
//
// # Servers
//
// When BYOK_TEST_POSTGRES_URL is set (a postgres:// URL of a role that may
// create databases), databases are created on that server. Otherwise the
// first [NewDatabase] starts a throwaway cluster from the machine's binaries
// under /usr/lib/postgresql/*/bin (Debian's postgresql package): initdb into
// a temporary directory, the server listening only on a unix socket there,
// with fsync off. When neither is available, tests skip with a message that
// says how to enable them.
//
// initdb and postgres refuse to run as root, so when the tests run as root
// the cluster runs as the user "nobody".
//
// # Lifecycle
//
// A package using NewDatabase calls [Main] from its TestMain, which stops the
// cluster after the tests. Each database is dropped when its test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable of an existing server to use.
const EnvURL = "BYOK_TEST_POSTGRES_URL"

const howTo = "PostgreSQL tests skipped: install Debian's postgresql package (binaries under /usr/lib/postgresql/*/bin) or set " +
	EnvURL + " to a postgres:// URL of a role that may create databases"

var (
	once    sync.Once
	server  *cluster
	skipMsg string
	failErr error
)

// Main runs the package's tests and then stops the cluster, if one was
// started. Use it as os.Exit(pgtest.Main(m)) in TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if server != nil {
		if err := server.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// NewDatabase creates an empty database and returns its URL; the database
// is dropped when t ends. It skips t when no PostgreSQL is available.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if skipMsg != "" {
		t.Skip(skipMsg)
	}
	if failErr != nil {
		t.Fatalf("pgtest: %v", failErr)
	}
	name := "byok_test_" + randomHex()
	if err := server.exec(fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := server.exec(fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", name)); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return server.urlFor(name)
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cluster is the server databases are made on, started here or not.
type cluster struct {
	admin *url.URL // a URL for administrative statements
	dir   string   // the temporary directory of a started cluster
	cmd   *exec.Cmd
	done  chan error // receives the server's exit
}

func setup() {
	if env := os.Getenv(EnvURL); env != "" {
		server, failErr = external(env)
		return
	}
	bin, ok := findBinaries()
	if !ok {
		skipMsg = howTo
		return
	}
	server, failErr = start(bin)
}

func external(raw string) (*cluster, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	return &cluster{admin: u}, nil
}

// findBinaries returns the bin directory of the newest installed version.
func findBinaries() (string, bool) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", false
	}
	slices.SortFunc(matches, func(a, b string) int { return majorOf(a) - majorOf(b) })
	return filepath.Dir(matches[len(matches)-1]), true
}

func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

func (c *cluster) urlFor(db string) string {
	u := *c.admin
	u.Path = "/" + db
	return u.String()
}

func (c *cluster) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.admin.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// start runs initdb and postgres in a new temporary directory.
func start(bin string) (*cluster, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Unix socket paths are limited to about 100 bytes: stay short.
	dir, err := os.MkdirTemp("/tmp", "byok-pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, done: make(chan error, 1)}
	if err := c.init(bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *cluster) init(bin string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	data := filepath.Join(c.dir, "data")
	initdb := c.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := c.serve(bin, cred, data); err != nil {
		return err
	}
	c.admin = &url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {c.dir}, "sslmode": {"disable"}}.Encode()}
	return c.wait()
}

func (c *cluster) serve(bin string, cred *syscall.Credential, data string) error {
	c.cmd = c.command(cred, filepath.Join(bin, "postgres"), "-D", data, "-k", c.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")
	log, err := os.Create(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	return nil
}

// command runs name in the cluster directory as cred's user, and has the
// kernel stop the server (SIGQUIT: immediate shutdown) if the test binary
// dies without calling Main's cleanup.
func (c *cluster) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// credential returns nobody's credentials when running as root, nil else.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no user nobody to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// wait polls until the server accepts connections.
func (c *cluster) wait() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.exec("SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case exit := <-c.done:
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("postgres exited (%v):\n%s", exit, log)
		default:
		}
		if time.Now().After(deadline) {
			c.stop()
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts a started cluster down (fast shutdown) and removes its files.
func (c *cluster) stop() error {
	if c.cmd == nil {
		return nil
	}
	defer os.RemoveAll(c.dir)
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		return errors.New("postgres did not stop within 15s; killed")
	}
}

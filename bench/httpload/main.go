// Command httpload drives byok's HTTP data plane over loopback with
// concurrent keep-alive clients and reports requests per second, records per
// second and latency percentiles, with the CPU used by itself and (given
// -server-pid) by the server, so that on a small machine the split between
// load generator and server shows.
//
//	httpload -url http://127.0.0.1:8080 -token "$BYOK_TOKEN" -tenant demo -batch 1
//	httpload ... -batch 100
//
// bench/run.sh http starts `byok dev` in its own process and runs both.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	url, token, tenant string
	batch, size, conc  int
	duration, warmup   time.Duration
	serverPID          int
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the API's base URL")
	flag.StringVar(&c.token, "token", os.Getenv("BYOK_TOKEN"), "a bearer token allowed to encrypt for -tenant (default $BYOK_TOKEN)")
	flag.StringVar(&c.tenant, "tenant", "demo", "the tenant to encrypt for")
	flag.IntVar(&c.batch, "batch", 1, "records per request: 1 uses the single-record route, more the batch route")
	flag.IntVar(&c.size, "size", 1024, "plaintext bytes per record")
	flag.IntVar(&c.conc, "c", 16, "concurrent keep-alive connections")
	flag.DurationVar(&c.duration, "d", 10*time.Second, "measured duration")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured warm-up before it")
	flag.IntVar(&c.serverPID, "server-pid", 0, "the server's process id, to report its CPU use")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "httpload: error:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	url, body := request(c)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.conc, DisableCompression: true}}
	l := &load{client: client, url: url, auth: "Bearer " + c.token, body: body}
	if err := l.check(c.batch); err != nil {
		return err
	}
	l.drive(c.conc, c.warmup)
	cpu0, srv0 := selfCPU(), procCPU(c.serverPID)
	start := time.Now()
	lat, err := l.drive(c.conc, c.duration)
	wall := time.Since(start)
	if err != nil {
		return err
	}
	cpu, srv := selfCPU()-cpu0, procCPU(c.serverPID)-srv0
	report(c, lat, wall, cpu, srv)
	return nil
}

// request returns the route and a body of c.batch random-looking records.
func request(c config) (string, []byte) {
	pt := make([]byte, c.size)
	for i := range pt {
		pt[i] = byte(i*7 + 3)
	}
	rec := `{"plaintext":"` + base64.StdEncoding.EncodeToString(pt) + `"}`
	base := strings.TrimRight(c.url, "/") + "/v1/tenants/" + c.tenant
	if c.batch <= 1 {
		return base + "/encrypt", []byte(rec)
	}
	recs := slices.Repeat([]string{rec}, c.batch)
	return base + "/encrypt/batch", []byte(`{"records":[` + strings.Join(recs, ",") + `]}`)
}

type load struct {
	client    *http.Client
	url, auth string
	body      []byte
}

// check sends one request and makes sure the answer holds a ciphertext for
// each record, so that a run never measures a server answering something
// else.
func (l *load) check(records int) error {
	req, err := http.NewRequest("POST", l.url, bytes.NewReader(l.body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", l.auth)
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Ciphertext []byte `json:"ciphertext"`
		Results    []struct {
			Ciphertext []byte `json:"ciphertext"`
		} `json:"results"`
	}
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", l.url, resp.Status, bytes.TrimSpace(msg))
	}
	if err := json.Unmarshal(msg, &out); err != nil {
		return fmt.Errorf("%s: %w", l.url, err)
	}
	got := len(out.Results)
	for _, r := range out.Results {
		if len(r.Ciphertext) == 0 {
			got--
		}
	}
	if records == 1 && len(out.Ciphertext) > 0 {
		got = 1
	}
	if got != records {
		return fmt.Errorf("%s: %d ciphertexts in the answer for %d records", l.url, got, records)
	}
	return nil
}

// once sends one request and fails on anything but 200, so a wrong token
// or tenant stops the run before it measures errors.
func (l *load) once() error {
	req, err := http.NewRequest("POST", l.url, bytes.NewReader(l.body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", l.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("%s: %s: %s", l.url, resp.Status, bytes.TrimSpace(msg))
	}
	// Like wrk and hey, the answer is read but not parsed: the generator's
	// CPU is the server's to use. check looks at the first answer whole.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// drive runs conc workers for d and returns every request's latency.
func (l *load) drive(conc int, d time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(d)
	lats := make([][]time.Duration, conc)
	errs := make([]error, conc)
	var wg sync.WaitGroup
	for i := range conc {
		wg.Go(func() { lats[i], errs[i] = l.worker(deadline) })
	}
	wg.Wait()
	return slices.Concat(lats...), errors.Join(errs...)
}

func (l *load) worker(deadline time.Time) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, 1<<16)
	for {
		start := time.Now()
		if !start.Before(deadline) {
			return lat, nil
		}
		if err := l.once(); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(start))
	}
}

func report(c config, lat []time.Duration, wall, cpu, srv time.Duration) {
	slices.Sort(lat)
	rps := float64(len(lat)) / wall.Seconds()
	fmt.Printf("records/request=%d size=%dB conns=%d requests=%d req/s=%.0f records/s=%.0f p50=%v p99=%v client_cpu=%.2f cores",
		c.batch, c.size, c.conc, len(lat), rps, rps*float64(c.batch), pct(lat, 50), pct(lat, 99), cpu.Seconds()/wall.Seconds())
	if c.serverPID != 0 {
		fmt.Printf(" server_cpu=%.2f cores", srv.Seconds()/wall.Seconds())
	}
	fmt.Println()
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100].Round(time.Microsecond)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU reads a process's user and system time from /proc (Linux; clock
// ticks of 1/100 s, the kernel's USER_HZ); 0 without a pid.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

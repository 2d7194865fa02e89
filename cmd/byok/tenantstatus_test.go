package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/byok-dev/byok/client"
)

// byokCLI runs one byok command against the dev server r with token and
// returns its exit code, stdout and stderr.
func byokCLI(r *devRun, token string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	args = append(args, "--url", "http://"+r.api, "--token", token)
	return run(context.Background(), c, args), out.String(), errOut.String()
}

// Through the binary: a tenant whose key the customer disabled is shown
// key_unavailable with the reason and since when, and a restore is refused
// with a hint, since the monitor brings it back by itself; once the key is
// back the tenant is active again without a restore.
func TestTenantStatusKeyUnavailable(t *testing.T) {
	r := startDev(t, t.TempDir())
	defer r.stop()
	m := []string{"", r.env(t)["BYOK_TOKEN"]}
	c, err := client.New(client.Config{URL: "http://" + r.api, Token: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	setKey(t, r.emu, "disable")
	waitRefused(t, c, r)
	code, out, _ := byokCLI(r, m[1], "tenant", "status", devTenant)
	for _, want := range []string{"state:              key_unavailable", "reason:             key_disabled", "halted:             no"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("byok tenant status = %d\n%s\nwant %q", code, out, want)
		}
	}
	if strings.Contains(out, "unavailable since:  -") || !strings.Contains(out, "unavailable  key_disabled") {
		t.Errorf("byok tenant status does not say since when, or lacks the failed probe:\n%s", out)
	}
	code, _, errOut := byokCLI(r, m[1], "tenant", "restore", devTenant)
	if code != exitRefused || !strings.Contains(errOut, "byok: error: tenant_not_archived: tenant demo is key_unavailable and not archived") ||
		!strings.Contains(errOut, "byok: hint: ") {
		t.Errorf("byok tenant restore (key_unavailable) = %d\n%s\nwant exit %d, tenant_not_archived and a hint", code, errOut, exitRefused)
	}
	setKey(t, r.emu, "enable")
	waitServed(t, c, r)
	code, out, _ = byokCLI(r, m[1], "tenant", "status", "--json", devTenant)
	if code != exitOK || !strings.Contains(out, `"state": "active"`) || strings.Contains(out, `"reason"`) {
		t.Errorf("byok tenant status --json after the key came back = %d\n%s\nwant active without a reason", code, out)
	}
}

package auth

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/auth.md's permission table from rolePermissions")

const (
	authDoc      = "../../docs/auth.md"
	tableSection = "### Permissions"
)

// actionDocs says what each action lets a caller do, for the table.
var actionDocs = map[Action]string{
	TenantCreate:   "create tenants",
	TenantList:     "list tenants",
	TenantRead:     "read a tenant: its state, health, keys, regions, status, receipt and key change",
	TenantUpdate:   "rename a tenant",
	KeyArtifacts:   "get the key policy and role artifacts",
	KeyAttach:      "attach a key, add a region",
	KeyValidate:    "validate the attached key",
	KeyEnable:      "enable the tenant on its key",
	KeyRotate:      "rotate the tenant's data keys",
	KeyChange:      "change a region's key",
	TenantOffboard: "offboard a tenant",
	TenantRestore:  "restore an archived tenant",
	TenantPolicy:   "set a tenant's policy overrides",
	DataEncrypt:    "encrypt records and streams",
	DataDecrypt:    "decrypt records and streams",
	AuditRead:      "read and export the audit log",
	WebhookManage:  "subscribe and remove webhooks",
	WebhookRead:    "list webhooks and read their deliveries",
	TokenManage:    "issue, list and revoke API tokens (of the roles below)",
	PlatformRead:   "no route takes this action yet",
}

// cell says where role may take a: "yes" (platform-wide, and on its own
// tenant when scoped), "platform-wide" (only unscoped), or "—".
func cell(role Role, a Action) string {
	wide := Allowed(&Principal{Role: role}, a, "acme") == nil
	scoped := Allowed(&Principal{Role: role, Tenant: "acme"}, a, "acme") == nil
	switch {
	case wide && (scoped || platformOnly(role)):
		return "yes"
	case wide:
		return "platform-wide"
	case scoped:
		return "own tenant only"
	}
	return "—"
}

// tokenCell says whether role may issue, list and revoke tokens of the
// given roles, which must all answer alike.
func tokenCell(t *testing.T, role Role, of []Role) string {
	var out string
	for i, r := range of {
		c := "—"
		if CanIssue(&Principal{Role: role}, r) == nil {
			c = "yes"
		}
		if i > 0 && c != out {
			t.Fatalf("%s may manage tokens of some of %v and not others: give them rows of their own", role, of)
		}
		out = c
	}
	return out
}

func row(cells ...string) string { return "| " + strings.Join(cells, " | ") + " |" }

// permissionTable is the table rolePermissions, platformActions,
// platformOnly and CanIssue make.
func permissionTable(t *testing.T) []string {
	head := []string{"Action", "Allows"}
	scope := []string{"scope", "where the token acts"}
	for _, r := range Roles {
		head = append(head, "`"+string(r)+"`")
		if platformOnly(r) {
			scope = append(scope, "platform-wide")
		} else {
			scope = append(scope, "one tenant or platform")
		}
	}
	out := []string{row(head...), "|" + strings.Repeat("---|", len(head)), row(scope...)}
	for _, a := range Actions {
		what, ok := actionDocs[a]
		if !ok {
			t.Fatalf("action %s has no entry in actionDocs", a)
		}
		cells := []string{"`" + string(a) + "`", what}
		for _, r := range Roles {
			cells = append(cells, cell(r, a))
		}
		out = append(out, row(cells...))
	}
	var others []Role
	for _, r := range Roles {
		if r != RoleOwner {
			others = append(others, r)
		}
	}
	for _, g := range []struct {
		name string
		of   []Role
	}{{"`owner` tokens", []Role{RoleOwner}}, {"tokens of the other roles", others}} {
		cells := []string{g.name, "issue, list (see them at all) and revoke them"}
		for _, r := range Roles {
			cells = append(cells, tokenCell(t, r, g.of))
		}
		out = append(out, row(cells...))
	}
	return out
}

// TestRoleDocTable fails when docs/auth.md's permission table (the first
// table under "### Permissions") differs from what the roles may do. With
// -update it rewrites the table instead.
func TestRoleDocTable(t *testing.T) {
	b, err := os.ReadFile(authDoc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start, end := -1, -1
	for i, l := range lines {
		if l == tableSection {
			start = i
		}
		if start >= 0 && strings.HasPrefix(l, "|") {
			start = i
			break
		}
	}
	if start < 0 || !strings.HasPrefix(lines[start], "|") {
		t.Fatalf("%s: no table under %q", authDoc, tableSection)
	}
	for end = start; end < len(lines) && strings.HasPrefix(lines[end], "|"); end++ {
	}
	want := permissionTable(t)
	if *update {
		out := append(append(append([]string{}, lines[:start]...), want...), lines[end:]...)
		if err := os.WriteFile(authDoc, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got := lines[start:end]
	for i := range max(len(got), len(want)) {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s line %d:\n got %s\nwant %s", authDoc, start+i+1, g, w)
		}
	}
	if t.Failed() {
		t.Log("rewrite the table with: go generate ./internal/auth")
	}
}

package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

func TestExport(t *testing.T) {
	s, _ := openSQLite(t)
	c := &clock{now: t0}
	l := newLog(t, s, c)
	e := control("acme", "kms.Decrypt")
	e.KMSRequestID = "5fd1c2a7-aws"
	mustRecord(t, l, e)
	c.Set(t0.Add(time.Hour))
	mustRecord(t, l, control("acme", "key.rotate"))
	var buf bytes.Buffer
	if err := l.Export(ctx, acme, time.Time{}, time.Time{}, &buf); err != nil {
		t.Fatal(err)
	}
	lines := exportLines(t, buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("exported %d lines, want 2", len(lines))
	}
	first := lines[0]
	if first["time"] != "2026-11-22T12:00:05Z" || first["kms_request_id"] != "5fd1c2a7-aws" || first["action"] != "kms.Decrypt" ||
		first["seq"] != 1.0 || first["tenant"] != "acme" || first["outcome"] != "ok" || first["count"] != 1.0 {
		t.Errorf("first line = %v", first)
	}
	rows, _ := s.AuditRows(ctx, acme, 0, 0)
	if lines[1]["hash"] != hex.EncodeToString(rows[1].Hash) || lines[1]["prev"] != hex.EncodeToString(rows[0].Hash) {
		t.Errorf("second line's hash and prev do not match the chain: %v", lines[1])
	}
	buf.Reset()
	if err := l.Export(ctx, acme, t0.Add(time.Minute), t0.Add(2*time.Hour), &buf); err != nil {
		t.Fatal(err)
	}
	if got := exportLines(t, buf.Bytes()); len(got) != 1 || got[0]["action"] != "key.rotate" {
		t.Errorf("Export(from, to) = %v, want the second event only", got)
	}
	if err := l.Export(ctx, "nochain", time.Time{}, time.Time{}, &buf); err == nil {
		t.Error("Export(bad chain name) err = nil")
	}
}

func exportLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestKeyRedacted(t *testing.T) {
	k := testKey(t)
	b, _ := json.Marshal(struct{ K Key }{k})
	if !bytes.Contains(b, []byte("redacted")) || k.String() != "audit.Key([redacted])" {
		t.Errorf("key leaks: %s %s", b, k)
	}
	if !k.Equal(testKey(t)) || k.Equal(mustKey(t, 1)) || (Key{}).Valid() {
		t.Error("Key.Equal or Valid wrong")
	}
}

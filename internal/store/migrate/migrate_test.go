package migrate

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/byok-dev/byok/internal/store"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_two.sql": {Data: []byte("two")},
		"m/0001_one.sql": {Data: []byte("one")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "one" || ms[1].Name != "0002_two.sql" {
		t.Fatalf("Load() = %+v, want 0001 then 0002", ms)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"gap":         {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no number":   {"m/init.sql": {}},
		"short":       {"m/1_init.sql": {}},
		"not sql":     {"m/0001_init.txt": {}},
		"from two":    {"m/0002_b.sql": {}},
		"missing dir": {"other/0001_a.sql": {}},
	}
	for name, fsys := range cases {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("Load(%s) err = nil, want an error", name)
		}
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	for current, want := range map[int]int{0: 3, 1: 2, 3: 0} {
		got, err := Pending(ms, current)
		if err != nil || len(got) != want || (want > 0 && got[0].Version != current+1) {
			t.Errorf("Pending(%d) = %+v, %v; want %d from version %d", current, got, err, want, current+1)
		}
	}
	_, err := Pending(ms, 4)
	if !errors.Is(err, store.ErrSchemaTooNew) || store.Code(err) != "schema_too_new" {
		t.Fatalf("Pending(newer) err = %v, want ErrSchemaTooNew", err)
	}
	if _, err := Pending(ms, -1); err == nil {
		t.Fatal("Pending(-1) err = nil, want an error")
	}
}

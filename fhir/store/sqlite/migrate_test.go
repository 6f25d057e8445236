package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// TestMigrateSearchOverData applies 0002_search to resources written under
// 0001: the table is rebuilt with rids in creation order, and keeps working.
func TestMigrateSearchOverData(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.apply(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	// b is created first and updated last.
	for _, v := range []struct {
		id      string
		version int
	}{{"b", 1}, {"a", 1}, {"c", 1}, {"b", 2}} {
		var seq int64
		err := s.w.QueryRowContext(ctx, `INSERT INTO resource_version (res_type, res_id, version, last_updated, deleted, method, body)
VALUES ('Patient', ?1, ?2, 1, 0, 'POST', x'7b7d') RETURNING seq`, v.id, v.version).Scan(&seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO resource (res_type, res_id, version, seq, last_updated, deleted) VALUES ('Patient', ?1, ?2, ?3, 1, 0)
ON CONFLICT (res_type, res_id) DO UPDATE SET version = excluded.version, seq = excluded.seq`, v.id, v.version, seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate over data: %v", err)
	}
	if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.Put(ctx, store.Resource{Type: "Patient", ID: "d", VersionID: 1, Method: "POST", LastUpdated: time.Now(), Body: []byte(`{}`),
			Index: &search.Index{Tokens: []search.TokenRow{{Param: "gender", Code: "male"}}}})
	}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Read(ctx, "Patient", "b"); err != nil || r.VersionID != 2 {
		t.Fatalf("Read(b) = version %d, %v; want version 2", r.VersionID, err)
	}
	p, err := s.Search(ctx, search.Query{Types: []string{"Patient"}, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, m := range p.Matches {
		got = append(got, m.ID)
		if m.Key != int64(i+1) {
			t.Errorf("%s has key %d, want %d", m.ID, m.Key, i+1)
		}
	}
	if got, want := strings.Join(got, " "), "b a c d"; got != want {
		t.Errorf("order after migration = %s, want %s", got, want)
	}
}

package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
)

// TestMigrateSearchOverData applies 0002_search to resources written under
// 0001: they get rids in creation order, and keep working.
func TestMigrateSearchOverData(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// b is created first but updated last: its row is rewritten at the
	// end of the heap, and still numbered first.
	for _, v := range []struct {
		id      string
		version int
	}{{"b", 1}, {"a", 1}, {"c", 1}, {"b", 2}} {
		_, err := conn.Exec(ctx, `WITH v AS (
	INSERT INTO resource_version (res_type, res_id, version, last_updated, deleted, method, body)
	VALUES ('Patient', $1, $2, now(), false, 'POST', '{}') RETURNING seq)
INSERT INTO resource (res_type, res_id, version, seq, last_updated, deleted) SELECT 'Patient', $1, $2, seq, now(), false FROM v
ON CONFLICT (res_type, res_id) DO UPDATE SET version = excluded.version, seq = excluded.seq`, v.id, v.version)
		if err != nil {
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

package fhir_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

func TestReindex(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"postgres", func(t *testing.T) store.Store { return pgtest.Open(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testReindex(t, tc.open(t))
		})
	}
}

func testReindex(t *testing.T, st store.Store) {
	ctx := t.Context()
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Written by a server that indexed nothing: as if the definitions
	// had no parameters then.
	unindexed := &fhir.Service{Store: st}
	indexed := &fhir.Service{Store: st, Registry: reg}
	const n = 23
	for i := range n {
		body := strings.Replace(vitalSigns, `"Patient/p1"`, fmt.Sprintf(`"Patient/p%d"`, i%3), 1)
		if _, err := unindexed.Create(ctx, "Observation", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := unindexed.Update(ctx, "Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Reindexed"}]}`), fhir.Preconditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := unindexed.Update(ctx, "Patient", "gone", []byte(`{"resourceType":"Patient","id":"gone","name":[{"family":"Reindexed"}]}`), fhir.Preconditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := unindexed.Delete(ctx, "Patient", "gone", fhir.Preconditions{}); err != nil {
		t.Fatal(err)
	}
	count := func(typ, query string) int {
		t.Helper()
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		res, err := indexed.Search(ctx, fhir.SearchRequest{Type: typ, Params: v, DefaultCount: 100, MaxCount: 100})
		if err != nil {
			t.Fatalf("search %s?%s: %v", typ, query, err)
		}
		return len(res.Page.Matches)
	}
	if got := count("Observation", "code=http://loinc.org|85354-9"); got != 0 {
		t.Fatalf("before reindex: %d matches, want 0", got)
	}

	var calls int
	stats, err := fhir.Reindex(ctx, st, reg, fhir.ReindexOptions{Batch: 5, Writers: 2, Progress: func(fhir.ReindexStats) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Scanned != n+1 || stats.Reindexed != n+1 || stats.Skipped != 0 || stats.Failed != 0 {
		t.Errorf("stats = %+v, want %d scanned and reindexed", stats, n+1)
	}
	if calls != 5 { // 24 resources in batches of 5
		t.Errorf("Progress called %d times, want 5", calls)
	}
	for _, q := range []struct {
		typ, query string
		want       int
	}{
		{"Observation", "code=http://loinc.org|85354-9", n},
		{"Observation", "subject=Patient/p1", 8},
		{"Observation", "component-code-value-quantity=http://loinc.org|8480-6$128", n},
		{"Patient", "name=reindexed", 1},
	} {
		if got := count(q.typ, q.query); got != q.want {
			t.Errorf("after reindex, %s?%s: %d matches, want %d", q.typ, q.query, got, q.want)
		}
	}
	// One type only; the versions are unchanged.
	stats, err = fhir.Reindex(ctx, st, reg, fhir.ReindexOptions{Type: "Patient"})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Scanned != 1 || stats.Reindexed != 1 {
		t.Errorf("Patient reindex stats = %+v", stats)
	}
	r, err := st.Read(ctx, "Patient", "p1")
	if err != nil || r.VersionID != 1 {
		t.Errorf("Patient/p1 after reindex: version %d, %v", r.VersionID, err)
	}
}

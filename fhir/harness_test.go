package fhir_test

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

// testBase is the base URL the services under test are built with.
const testBase = "http://fhir.test/base"

// eachStore runs f, in parallel subtests, against a Service over each
// store: a fresh embedded store, and a fresh Postgres schema (skipped
// locally without Postgres, required when CI=true).
func eachStore(t *testing.T, f func(t *testing.T, svc *fhir.Service)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", openSQLite},
		{"postgres", func(t *testing.T) store.Store { return pgtest.Open(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f(t, newService(t, tc.open(t)))
		})
	}
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

func newService(t *testing.T, st store.Store) *fhir.Service {
	t.Helper()
	reg, err := search.NewRegistry(search.Options{BaseURL: testBase})
	if err != nil {
		t.Fatal(err)
	}
	return &fhir.Service{Store: st, Registry: reg}
}

// decode unmarshals a stored body.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("stored body is not JSON (%v): %s", err, b)
	}
	return m
}

// count is how many current resources of typ match the query.
func count(t *testing.T, svc *fhir.Service, typ, query string) int {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	params.Set("_summary", "count")
	res, err := svc.Search(t.Context(), fhir.SearchRequest{Type: typ, Params: params, DefaultCount: 10, MaxCount: 100})
	if err != nil {
		t.Fatalf("search %s?%s: %v", typ, query, err)
	}
	return res.Page.Total
}

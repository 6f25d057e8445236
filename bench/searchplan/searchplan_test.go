package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/search"
)

// TestBenchmarkQueriesParse: every query of bench/search-queries.tsv is
// understood in full by the Registry (strict: nothing ignored), as the
// benchmark means it.
func TestBenchmarkQueriesParse(t *testing.T) {
	qs, err := readQueries("../search-queries.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 5 {
		t.Fatalf("only %d queries", len(qs))
	}
	reg, err := search.NewRegistry(search.Options{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		sq, err := parse(reg, strings.ReplaceAll(q.path, "{patient}", "0189cf2c-a6a2-7356-b721-9997bcc14af2"), 50, 1000)
		if err != nil {
			t.Errorf("%s: %v", q.name, err)
			continue
		}
		if strings.Contains(q.path, "_summary=count") != (sq.Count == 0 && sq.Total == search.TotalAccurate) {
			t.Errorf("%s: count %d, total %v", q.name, sq.Count, sq.Total)
		}
	}
}

func TestSeqScans(t *testing.T) {
	plan := `Limit
  ->  Seq Scan on idx_token x  (cost=0.00..1.00 rows=1 width=8)
  ->  Parallel Seq Scan on resource r
  ->  Seq Scan on schema_migrations
  ->  Index Scan using idx_token_rid on idx_token x2
  ->  Seq Scan on idx_token x3`
	if got, want := seqScans(plan), []string{"idx_token", "resource"}; !slices.Equal(got, want) {
		t.Fatalf("seqScans = %q, want %q", got, want)
	}
	if got := seqScans("Index Only Scan using resource_type_rid on resource r"); len(got) != 0 {
		t.Fatalf("index scan reported as %q", got)
	}
}

func TestKindOf(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT count(*) FROM (\nSELECT 1 FROM resource r) c":                                                   "count",
		"SELECT p.rid, p.res_type FROM (SELECT ...) p JOIN resource_version v ON v.seq = p.seq":                 "page",
		"SELECT r.rid FROM resource r WHERE EXISTS (... x.target_type = r.res_type AND x.target_id = r.res_id)": "include",
		"SELECT r.rid FROM resource r WHERE EXISTS (... (x.target_id, x.target_type) IN (VALUES ($1, $2)))":     "revinclude",
	} {
		if got := kindOf(sql); got != want {
			t.Errorf("kindOf(%.40q) = %s, want %s", sql, got, want)
		}
	}
}

package search_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite/sqlitetest"
	"github.com/telefhir/telefhir/internal/synth"
)

// TestMatchesAgreesWithStores writes a synthetic data set to each store
// and checks, for 500 searches (40 on SQLite under the race detector)
// built from the data's own
// index rows with every prefix and modifier, that the in-memory matcher
// selects exactly the resources the store's SQL search returns.
func TestMatchesAgreesWithStores(t *testing.T) {
	reg, err := search.NewRegistry(search.Options{BaseURL: "https://fhir.example.org/fhir"})
	if err != nil {
		t.Fatal(err)
	}
	data := dataset(t, reg)
	queries := queriesFor(t, reg, data)
	sqliteQueries := queries
	if raceEnabled {
		sqliteQueries = queries[:40]
	}
	for _, tc := range []struct {
		name    string
		open    func(t *testing.T) store.Store
		queries []testQuery
	}{
		{"sqlite", func(t *testing.T) store.Store { return sqlitetest.Open(t) }, sqliteQueries},
		{"postgres", func(t *testing.T) store.Store { return pgtest.Open(t) }, queries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			load(t, s, data)
			nonEmpty, partial := 0, 0
			queries := tc.queries
			for _, q := range queries {
				want := searchAll(t, s, q.query)
				var got []string
				for _, d := range data {
					ok, err := search.Matches(&q.query, &d)
					if err != nil {
						t.Fatalf("%s: Matches: %v", q.text, err)
					}
					if ok {
						got = append(got, d.Type+"/"+d.ID)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s: matcher selects %d resources, the store %d\nmatcher only: %v\nstore only: %v",
						q.text, len(got), len(want), minus(got, want), minus(want, got))
				}
				if len(want) > 0 {
					nonEmpty++
				}
				if len(want) > 0 && len(want) < q.ofType {
					partial++
				}
			}
			// The searches must discriminate, or the comparison proves little.
			if nonEmpty < len(queries)/2 || partial < len(queries)/3 {
				t.Errorf("of %d searches only %d match something and %d match some but not all", len(queries), nonEmpty, partial)
			}
			t.Logf("%d searches compared (%d non-empty, %d selective) over %d resources", len(queries), nonEmpty, partial, len(data))
		})
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func dataset(t *testing.T, reg *search.Registry) []search.Target {
	t.Helper()
	g, err := synth.New(synth.Options{Seed: 7, Patients: 12, ObservationsPerPatient: 12})
	if err != nil {
		t.Fatal(err)
	}
	rs := g.Shared()
	for i := range 12 {
		rs = append(rs, g.Patient(i)...)
	}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	out := make([]search.Target, 0, len(rs))
	for i, r := range rs {
		x, err := reg.ExtractJSON(r.Type, r.Body)
		if err != nil {
			t.Fatalf("index %s/%s: %v", r.Type, r.ID, err)
		}
		out = append(out, search.Target{
			Type: r.Type, ID: r.ID, Index: x,
			LastUpdated: base.Add(time.Duration(i) * 37 * time.Minute),
		})
	}
	return out
}

func load(t *testing.T, s store.Store, data []search.Target) {
	t.Helper()
	for _, d := range data {
		r := store.Resource{
			Type: d.Type, ID: d.ID, VersionID: 1, Method: "POST",
			LastUpdated: d.LastUpdated, Index: d.Index,
			Body: fmt.Appendf(nil, `{"resourceType":%q,"id":%q}`, d.Type, d.ID),
		}
		if err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, r) }); err != nil {
			t.Fatal(err)
		}
	}
}

func searchAll(t *testing.T, s store.Store, q search.Query) []string {
	t.Helper()
	q.Count = 500
	var out []string
	for range 100 {
		p, err := s.Search(t.Context(), q)
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		for _, m := range p.Matches {
			out = append(out, m.Type+"/"+m.ID)
		}
		if p.Next == nil {
			slices.Sort(out)
			return out
		}
		q.After = p.Next
	}
	t.Fatal("search paging does not end")
	return nil
}

// maxQueries is how many of the searches built are compared.
const maxQueries = 500

type testQuery struct {
	text   string
	query  search.Query
	ofType int // resources of the searched type
}

// queriesFor builds searches from the index rows of a sample of the data,
// so that values exist, with every prefix and modifier of each type.
func queriesFor(t *testing.T, reg *search.Registry, data []search.Target) []testQuery {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ofType := map[string]int{}
	for _, d := range data {
		ofType[d.Type]++
	}
	seen := map[string]bool{}
	var out []testQuery
	add := func(typ, param, value string) {
		k := typ + "?" + param + "=" + value
		if seen[k] || strings.Contains(param, ":identifier") || strings.Contains(param, ":of-type") {
			return
		}
		seen[k] = true
		q, _, err := reg.Parse(typ, url.Values{param: {value}}, search.ParseOptions{MaxCount: 500})
		if err != nil || len(q.Where) == 0 {
			return // not a searchable parameter or value: nothing to compare
		}
		out = append(out, testQuery{text: k, query: q, ofType: ofType[typ]})
	}
	prefixes := []string{"", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}
	for i := 0; i < len(data); i += 1 + rng.IntN(6) {
		d := data[i]
		x := d.Index
		for _, r := range x.Tokens {
			if strings.Contains(r.Param, "$") {
				continue
			}
			add(d.Type, r.Param, r.System+"|"+r.Code)
			add(d.Type, r.Param, r.Code)
			add(d.Type, r.Param+":not", r.Code)
			add(d.Type, r.Param, r.System+"|")
			if r.Text != "" {
				add(d.Type, r.Param+":text", cut(r.Text, 4))
			}
		}
		for _, r := range x.Strings {
			if strings.Contains(r.Param, "$") {
				continue
			}
			add(d.Type, r.Param, cut(r.Norm, 3))
			add(d.Type, r.Param+":exact", r.Exact)
			if n := utf8.RuneCountInString(r.Norm); n > 4 {
				add(d.Type, r.Param+":contains", string([]rune(r.Norm)[1:4]))
			}
		}
		for _, r := range x.Dates {
			if strings.Contains(r.Param, "$") || r.Low < 0 || r.Low > 1<<45 {
				continue
			}
			tm := time.UnixMilli(r.Low).UTC()
			for _, p := range prefixes {
				add(d.Type, r.Param, p+tm.Format("2006-01-02"))
			}
			add(d.Type, r.Param, "ge"+tm.Format("2006-01"))
			add(d.Type, r.Param, tm.Format("2006"))
		}
		for _, r := range x.References {
			if strings.Contains(r.Param, "$") {
				continue
			}
			if r.ID != "" {
				add(d.Type, r.Param, r.Type+"/"+r.ID)
				add(d.Type, r.Param, r.ID)
			}
			add(d.Type, r.Param+":missing", "true")
			add(d.Type, r.Param+":missing", "false")
		}
		for _, r := range x.Quantities {
			if strings.Contains(r.Param, "$") {
				continue
			}
			v := strconv.FormatFloat(r.Value, 'f', -1, 64)
			for _, p := range prefixes {
				add(d.Type, r.Param, p+v)
			}
			add(d.Type, r.Param, "ap"+v+"|"+r.System+"|"+r.Code)
			add(d.Type, r.Param, "le"+v+"||"+r.Unit)
			add(d.Type, r.Param, "gt"+v+"|"+r.System+"|"+r.Code)
		}
		for _, r := range x.URIs {
			add(d.Type, r.Param, r.URI)
			add(d.Type, r.Param+":below", cut(r.URI, 10))
		}
		add(d.Type, "_id", d.ID)
		add(d.Type, "_lastUpdated", "ge"+d.LastUpdated.Format("2006-01-02T15:04:05Z"))
		add(d.Type, "_lastUpdated", "lt"+d.LastUpdated.Format("2006-01-02"))
	}
	// Composites, OR lists and several clauses.
	add("Observation", "code-value-quantity", "http://loinc.org|8867-4$gt80")
	add("Observation", "component-code-value-quantity", "http://loinc.org|8480-6$ge130")
	add("Observation", "code", "8867-4,8310-5,59408-5")
	add("Observation", "value-quantity:missing", "true")
	add("Patient", "gender", "female,other")
	if len(out) < maxQueries {
		t.Fatalf("only %d searches built from the data", len(out))
	}
	// A random sample keeps the test fast; the seed keeps it the same.
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:maxQueries]
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// TestMatchesNeedsStore: chains and _has depend on other resources, which
// the matcher does not have; it says so instead of guessing.
func TestMatchesNeedsStore(t *testing.T) {
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := &search.Target{Type: "Observation", ID: "o", Index: &search.Index{}}
	for _, tc := range []struct{ typ, param, value string }{
		{"Observation", "subject:Patient.name", "smith"},
		{"Patient", "_has:Observation:patient:code", "8867-4"},
	} {
		q, _, err := reg.Parse(tc.typ, url.Values{tc.param: {tc.value}}, search.ParseOptions{})
		if err != nil {
			t.Fatalf("Parse %s=%s: %v", tc.param, tc.value, err)
		}
		target.Type = tc.typ
		if _, err := search.Matches(&q, target); !errors.Is(err, search.ErrNeedsStore) {
			t.Errorf("%s?%s=%s: Matches error %v, want ErrNeedsStore", tc.typ, tc.param, tc.value, err)
		}
	}
	if ok, err := search.Matches(&search.Query{Types: []string{"Patient"}}, &search.Target{Type: "Observation"}); ok || err != nil {
		t.Errorf("a query of another type: Matches = %v, %v; want false, nil", ok, err)
	}
	if _, err := search.Eval([]search.Clause{{}}, *target); err == nil {
		t.Errorf("an empty clause matched without error")
	}
}

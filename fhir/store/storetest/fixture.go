package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// fixture writes resources with hand-built index rows and runs searches
// on them. The rows stand in for what extraction produces; the suite tests
// how stores store and search rows, not how rows are extracted.
type fixture struct {
	t    *testing.T
	s    store.Store
	ss   store.Searcher
	last map[string]store.Resource // current version per Type/id
	tick int
}

func newFixture(t *testing.T, s store.Store) *fixture {
	t.Helper()
	ss, ok := s.(store.Searcher)
	if !ok {
		t.Fatalf("%T does not implement store.Searcher", s)
	}
	return &fixture{t: t, s: s, ss: ss, last: make(map[string]store.Resource)}
}

// next builds the next version of typ/id, last updated one second after
// the previous write of the fixture.
func (f *fixture) next(typ, id string, idx *search.Index) store.Resource {
	f.tick++
	r := version(typ, id, f.last[typ+"/"+id].VersionID+1, at(f.tick))
	r.Index = idx
	return r
}

// put writes the next version of typ/id with rows as its index (any mix
// of search.StringRow, TokenRow, DateRow, ReferenceRow, QuantityRow,
// NumberRow and URIRow).
func (f *fixture) put(typ, id string, rows ...any) store.Resource {
	f.t.Helper()
	r := f.next(typ, id, index(rows...))
	put(f.t, f.s, r)
	f.last[typ+"/"+id] = r
	return r
}

// del writes a delete marker for typ/id; it carries index rows, which the
// store must ignore.
func (f *fixture) del(typ, id string) {
	f.t.Helper()
	f.tick++
	r := deleted(typ, id, f.last[typ+"/"+id].VersionID+1, at(f.tick))
	r.Index = index(token("code", "", "ghost"), str("name", "ghost"))
	put(f.t, f.s, r)
	f.last[typ+"/"+id] = r
}

func (f *fixture) search(q search.Query) search.Page {
	f.t.Helper()
	p, err := f.ss.Search(f.t.Context(), q)
	if err != nil {
		f.t.Fatalf("Search(%s): %v", describe(q), err)
	}
	f.checkMatches(q, p)
	return p
}

// checkMatches checks what every page must satisfy: at most Count
// matches, before the included resources; no resource twice; Next only
// after a full page; each entry as stored (version, time, body, key).
func (f *fixture) checkMatches(q search.Query, p search.Page) {
	f.t.Helper()
	seen := make(map[string]bool)
	n := 0
	for i, m := range p.Matches {
		ref := m.Type + "/" + m.ID
		if seen[ref] {
			f.t.Errorf("Search(%s): %s appears twice", describe(q), ref)
		}
		seen[ref] = true
		if !m.Included {
			n++
			if i > 0 && p.Matches[i-1].Included {
				f.t.Errorf("Search(%s): match %s after an included resource", describe(q), ref)
			}
		}
		if m.Key <= 0 {
			f.t.Errorf("Search(%s): %s has key %d", describe(q), ref, m.Key)
		}
		want, ok := f.last[ref]
		switch {
		case !ok:
			f.t.Errorf("Search(%s): %s was never written", describe(q), ref)
		case want.Deleted:
			f.t.Errorf("Search(%s): %s is deleted", describe(q), ref)
		case m.VersionID != want.VersionID || !m.LastUpdated.Equal(want.LastUpdated) ||
			m.LastUpdated.Location() != time.UTC || !bytes.Equal(m.Body, want.Body):
			f.t.Errorf("Search(%s): %s = version %d at %v %s, want the current version %d at %v %s", describe(q), ref,
				m.VersionID, m.LastUpdated, m.Body, want.VersionID, want.LastUpdated, want.Body)
		}
	}
	if n > q.Count {
		f.t.Errorf("Search(%s): %d matches, more than Count %d", describe(q), n, q.Count)
	}
	if p.Next != nil && n < q.Count {
		f.t.Errorf("Search(%s): Next set after %d of %d matches", describe(q), n, q.Count)
	}
}

// walk follows Next to the end (JSON round-tripping every cursor, as a
// client-held cursor would be, when viaJSON) and returns every match.
// between runs before each page after the first.
func (f *fixture) walk(q search.Query, viaJSON bool, between func(page int)) []search.Match {
	f.t.Helper()
	var all []search.Match
	for page := 0; ; page++ {
		if page > 0 && between != nil {
			between(page)
		}
		p := f.search(q)
		n := 0
		for _, m := range p.Matches {
			if !m.Included {
				all = append(all, m)
				n++
			}
		}
		if page > 0 && n == 0 {
			f.t.Fatalf("Search(%s): page %d reached through Next is empty", describe(q), page)
		}
		if p.Next == nil {
			return all
		}
		if page > 1000 {
			f.t.Fatalf("Search(%s): paging does not end", describe(q))
		}
		next := *p.Next
		if viaJSON {
			b, err := json.Marshal(next)
			if err != nil {
				f.t.Fatal(err)
			}
			next = search.Cursor{}
			if err := json.Unmarshal(b, &next); err != nil {
				f.t.Fatal(err)
			}
		}
		q.After = &next
	}
}

// find returns "Type/id" of every match of q, over all pages.
func (f *fixture) find(q search.Query) []string {
	f.t.Helper()
	if q.Count == 0 {
		q.Count = 100
	}
	return refs(f.walk(q, false, nil))
}

// check compares the matches of q with want, in order, and the accurate
// total of q (counted by a statement of its own) with their number.
func (f *fixture) check(what string, q search.Query, want ...string) {
	f.t.Helper()
	got := f.find(q)
	if diff := cmp.Diff(want, got); diff != "" {
		f.t.Errorf("%s: Search(%s) (-want +got):\n%s", what, describe(q), diff)
	}
	f.checkEval(what, q, got)
	q.Count, q.Total, q.After = 0, search.TotalAccurate, nil
	if p := f.search(q); p.Total != len(want) {
		f.t.Errorf("%s: Search(%s) total = %d, want %d", what, describe(q), p.Total, len(want))
	}
}

// refs lists "Type/id" of ms, with a "+" before included resources.
func refs(ms []search.Match) []string {
	var out []string
	for _, m := range ms {
		s := m.Type + "/" + m.ID
		if m.Included {
			s = "+" + s
		}
		out = append(out, s)
	}
	return out
}

// describe is a short, readable form of q for failure messages.
func describe(q search.Query) string {
	b, _ := json.Marshal(q)
	return string(b)
}

// index builds an Index from rows of any kind.
func index(rows ...any) *search.Index {
	x := &search.Index{}
	for _, r := range rows {
		switch r := r.(type) {
		case search.StringRow:
			x.Strings = append(x.Strings, r)
		case search.TokenRow:
			x.Tokens = append(x.Tokens, r)
		case search.DateRow:
			x.Dates = append(x.Dates, r)
		case search.ReferenceRow:
			x.References = append(x.References, r)
		case search.QuantityRow:
			x.Quantities = append(x.Quantities, r)
		case search.NumberRow:
			x.Numbers = append(x.Numbers, r)
		case search.URIRow:
			x.URIs = append(x.URIs, r)
		default:
			panic(fmt.Sprintf("index: %T is not an index row", r))
		}
	}
	return x
}

// Index rows. The normalised form of a string is its lower case here.
func str(param, v string) search.StringRow {
	return search.StringRow{Param: param, Norm: strings.ToLower(v), Exact: v}
}

func token(param, system, code string) search.TokenRow {
	return search.TokenRow{Param: param, System: system, Code: code}
}

func date(param string, lo, hi int64) search.DateRow {
	return search.DateRow{Param: param, Low: lo, High: hi}
}

func ref(param, typ, id string) search.ReferenceRow {
	return search.ReferenceRow{Param: param, Type: typ, ID: id}
}

func number(param string, v, lo, hi float64) search.NumberRow {
	return search.NumberRow{Param: param, Value: v, Low: lo, High: hi}
}

func uri(param, v string) search.URIRow { return search.URIRow{Param: param, URI: v} }

// Queries. q searches typ ("" for all types) for resources matching every
// clause; c is one clause, matching when any of its predicates does.
func q(typ string, clauses ...search.Clause) search.Query {
	var types []string
	if typ != "" {
		types = []string{typ}
	}
	return search.Query{Types: types, Where: clauses, Count: 100}
}

func c(ps ...search.Predicate) search.Clause { return search.Clause{Or: ps} }

// Predicates.
func tokenP(param, system, code string) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeToken,
		Token: &search.TokenMatch{System: system, SystemSet: system != "", Code: code}}
}

func tokenM(param string, m search.TokenMatch) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeToken, Token: &m}
}

func stringP(param string, mode search.StringMode, v string) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeString, String: &search.StringMatch{Mode: mode, Value: v}}
}

func dateP(param string, pre search.Prefix, lo, hi int64) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeDate, Date: &search.DateMatch{Prefix: pre, Low: lo, High: hi}}
}

func numberP(param string, pre search.Prefix, v, lo, hi float64) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeNumber,
		Number: &search.NumberMatch{Prefix: pre, Value: v, Low: lo, High: hi}}
}

func quantityP(param string, m search.QuantityMatch) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeQuantity, Quantity: &m}
}

func refP(param string, m search.ReferenceMatch) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeReference, Reference: &m}
}

func uriP(param string, m search.URIMatch) search.Predicate {
	return search.Predicate{Param: param, Type: search.TypeURI, URI: &m}
}

func missingP(param string, typ search.Type, missing bool) search.Predicate {
	return search.Predicate{Param: param, Type: typ, Missing: &missing}
}

func notP(p search.Predicate) search.Predicate {
	p.Not = true
	return p
}

func idP(ids ...string) search.Predicate {
	m := &search.TokenMatch{Code: ids[0]}
	if len(ids) > 1 {
		m = &search.TokenMatch{Codes: ids}
	}
	return search.Predicate{Param: search.ParamID, Type: search.TypeToken, Token: m}
}

func lastUpdatedP(pre search.Prefix, lo, hi int64) search.Predicate {
	return search.Predicate{Param: search.ParamLastUpdated, Type: search.TypeDate,
		Date: &search.DateMatch{Prefix: pre, Low: lo, High: hi}}
}

func hasP(typ, param string, clauses ...search.Clause) search.Predicate {
	return search.Predicate{Has: &search.Has{Type: typ, Param: param, Where: clauses}}
}

// ms is an RFC 3339 time with milliseconds as Unix milliseconds.
func ms(s string) int64 {
	t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// span is the inclusive range of Unix milliseconds a date of the given
// precision covers: "2026", "2026-01", "2026-01-01", or a full time with
// seconds ("2026-01-01T10:00:00Z").
func span(s string) (lo, hi int64) {
	for _, l := range []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339, func(t time.Time) time.Time { return t.Add(time.Second) }},
	} {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t.UnixMilli(), l.step(t).UnixMilli() - 1
		}
	}
	panic("span: bad date " + s)
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// searchTests are the store.Searcher conformance tests, run by Run.
var searchTests = []suiteTest{
	{"SearchToken", testSearchToken},
	{"SearchString", testSearchString},
	{"SearchLiteralValues", testSearchLiteralValues},
	{"SearchDatePrefixes", testSearchDatePrefixes},
	{"SearchNumberPrefixes", testSearchNumberPrefixes},
	{"SearchQuantity", testSearchQuantity},
	{"SearchReference", testSearchReference},
	{"SearchChain", testSearchChain},
	{"SearchURI", testSearchURI},
	{"SearchMissing", testSearchMissing},
	{"SearchComposite", testSearchComposite},
	{"SearchHas", testSearchHas},
	{"SearchID", testSearchID},
	{"SearchLastUpdated", testSearchLastUpdated},
	{"SearchTypePredicate", testSearchTypePredicate},
	{"SearchTypes", testSearchTypes},
	{"SearchSort", testSearchSort},
	{"SearchPaging", testSearchPaging},
	{"SearchTotal", testSearchTotal},
	{"SearchInclude", testSearchInclude},
	{"SearchDeleted", testSearchDeleted},
	{"SearchIndexReplaced", testSearchIndexReplaced},
	{"ManyPutsInTx", testManyPutsInTx},
	{"SearchInvalid", testSearchInvalid},
	{"SearchInTx", testSearchInTx},
	{"Lock", testLock},
}

const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	ucum   = "http://unitsofmeasure.org"
)

func testSearchToken(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Observation", "o1", token("code", loinc, "8867-4"), token("code", snomed, "364075005"), token("status", "", "final"),
		search.TokenRow{Param: "combo-code", System: loinc, Code: "8867-4", Text: "heart rate"})
	f.put("Observation", "o2", token("code", loinc, "85354-9"), token("status", "", "final"),
		search.TokenRow{Param: "combo-code", System: loinc, Code: "85354-9", Text: "blood pressure panel"})
	f.put("Observation", "o3", token("code", "", "8867-4"), token("status", "", "amended"))
	f.put("Observation", "o4", token("status", "", "cancelled"))
	f.put("Patient", "p1", token("code", loinc, "8867-4")) // same parameter name, other type

	noSystem := func(code string) search.Predicate {
		return tokenM("code", search.TokenMatch{SystemSet: true, Code: code})
	}
	for _, tc := range []struct {
		what string
		q    search.Query
		want []string
	}{
		{"system|code", q("Observation", c(tokenP("code", loinc, "8867-4"))), []string{"Observation/o1"}},
		{"code in any system", q("Observation", c(tokenP("code", "", "8867-4"))), []string{"Observation/o1", "Observation/o3"}},
		{"|code: no system", q("Observation", c(noSystem("8867-4"))), []string{"Observation/o3"}},
		{"system|: any code", q("Observation", c(tokenM("code", search.TokenMatch{System: loinc, SystemSet: true}))),
			[]string{"Observation/o1", "Observation/o2"}},
		{"other system", q("Observation", c(tokenP("code", snomed, "8867-4"))), nil},
		{"Codes", q("Observation", c(tokenM("code", search.TokenMatch{Codes: []string{"85354-9", "8867-4"}}))),
			[]string{"Observation/o1", "Observation/o2", "Observation/o3"}},
		{"Codes in a system", q("Observation", c(tokenM("code", search.TokenMatch{System: loinc, SystemSet: true, Codes: []string{"85354-9", "8867-4"}}))),
			[]string{"Observation/o1", "Observation/o2"}},
		{":text prefix", q("Observation", c(tokenM("combo-code", search.TokenMatch{Text: "heart"}))), []string{"Observation/o1"}},
		{":text of a later word", q("Observation", c(tokenM("combo-code", search.TokenMatch{Text: "rate"}))), nil},
		{":text whole", q("Observation", c(tokenM("combo-code", search.TokenMatch{Text: "blood pressure panel"}))), []string{"Observation/o2"}},
		{":not matches resources without values too", q("Observation", c(notP(tokenP("code", loinc, "8867-4")))),
			[]string{"Observation/o2", "Observation/o3", "Observation/o4"}},
		{":not of a code some other value has", q("Observation", c(notP(tokenP("code", snomed, "364075005")))),
			[]string{"Observation/o2", "Observation/o3", "Observation/o4"}},
		{"OR", q("Observation", c(tokenP("code", "", "85354-9"), noSystem("8867-4"))), []string{"Observation/o2", "Observation/o3"}},
		{"AND", q("Observation", c(tokenP("code", "", "8867-4")), c(tokenP("status", "", "final"))), []string{"Observation/o1"}},
		{"AND of OR", q("Observation", c(tokenP("status", "", "final"), tokenP("status", "", "amended")), c(notP(tokenP("code", "", "85354-9")))),
			[]string{"Observation/o1", "Observation/o3"}},
		{"AND of two values of one parameter", q("Observation", c(tokenP("code", loinc, "8867-4")), c(tokenP("code", snomed, "364075005"))),
			[]string{"Observation/o1"}},
		{"other type", q("Patient", c(tokenP("code", "", "8867-4"))), []string{"Patient/p1"}},
		{"no clauses", q("Observation"), []string{"Observation/o1", "Observation/o2", "Observation/o3", "Observation/o4"}},
		{"unknown parameter", q("Observation", c(tokenP("nothing", "", "final"))), nil},
		{"case-sensitive code", q("Observation", c(tokenP("status", "", "FINAL"))), nil},
	} {
		f.check(tc.what, tc.q, tc.want...)
	}
}

func testSearchString(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "a", str("name", "Smith"), str("name", "John"))
	f.put("Patient", "b", str("name", "Smithson"))
	f.put("Patient", "c", str("name", "Blacksmith"))
	f.put("Patient", "d", search.StringRow{Param: "name", Norm: "zoe strasse", Exact: "Zoë Ŝtraße"})
	f.put("Patient", "e", str("family", "Smith"))
	f.put("Patient", "f", search.StringRow{Param: "name", Norm: "zoë", Exact: "Zoë"})

	for _, tc := range []struct {
		what string
		mode search.StringMode
		v    string
		want []string
	}{
		{"prefix", search.StringStartsWith, "smi", []string{"Patient/a", "Patient/b"}},
		{"prefix equal to the value", search.StringStartsWith, "smith", []string{"Patient/a", "Patient/b"}},
		{"longer prefix", search.StringStartsWith, "smiths", []string{"Patient/b"}},
		{"second value", search.StringStartsWith, "jo", []string{"Patient/a"}},
		{"one letter", search.StringStartsWith, "z", []string{"Patient/d", "Patient/f"}},
		{"prefix ending in a multi-byte rune", search.StringStartsWith, "zoë", []string{"Patient/f"}},
		{"prefix not at the start", search.StringStartsWith, "mith", nil},
		{"exact", search.StringExact, "Smith", []string{"Patient/a"}},
		{"exact is case-sensitive", search.StringExact, "smith", nil},
		{"exact is not a prefix", search.StringExact, "Smi", nil},
		{"exact with accents", search.StringExact, "Zoë Ŝtraße", []string{"Patient/d"}},
		{"contains", search.StringContains, "smith", []string{"Patient/a", "Patient/b", "Patient/c"}},
		{"contains in the middle", search.StringContains, "mit", []string{"Patient/a", "Patient/b", "Patient/c"}},
		{"contains across words", search.StringContains, "e str", []string{"Patient/d"}},
		{"contains nothing", search.StringContains, "xyz", nil},
	} {
		f.check(tc.what, q("Patient", c(stringP("name", tc.mode, tc.v))), tc.want...)
	}
	f.check("not", q("Patient", c(notP(stringP("name", search.StringStartsWith, "smith")))), "Patient/c", "Patient/d", "Patient/e", "Patient/f")
}

// testSearchLiteralValues checks that values are bound, not spliced into
// SQL, and that LIKE wildcards in them match only themselves.
func testSearchLiteralValues(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "a", str("name", "100% pure"), token("identifier", "urn:x", "a_b"), uri("url", "http://x.org/a_b%"))
	f.put("Patient", "b", str("name", "100x pure"), token("identifier", "urn:x", "axb"), uri("url", "http://x.org/axbx"))
	f.put("Patient", "c", str("name", "o'brien"), token("identifier", "urn:x", "o'b"))
	f.put("Patient", "d", str("name", `back\slash`), token("identifier", "urn:x", `a\b`))
	f.put("Patient", "e", str("name", "50_50"))
	f.put("Patient", "f", str("name", "5005"))
	f.put("Patient", "g", str("name", `x\%y`))

	for _, tc := range []struct {
		what string
		p    search.Predicate
		want []string
	}{
		{"contains %", stringP("name", search.StringContains, "%"), []string{"Patient/a", "Patient/g"}},
		{"contains 0% p", stringP("name", search.StringContains, "0% p"), []string{"Patient/a"}},
		{"prefix 100%", stringP("name", search.StringStartsWith, "100%"), []string{"Patient/a"}},
		{"contains _", stringP("name", search.StringContains, "_"), []string{"Patient/e"}},
		{"contains 0_5", stringP("name", search.StringContains, "0_5"), []string{"Patient/e"}},
		{"prefix 50_", stringP("name", search.StringStartsWith, "50_"), []string{"Patient/e"}},
		{"contains '", stringP("name", search.StringContains, "'"), []string{"Patient/c"}},
		{"exact with '", stringP("name", search.StringExact, "o'brien"), []string{"Patient/c"}},
		{"prefix o'", stringP("name", search.StringStartsWith, "o'"), []string{"Patient/c"}},
		{`contains \`, stringP("name", search.StringContains, `\`), []string{"Patient/d", "Patient/g"}},
		{`contains \s`, stringP("name", search.StringContains, `\s`), []string{"Patient/d"}},
		{`contains \%`, stringP("name", search.StringContains, `\%`), []string{"Patient/g"}},
		{`prefix back\`, stringP("name", search.StringStartsWith, `back\`), []string{"Patient/d"}},
		{`exact back\slash`, stringP("name", search.StringExact, `back\slash`), []string{"Patient/d"}},
		{"SQL in a value", stringP("name", search.StringContains, "' OR '1'='1"), nil},
		{"token a_b", tokenP("identifier", "urn:x", "a_b"), []string{"Patient/a"}},
		{"token o'b", tokenP("identifier", "urn:x", "o'b"), []string{"Patient/c"}},
		{`token a\b`, tokenP("identifier", "urn:x", `a\b`), []string{"Patient/d"}},
		{"uri below with _ and %", uriP("url", search.URIMatch{Value: "http://x.org/a_b%", Below: true}), []string{"Patient/a"}},
		{"uri below a_", uriP("url", search.URIMatch{Value: "http://x.org/a_", Below: true}), []string{"Patient/a"}},
		{"uri above with _ and %", uriP("url", search.URIMatch{Value: "http://x.org/a_b%/c", Above: true}), []string{"Patient/a"}},
	} {
		f.check(tc.what, q("Patient", c(tc.p)), tc.want...)
	}
}

func testSearchDatePrefixes(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	instant := func(s string) search.DateRow { return date("date", ms(s), ms(s)) }
	dayLo, dayHi := span("2026-01-01")
	monLo, monHi := span("2026-01")
	f.put("Observation", "d1", instant("2026-01-01T10:00:00.000Z"))
	f.put("Observation", "d2", date("date", dayLo, dayHi)) // the day 2026-01-01
	f.put("Observation", "d3", date("date", monLo, monHi)) // the month 2026-01
	f.put("Observation", "d4", instant("2025-12-31T23:59:59.999Z"))
	f.put("Observation", "d5", instant("2026-01-02T00:00:00.000Z"))
	f.put("Observation", "d6", date("date", ms("2025-12-31T22:00:00.000Z"), ms("2026-01-01T02:00:00.000Z")))
	f.put("Observation", "d7", date("date", ms("2026-01-01T12:00:00.000Z"), math.MaxInt64)) // open end
	f.put("Observation", "d8", date("date", math.MinInt64, ms("2025-06-01T00:00:00.000Z"))) // open start
	f.put("Observation", "d9", token("code", "", "no-date"))
	o := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "Observation/" + id
		}
		return out
	}
	for _, tc := range []struct {
		value string // searched date, at its precision
		pre   search.Prefix
		want  []string
	}{
		{"2026-01-01", "", o("d1", "d2")},
		{"2026-01-01", search.Eq, o("d1", "d2")},
		{"2026-01-01", search.Ne, o("d3", "d4", "d5", "d6", "d7", "d8")},
		{"2026-01-01", search.Gt, o("d3", "d5", "d7")},
		{"2026-01-01", search.Lt, o("d4", "d6", "d8")},
		{"2026-01-01", search.Ge, o("d1", "d2", "d3", "d5", "d7")},
		{"2026-01-01", search.Le, o("d1", "d2", "d4", "d6", "d8")},
		{"2026-01-01", search.Sa, o("d5")},
		{"2026-01-01", search.Eb, o("d4", "d8")},
		{"2026-01-01", search.Ap, o("d1", "d2", "d3", "d6", "d7")},
		// Precision: a month contains the day, the day not the month.
		{"2026-01", search.Eq, o("d1", "d2", "d3", "d5")},
		{"2026", search.Eq, o("d1", "d2", "d3", "d5")},
		{"2026-01-01T10:00:00Z", search.Eq, o("d1")},
		{"2026-01-01T10:00:00Z", search.Ge, o("d1", "d2", "d3", "d5", "d7")},
		{"2026-01-01T10:00:00Z", search.Gt, o("d2", "d3", "d5", "d7")},
		// Ranges that touch: the end of one is the millisecond before
		// the start of the next.
		{"2025-12", search.Eq, o("d4")},
		{"2025-12", search.Sa, o("d1", "d2", "d3", "d5", "d7")},
		{"2026-01-02", search.Eb, o("d1", "d2", "d4", "d6", "d8")},
		{"2026-01-02", search.Eq, o("d5")},
		// Open-ended periods reach every bound on their open side.
		{"9999", search.Gt, o("d7")},
		{"0001", search.Lt, o("d8")},
		{"2025-06-01T00:00:00Z", search.Eb, nil},
		{"2025-06-01T00:00:00Z", search.Le, o("d8")},
		{"2025-06-01T00:00:00Z", search.Gt, o("d1", "d2", "d3", "d4", "d5", "d6", "d7")},
	} {
		lo, hi := span(tc.value)
		f.check(string(tc.pre)+tc.value, q("Observation", c(dateP("date", tc.pre, lo, hi))), tc.want...)
	}
	f.check(":not eq includes resources without a date", q("Observation", c(notP(dateP("date", search.Eq, dayLo, dayHi)))),
		o("d3", "d4", "d5", "d6", "d7", "d8", "d9")...)
	d2Lo, d2Hi := span("2026-01-02")
	// Each clause tests any value: ranges reaching into the day match both.
	f.check("range as two clauses", q("Observation", c(dateP("date", search.Ge, dayLo, dayHi)), c(dateP("date", search.Lt, d2Lo, d2Hi))),
		o("d1", "d2", "d3", "d7")...)
}

func testSearchNumberPrefixes(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("RiskAssessment", "n1", number("probability", 100, 99.5, 100.5))
	f.put("RiskAssessment", "n2", number("probability", 100, 99.95, 100.05)) // 100.0
	f.put("RiskAssessment", "n3", number("probability", 99.5, 99.45, 99.55))
	f.put("RiskAssessment", "n4", number("probability", 101, 100.5, 101.5))
	f.put("RiskAssessment", "n6", number("probability", 0, -0.5, 0.5))
	f.put("RiskAssessment", "n7", number("probability", -3, -3.5, -2.5))
	f.put("RiskAssessment", "n8", number("probability", 102, 101.5, 102.5))
	r := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "RiskAssessment/" + id
		}
		return out
	}
	for _, tc := range []struct {
		pre          search.Prefix
		v, low, high float64
		want         []string
		what         string
	}{
		{pre: search.Eq, v: 100, low: 99.5, high: 100.5, want: r("n1", "n2")},
		{pre: "", v: 100, low: 99.5, high: 100.5, want: r("n1", "n2")},
		{pre: search.Eq, v: 100, low: 99.95, high: 100.05, want: r("n2"), what: "100.0"},
		{pre: search.Ne, v: 100, low: 99.5, high: 100.5, want: r("n3", "n4", "n6", "n7", "n8")},
		{pre: search.Gt, v: 100, low: 99.5, high: 100.5, want: r("n4", "n8")},
		{pre: search.Lt, v: 100, low: 99.5, high: 100.5, want: r("n3", "n6", "n7")},
		{pre: search.Ge, v: 100, low: 99.5, high: 100.5, want: r("n1", "n2", "n4", "n8")},
		{pre: search.Le, v: 100, low: 99.5, high: 100.5, want: r("n1", "n2", "n3", "n6", "n7")},
		{pre: search.Sa, v: 100, low: 99.5, high: 100.5, want: r("n8"), what: "n4 starts where 100 ends"},
		{pre: search.Eb, v: 100, low: 99.5, high: 100.5, want: r("n6", "n7")},
		{pre: search.Ap, v: 100, low: 99.5, high: 100.5, want: r("n1", "n2", "n3", "n4", "n8"), what: "within 10%"},
		{pre: search.Ap, v: 0, low: -0.5, high: 0.5, want: r("n6"), what: "ap 0 uses the precision range"},
		{pre: search.Lt, v: 0, low: -0.5, high: 0.5, want: r("n7")},
		{pre: search.Eq, v: -3, low: -3.5, high: -2.5, want: r("n7")},
	} {
		f.check(tc.what+" "+string(tc.pre)+strconv.FormatFloat(tc.v, 'g', -1, 64),
			q("RiskAssessment", c(numberP("probability", tc.pre, tc.v, tc.low, tc.high))), tc.want...)
	}
}

func testSearchQuantity(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	qty := func(v, lo, hi float64, system, code, unit, canonCode string, canon float64) search.QuantityRow {
		return search.QuantityRow{Param: "value-quantity", Value: v, Low: lo, High: hi, System: system, Code: code, Unit: unit,
			CanonCode: canonCode, CanonValue: canon}
	}
	f.put("Observation", "q1", qty(5.4, 5.35, 5.45, ucum, "mg", "mg", "g", 0.0054))
	f.put("Observation", "q2", qty(5.4, 5.35, 5.45, ucum, "g", "g", "g", 5.4))
	f.put("Observation", "q3", qty(5400, 5399.5, 5400.5, ucum, "mg", "milligram", "g", 5.4))
	f.put("Observation", "q4", qty(5.4, 5.35, 5.45, "", "", "mg", "", 0))
	f.put("Observation", "q5", qty(5.4, 5.35, 5.45, "http://other", "mg", "mg", "", 0))
	o := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "Observation/" + id
		}
		return out
	}
	for _, tc := range []struct {
		what string
		m    search.QuantityMatch
		want []string
	}{
		{"value only", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45}, o("q1", "q2", "q4", "q5")},
		{"system and code", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45, System: ucum, Code: "mg"}, o("q1")},
		{"system only", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45, System: ucum}, o("q1", "q2")},
		{"code or unit without system", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45, Code: "mg"}, o("q1", "q4", "q5")},
		{"canonical", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45, System: ucum, Code: "g", Canonical: true}, o("q2", "q3")},
		{"canonical gt", search.QuantityMatch{Prefix: search.Gt, Value: 0.005, Low: 0.0045, High: 0.0055, System: ucum, Code: "g", Canonical: true},
			o("q2", "q3")},
		{"gt in mg", search.QuantityMatch{Prefix: search.Gt, Value: 5, Low: 4.95, High: 5.05, System: ucum, Code: "mg"}, o("q1", "q3")},
		{"lt in mg", search.QuantityMatch{Prefix: search.Lt, Value: 1000, Low: 999.5, High: 1000.5, System: ucum, Code: "mg"}, o("q1")},
		{"ap", search.QuantityMatch{Prefix: search.Ap, Value: 5, Low: 4.5, High: 5.5, System: ucum}, o("q1", "q2")},
		{"other unit", search.QuantityMatch{Value: 5.4, Low: 5.35, High: 5.45, System: ucum, Code: "kg"}, nil},
	} {
		f.check(tc.what, q("Observation", c(quantityP("value-quantity", tc.m))), tc.want...)
	}
}

func testSearchReference(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "p1")
	f.put("Patient", "p2")
	f.put("Observation", "o1", ref("subject", "Patient", "p1"), ref("performer", "Practitioner", "pr1"))
	f.put("Observation", "o2", ref("subject", "Patient", "p2"))
	f.put("Observation", "o3", search.ReferenceRow{Param: "subject", URL: "http://other.org/fhir/Patient/9"})
	f.put("Observation", "o4", ref("subject", "Group", "p1"))
	f.put("Observation", "o5", search.TokenRow{Param: "subject:identifier", System: "urn:mrn", Code: "12345"})
	f.put("Observation", "o6", ref("subject", "Patient", "gone")) // the target never existed
	for _, tc := range []struct {
		what string
		p    search.Predicate
		want []string
	}{
		{"type and id", refP("subject", search.ReferenceMatch{Type: "Patient", ID: "p1"}), []string{"Observation/o1"}},
		{"bare id, any type", refP("subject", search.ReferenceMatch{ID: "p1"}), []string{"Observation/o1", "Observation/o4"}},
		{"type only", refP("subject", search.ReferenceMatch{Type: "Patient"}), []string{"Observation/o1", "Observation/o2", "Observation/o6"}},
		{"absolute URL", refP("subject", search.ReferenceMatch{URL: "http://other.org/fhir/Patient/9"}), []string{"Observation/o3"}},
		{"target that does not exist", refP("subject", search.ReferenceMatch{Type: "Patient", ID: "gone"}), []string{"Observation/o6"}},
		{":identifier", refP("subject", search.ReferenceMatch{Identifier: &search.TokenMatch{System: "urn:mrn", SystemSet: true, Code: "12345"}}),
			[]string{"Observation/o5"}},
		{":identifier, other value", refP("subject", search.ReferenceMatch{Identifier: &search.TokenMatch{Code: "54321"}}), nil},
		{"other parameter", refP("performer", search.ReferenceMatch{Type: "Practitioner", ID: "pr1"}), []string{"Observation/o1"}},
		{"missing", missingP("subject", search.TypeReference, true), []string{"Observation/o5"}},
		{"not", notP(refP("subject", search.ReferenceMatch{ID: "p1"})), []string{"Observation/o2", "Observation/o3", "Observation/o5", "Observation/o6"}},
	} {
		f.check(tc.what, q("Observation", c(tc.p)), tc.want...)
	}
	// The reference is a value of the referring resource: deleting the
	// target does not change what matches it.
	f.del("Patient", "p2")
	f.check("target deleted", q("Observation", c(refP("subject", search.ReferenceMatch{Type: "Patient", ID: "p2"}))), "Observation/o2")
}

func testSearchChain(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Organization", "org1", str("name", "Acme"))
	f.put("Organization", "org2", str("name", "Other"))
	f.put("Patient", "p1", str("name", "Alice"), ref("organization", "Organization", "org1"))
	f.put("Patient", "p2", str("name", "Bob"), ref("organization", "Organization", "org2"))
	f.put("Group", "p1", str("name", "Alice"))
	f.put("Observation", "o1", ref("subject", "Patient", "p1"))
	f.put("Observation", "o2", ref("subject", "Patient", "p2"))
	f.put("Observation", "o3", ref("subject", "Group", "p1"))
	f.put("Observation", "o4", ref("subject", "Patient", "p3")) // no such patient

	chain := func(types []string, clauses ...search.Clause) search.Predicate {
		return refP("subject", search.ReferenceMatch{Chain: &search.Query{Types: types, Where: clauses}})
	}
	obs := func(p search.Predicate) search.Query { return q("Observation", c(p)) }
	name := func(v string) search.Clause { return c(stringP("name", search.StringStartsWith, v)) }
	f.check("typed chain", obs(chain([]string{"Patient"}, name("alice"))), "Observation/o1")
	f.check("chain through any type", obs(chain(nil, name("alice"))), "Observation/o1", "Observation/o3")
	f.check("chain on the reference's type", obs(refP("subject", search.ReferenceMatch{Type: "Group",
		Chain: &search.Query{Where: []search.Clause{name("alice")}}})), "Observation/o3")
	f.check("chain with OR", obs(chain([]string{"Patient"}, c(stringP("name", search.StringStartsWith, "alice"),
		stringP("name", search.StringStartsWith, "bob")))), "Observation/o1", "Observation/o2")
	f.check("chain matching nothing", obs(chain([]string{"Patient"}, name("carol"))))
	two := chain([]string{"Patient"}, c(refP("organization", search.ReferenceMatch{Chain: &search.Query{
		Types: []string{"Organization"}, Where: []search.Clause{name("acme")}}})))
	f.check("two-level chain", obs(two), "Observation/o1")
	f.check("not a chain", obs(notP(chain([]string{"Patient"}, name("alice")))), "Observation/o2", "Observation/o3", "Observation/o4")

	// A chain only reaches current, non-deleted targets.
	f.put("Patient", "p2", str("name", "Robert"), ref("organization", "Organization", "org1"))
	f.check("chain after the target changed", obs(chain([]string{"Patient"}, name("bob"))))
	f.check("two-level chain after the target changed", obs(two), "Observation/o1", "Observation/o2")
	f.del("Organization", "org1")
	f.check("two-level chain to a deleted resource", obs(two))
	f.del("Patient", "p1")
	f.check("chain to a deleted target", obs(chain([]string{"Patient"}, name("alice"))))
}

func testSearchURI(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("ValueSet", "v1", uri("url", "http://acme.org/fhir/ValueSet/123"))
	f.put("ValueSet", "v2", uri("url", "http://acme.org/fhir/ValueSet/1234"))
	f.put("ValueSet", "v3", uri("url", "http://acme.org/fhir"))
	f.put("ValueSet", "v4", uri("url", "urn:oid:1.2.3"))
	for _, tc := range []struct {
		what string
		m    search.URIMatch
		want []string
	}{
		{"exact", search.URIMatch{Value: "http://acme.org/fhir/ValueSet/123"}, []string{"ValueSet/v1"}},
		{"exact is not a prefix", search.URIMatch{Value: "http://acme.org/fhir/ValueSet"}, nil},
		{"below", search.URIMatch{Value: "http://acme.org/fhir/", Below: true}, []string{"ValueSet/v1", "ValueSet/v2"}},
		{"below includes the value", search.URIMatch{Value: "http://acme.org/fhir", Below: true}, []string{"ValueSet/v1", "ValueSet/v2", "ValueSet/v3"}},
		{"above", search.URIMatch{Value: "http://acme.org/fhir/ValueSet/123/_history/5", Above: true}, []string{"ValueSet/v1", "ValueSet/v3"}},
		{"above includes the value", search.URIMatch{Value: "urn:oid:1.2.3", Above: true}, []string{"ValueSet/v4"}},
		{"above, nothing", search.URIMatch{Value: "http://other.org/fhir", Above: true}, nil},
	} {
		f.check(tc.what, q("ValueSet", c(uriP("url", tc.m))), tc.want...)
	}
}

func testSearchMissing(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "a", str("name", "A"), date("birthdate", 0, 1), token("gender", "", "female"),
		uri("photo-url", "http://x"), number("rank", 1, 1, 1))
	f.put("Patient", "b", str("name", "B"))
	f.put("Patient", "c", date("birthdate", 0, 1))
	f.put("Patient", "d")
	f.put("Patient", "e", str("name", "E"), search.QuantityRow{Param: "weight", Value: 1})
	for _, tc := range []struct {
		p    search.Predicate
		want []string
	}{
		{missingP("name", search.TypeString, true), []string{"Patient/c", "Patient/d"}},
		{missingP("name", search.TypeString, false), []string{"Patient/a", "Patient/b", "Patient/e"}},
		{missingP("birthdate", search.TypeDate, true), []string{"Patient/b", "Patient/d", "Patient/e"}},
		{missingP("birthdate", search.TypeDate, false), []string{"Patient/a", "Patient/c"}},
		{missingP("gender", search.TypeToken, true), []string{"Patient/b", "Patient/c", "Patient/d", "Patient/e"}},
		{missingP("photo-url", search.TypeURI, false), []string{"Patient/a"}},
		{missingP("rank", search.TypeNumber, false), []string{"Patient/a"}},
		{missingP("weight", search.TypeQuantity, false), []string{"Patient/e"}},
		{missingP("weight", search.TypeQuantity, true), []string{"Patient/a", "Patient/b", "Patient/c", "Patient/d"}},
		{missingP(search.ParamID, search.TypeToken, false), []string{"Patient/a", "Patient/b", "Patient/c", "Patient/d", "Patient/e"}},
		{missingP(search.ParamID, search.TypeToken, true), nil},
		{missingP(search.ParamLastUpdated, search.TypeDate, true), nil},
	} {
		f.check("missing "+tc.p.Param+"="+strconv.FormatBool(*tc.p.Missing), q("Patient", c(tc.p)), tc.want...)
	}
	f.check("missing and present", q("Patient", c(missingP("name", search.TypeString, false)), c(missingP("birthdate", search.TypeDate, true))),
		"Patient/b", "Patient/e")
	f.check("missing or present", q("Patient", c(missingP("name", search.TypeString, true), missingP("gender", search.TypeToken, false))),
		"Patient/a", "Patient/c", "Patient/d")
}

func testSearchComposite(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	const code, value = "component-code-value-quantity:0", "component-code-value-quantity:1"
	comp := func(g int, c string, v float64) []any {
		return []any{
			search.TokenRow{Param: code, Group: g, System: loinc, Code: c},
			search.QuantityRow{Param: value, Group: g, Value: v, Low: v - 0.5, High: v + 0.5, System: ucum, Code: "mm[Hg]"},
		}
	}
	f.put("Observation", "o1", append(comp(0, "8480-6", 120), comp(1, "8462-4", 80)...)...)
	f.put("Observation", "o2", append(comp(0, "8480-6", 80), comp(1, "8462-4", 120)...)...)
	f.put("Observation", "o3", comp(3, "8480-6", 140)...)
	f.put("Observation", "o4", token("code", loinc, "8867-4"))
	pair := func(c string, pre search.Prefix, v float64) search.Predicate {
		return search.Predicate{Param: "component-code-value-quantity", Type: search.TypeComposite, Composite: []search.Predicate{
			tokenP(code, loinc, c),
			quantityP(value, search.QuantityMatch{Prefix: pre, Value: v, Low: v - 0.5, High: v + 0.5}),
		}}
	}
	f.check("same group", q("Observation", c(pair("8480-6", search.Eq, 120))), "Observation/o1")
	f.check("other pair", q("Observation", c(pair("8462-4", search.Eq, 120))), "Observation/o2")
	f.check("components in different groups do not match",
		q("Observation", c(pair("8462-4", search.Eq, 140))))
	f.check("prefix in a component", q("Observation", c(pair("8480-6", search.Gt, 100))), "Observation/o1", "Observation/o3")
	f.check("OR of composites", q("Observation", c(pair("8480-6", search.Eq, 80), pair("8480-6", search.Eq, 140))), "Observation/o2", "Observation/o3")
	f.check("AND of composites", q("Observation", c(pair("8480-6", search.Eq, 120)), c(pair("8462-4", search.Eq, 80))), "Observation/o1")
	f.check("not", q("Observation", c(notP(pair("8480-6", search.Eq, 120)))), "Observation/o2", "Observation/o3", "Observation/o4")
	missing := pair("8480-6", search.Eq, 120)
	yes := true
	missing.Missing = &yes
	f.check("missing", q("Observation", c(missing)), "Observation/o4")
}

func testSearchHas(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "p1")
	f.put("Patient", "p2")
	f.put("Patient", "p3")
	f.put("Group", "p1")
	f.put("Observation", "o1", ref("subject", "Patient", "p1"), token("code", loinc, "8867-4"))
	f.put("Observation", "o2", ref("subject", "Patient", "p2"), token("code", loinc, "1234-5"))
	f.put("Observation", "o3", ref("subject", "Patient", "p1"), token("code", loinc, "1234-5"))
	f.put("Observation", "o4", ref("subject", "Group", "p1"), token("code", loinc, "9999-9"))
	f.put("Encounter", "e1", ref("subject", "Patient", "p3"), token("code", loinc, "8867-4"))
	f.put("Provenance", "pv1", ref("target", "Observation", "o2"), ref("agent", "Practitioner", "pr1"))

	code := func(v string) search.Clause { return c(tokenP("code", loinc, v)) }
	f.check("_has", q("Patient", c(hasP("Observation", "subject", code("8867-4")))), "Patient/p1")
	f.check("_has, two referrers", q("Patient", c(hasP("Observation", "subject", code("1234-5")))), "Patient/p1", "Patient/p2")
	f.check("_has only through the type", q("Patient", c(hasP("Observation", "subject", code("9999-9")))))
	f.check("_has without conditions", q("Patient", c(hasP("Observation", "subject"))), "Patient/p1", "Patient/p2")
	f.check("_has of another type", q("Patient", c(hasP("Encounter", "subject", code("8867-4")))), "Patient/p3")
	f.check("not _has", q("Patient", c(notP(hasP("Observation", "subject")))), "Patient/p3")
	f.check("_has AND _has", q("Patient", c(hasP("Observation", "subject", code("8867-4"))), c(hasP("Observation", "subject", code("1234-5")))),
		"Patient/p1")
	nested := hasP("Observation", "subject", c(hasP("Provenance", "target", c(refP("agent", search.ReferenceMatch{Type: "Practitioner", ID: "pr1"})))))
	f.check("nested _has", q("Patient", c(nested)), "Patient/p2")

	f.del("Observation", "o3")
	f.check("_has after the referrer was deleted", q("Patient", c(hasP("Observation", "subject", code("1234-5")))), "Patient/p2")
	f.put("Observation", "o1", ref("subject", "Patient", "p2"), token("code", loinc, "8867-4"))
	f.check("_has after the referrer changed", q("Patient", c(hasP("Observation", "subject", code("8867-4")))), "Patient/p2")
}

func testSearchID(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	for _, id := range []string{"a", "b", "c", "A", "a.b-C"} {
		f.put("Patient", id)
	}
	f.put("Observation", "a")
	f.check("one", q("Patient", c(idP("a"))), "Patient/a")
	f.check("case-sensitive", q("Patient", c(idP("A"))), "Patient/A")
	f.check("punctuation", q("Patient", c(idP("a.b-C"))), "Patient/a.b-C")
	f.check("list", q("Patient", c(idP("c", "a", "x"))), "Patient/a", "Patient/c")
	f.check("OR", q("Patient", c(idP("b"), idP("c"))), "Patient/b", "Patient/c")
	f.check("not", q("Patient", c(notP(idP("a", "b")))), "Patient/c", "Patient/A", "Patient/a.b-C")
	f.check("none", q("Patient", c(idP("z"))))
	f.check("all types", q("", c(idP("a"))), "Patient/a", "Observation/a")
	f.check("string value", q("Patient", c(search.Predicate{Param: search.ParamID, Type: search.TypeToken,
		String: &search.StringMatch{Mode: search.StringExact, Value: "b"}})), "Patient/b")
}

func testSearchLastUpdated(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	for i, d := range []int{0, 1000, 1500, 2000} {
		r := version("Patient", "r"+strconv.Itoa(i+1), 1, t0.Add(msDuration(d)))
		r.Index = index()
		put(t, s, r)
		f.last["Patient/"+r.ID] = r
	}
	// The second 12:00:01 covers r2 (at .000) and r3 (at .500).
	lo, hi := t0.UnixMilli()+1000, t0.UnixMilli()+1999
	p := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "Patient/" + id
		}
		return out
	}
	for _, tc := range []struct {
		pre    search.Prefix
		lo, hi int64
		want   []string
	}{
		{search.Eq, lo, hi, p("r2", "r3")},
		{search.Ne, lo, hi, p("r1", "r4")},
		{search.Gt, lo, hi, p("r4")},
		{search.Lt, lo, hi, p("r1")},
		{search.Ge, lo, hi, p("r2", "r3", "r4")},
		{search.Le, lo, hi, p("r1", "r2", "r3")},
		{search.Sa, lo, hi, p("r4")},
		{search.Eb, lo, hi, p("r1")},
		{search.Ap, lo, hi, p("r2", "r3")},
		{search.Eq, t0.UnixMilli() + 1500, t0.UnixMilli() + 1500, p("r3")},
		{search.Eq, t0.UnixMilli(), t0.UnixMilli() + 86_400_000 - 1, p("r1", "r2", "r3", "r4")},
		{search.Ge, math.MinInt64, math.MinInt64, p("r1", "r2", "r3", "r4")},
		{search.Le, math.MaxInt64, math.MaxInt64, p("r1", "r2", "r3", "r4")},
		{search.Gt, math.MaxInt64, math.MaxInt64, nil},
	} {
		f.check("_lastUpdated "+string(tc.pre), q("Patient", c(lastUpdatedP(tc.pre, tc.lo, tc.hi))), tc.want...)
	}
	f.check("_lastUpdated range", q("Patient", c(lastUpdatedP(search.Gt, t0.UnixMilli(), t0.UnixMilli())),
		c(lastUpdatedP(search.Lt, t0.UnixMilli()+2000, t0.UnixMilli()+2000))), p("r2", "r3")...)
	f.check("_lastUpdated not", q("Patient", c(notP(lastUpdatedP(search.Eq, lo, hi)))), p("r1", "r4")...)
}

func testSearchTypes(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "x", token("identifier", "urn:x", "1"))
	f.put("Observation", "x", token("identifier", "urn:x", "1"))
	f.put("Encounter", "x", token("identifier", "urn:x", "1"))
	f.put("Patient", "y", token("identifier", "urn:x", "2"))
	p := tokenP("identifier", "urn:x", "1")
	f.check("one type", q("Patient", c(p)), "Patient/x")
	f.check("two types", search.Query{Types: []string{"Encounter", "Patient"}, Where: []search.Clause{c(p)}, Count: 10},
		"Patient/x", "Encounter/x")
	f.check("all types", q("", c(p)), "Patient/x", "Observation/x", "Encounter/x")
	f.check("all resources", q(""), "Patient/x", "Observation/x", "Encounter/x", "Patient/y")
	f.check("unknown type", q("Basic"))
}

// sortFixture is a resource of the sort test with the values the sort
// keys see.
type sortFixture struct {
	id     string
	names  []string
	births [][2]int64
	gender string
	rank   []float64
}

func testSearchSort(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	y := func(year int) [2]int64 {
		lo, hi := span(strconv.Itoa(year))
		return [2]int64{lo, hi}
	}
	fixtures := []sortFixture{
		{id: "a", names: []string{"b"}, births: [][2]int64{y(1990)}, gender: "female", rank: []float64{3}},
		{id: "b", names: []string{"a", "z"}, gender: "male", rank: []float64{1.5, -2}},
		{id: "c", births: [][2]int64{y(1980)}, gender: "female"},
		{id: "d", names: []string{"a"}, births: [][2]int64{{y(1985)[0], y(1995)[1]}}, rank: []float64{3}},
		{id: "e", names: []string{"c"}, births: [][2]int64{y(1990)}, gender: "male", rank: []float64{0}},
		{id: "f", names: []string{"b"}, births: [][2]int64{y(1970), y(1991)}, gender: "other"},
		{id: "g"},
		{id: "h", names: []string{"b"}, births: [][2]int64{y(1990)}, gender: "female", rank: []float64{3}},
		{id: "i", names: []string{"ab"}, births: [][2]int64{{math.MinInt64, y(1960)[1]}}, rank: []float64{1e-9}},
		{id: "j", names: []string{"aa"}, births: [][2]int64{{y(2000)[0], math.MaxInt64}}, gender: "male", rank: []float64{-1e9}},
		// Byte order: "a-c" < "aa" < "ab"; a linguistic collation would
		// put "a-c" after "ab".
		{id: "k", names: []string{"a-c"}, gender: "female", rank: []float64{3}},
	}
	lastUpdated := make(map[string]int64)
	for i, fx := range fixtures {
		var rows []any
		for _, n := range fx.names {
			rows = append(rows, str("name", n))
		}
		for _, b := range fx.births {
			rows = append(rows, date("birthdate", b[0], b[1]))
		}
		if fx.gender != "" {
			rows = append(rows, token("gender", "http://hl7.org/fhir/administrative-gender", fx.gender))
		}
		for _, r := range fx.rank {
			rows = append(rows, number("rank", r, r, r))
		}
		// Later resources are updated earlier, so that _lastUpdated and
		// creation order differ.
		r := version("Patient", fx.id, 1, at(100-i))
		r.Index = index(rows...)
		put(t, s, r)
		f.last["Patient/"+fx.id] = r
		lastUpdated[fx.id] = r.LastUpdated.UnixMilli()
	}
	f.put("Observation", "o", str("name", "a")) // other type, never in the results

	// value is what sort key k sees of fx: nil when it has no value.
	value := func(fx sortFixture, k search.SortKey) any {
		switch k.Param {
		case search.ParamID:
			return fx.id
		case search.ParamLastUpdated:
			return lastUpdated[fx.id]
		case "name":
			if len(fx.names) == 0 {
				return nil
			}
			return slices.Min(fx.names)
		case "gender":
			if fx.gender == "" {
				return nil
			}
			return fx.gender
		case "rank":
			if len(fx.rank) == 0 {
				return nil
			}
			return slices.Min(fx.rank)
		case "birthdate":
			if len(fx.births) == 0 {
				return nil
			}
			if k.Desc {
				v := fx.births[0][1]
				for _, b := range fx.births {
					v = max(v, b[1])
				}
				return v
			}
			v := fx.births[0][0]
			for _, b := range fx.births {
				v = min(v, b[0])
			}
			return v
		}
		panic(k.Param)
	}
	cmpValues := func(a, b any) int {
		switch a := a.(type) {
		case string:
			return cmpOrdered(a, b.(string))
		case int64:
			return cmpOrdered(a, b.(int64))
		case float64:
			return cmpOrdered(a, b.(float64))
		}
		panic(a)
	}
	// expected sorts by the keys, missing values last whatever the
	// direction, then by creation order (fixtures is in creation order).
	expected := func(keys []search.SortKey, keep func(sortFixture) bool) []string {
		var order []sortFixture
		for _, fx := range fixtures {
			if keep == nil || keep(fx) {
				order = append(order, fx)
			}
		}
		slices.SortStableFunc(order, func(a, b sortFixture) int {
			for _, k := range keys {
				va, vb := value(a, k), value(b, k)
				switch {
				case va == nil && vb == nil:
					continue
				case va == nil:
					return 1
				case vb == nil:
					return -1
				}
				c := cmpValues(va, vb)
				if k.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		out := make([]string, len(order))
		for i, fx := range order {
			out[i] = "Patient/" + fx.id
		}
		return out
	}
	key := func(param string, typ search.Type, desc bool) search.SortKey {
		return search.SortKey{Param: param, Type: typ, Desc: desc}
	}
	name, birth := key("name", search.TypeString, false), key("birthdate", search.TypeDate, false)
	gender, rank := key("gender", search.TypeToken, false), key("rank", search.TypeNumber, false)
	id, lu := key(search.ParamID, search.TypeToken, false), key(search.ParamLastUpdated, search.TypeDate, false)
	desc := func(k search.SortKey) search.SortKey { k.Desc = true; return k }
	for _, keys := range [][]search.SortKey{
		nil,
		{name},
		{desc(name)},
		{birth},
		{desc(birth)},
		{gender},
		{desc(gender)},
		{rank},
		{desc(rank)},
		{id},
		{desc(id)},
		{lu},
		{desc(lu)},
		{gender, desc(birth)},
		{desc(gender), name, rank},
		{name, birth, desc(id)},
		{rank, gender, desc(lu)},
	} {
		want := expected(keys, nil)
		for _, count := range []int{1, 2, 3, 100} {
			qq := q("Patient")
			qq.Sort, qq.Count = keys, count
			got := refs(f.walk(qq, count == 2, nil))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sort %v, count %d (-want +got):\n%s", keys, count, diff)
			}
		}
	}
	// Reference and uri parameters sort by their least value too.
	f.put("Observation", "r1", ref("subject", "Patient", "b"), uri("instantiates", "urn:b"))
	f.put("Observation", "r2", ref("subject", "Group", "z"), uri("instantiates", "urn:a"))
	f.put("Observation", "r3", ref("subject", "Patient", "a"), ref("subject", "Patient", "c"))
	f.put("Observation", "r4", search.ReferenceRow{Param: "subject", URL: "http://x.org/Patient/1"})
	for _, tc := range []struct {
		key  search.SortKey
		want []string
	}{
		{key("subject", search.TypeReference, false), []string{"Observation/r2", "Observation/r3", "Observation/r1", "Observation/r4", "Observation/o"}},
		{key("instantiates", search.TypeURI, true), []string{"Observation/r1", "Observation/r2", "Observation/o", "Observation/r3", "Observation/r4"}},
	} {
		qq := q("Observation")
		qq.Sort, qq.Count = []search.SortKey{tc.key}, 2
		f.check("sort by "+tc.key.Param, qq, tc.want...)
	}

	// Sorting a filtered search.
	qq := q("Patient", c(tokenP("gender", "", "female"), tokenP("gender", "", "male")))
	qq.Sort, qq.Count = []search.SortKey{desc(name), desc(birth)}, 2
	f.check("filtered", qq, expected(qq.Sort, func(fx sortFixture) bool { return fx.gender == "female" || fx.gender == "male" })...)
}

func cmpOrdered[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func testSearchPaging(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	var want []string
	for i := range 10 {
		id := "o" + strconv.Itoa(i)
		f.put("Observation", id, token("code", "", "x"), date("date", int64(i%4), int64(i%4)))
		if i != 9 {
			want = append(want, "Observation/"+id)
		}
		if i%3 == 0 {
			f.put("Observation", "other"+strconv.Itoa(i), token("code", "", "y"))
		}
	}
	key := func(id string) int64 {
		t.Helper()
		p := f.search(q("Observation", c(idP(id))))
		if len(p.Matches) != 1 {
			t.Fatalf("_id=%s: %d matches", id, len(p.Matches))
		}
		return p.Matches[0].Key
	}
	k8 := key("o8")

	// Between pages: a new match is created (not part of the walk), a
	// match already seen and one not seen yet are updated (each seen
	// once), a match not seen yet is deleted (never seen).
	qq := q("Observation", c(tokenP("code", "", "x")))
	qq.Count = 3
	var snapshots []int64
	var sizes []int
	created := 0
	for _, sorted := range []bool{false, true} {
		if sorted {
			// Sorted by date, so rid order is not the walk order; the
			// updates keep each resource's date.
			qq.Sort = []search.SortKey{{Param: "date", Type: search.TypeDate, Desc: true}}
			want = []string{
				"Observation/o3", "Observation/o7", "Observation/new1", "Observation/o2", "Observation/o6",
				"Observation/o1", "Observation/o5", "Observation/o0", "Observation/o4", "Observation/o8",
			}
		}
		got := f.walk(qq, true, func(page int) {
			switch page {
			case 1:
				created++
				f.put("Observation", "new"+strconv.Itoa(created), token("code", "", "x"), date("date", 3, 3))
				if !sorted {
					f.put("Observation", "o0", token("code", "", "x"), date("date", 0, 0))
					f.put("Observation", "o8", token("code", "", "x"), date("date", 0, 0))
				} else {
					f.put("Observation", "o3", token("code", "", "x"), date("date", 3, 3))
					f.put("Observation", "o8", token("code", "", "x"), date("date", 0, 0))
				}
			case 2:
				if !sorted {
					f.del("Observation", "o9")
				}
			}
		})
		if diff := cmp.Diff(want, refs(got)); diff != "" {
			t.Errorf("walk (sorted %v) with changes between pages (-want +got):\n%s", sorted, diff)
		}
		if sorted {
			break
		}
		// The walk saw the update of o8.
		if got[len(got)-1].ID != "o8" || got[len(got)-1].VersionID != 2 {
			t.Errorf("last match = %s version %d, want o8 version 2", got[len(got)-1].ID, got[len(got)-1].VersionID)
		}
		// What was created during the first walk is part of the next.
		want = append(want, "Observation/new1")
	}
	if k := key("o8"); k != k8 {
		t.Errorf("o8's key changed on update: %d, then %d", k8, k)
	}

	// Page sizes, Next and the snapshot.
	qq = q("Observation", c(tokenP("code", "", "y")))
	qq.Count = 2
	for page := 0; ; page++ {
		p := f.search(qq)
		sizes = append(sizes, len(p.Matches))
		if p.Next == nil {
			break
		}
		snapshots = append(snapshots, p.Next.Snapshot)
		if len(p.Next.Values) != 0 {
			t.Errorf("cursor of an unsorted search has values %v", p.Next.Values)
		}
		qq.After = p.Next
	}
	if diff := cmp.Diff([]int{2, 2}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if len(snapshots) != 1 || snapshots[0] <= 0 {
		t.Errorf("snapshots %v, want one positive", snapshots)
	}
}

func testSearchTotal(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	for i := range 5 {
		f.put("Observation", "o"+strconv.Itoa(i), token("code", "", "x"), ref("subject", "Patient", "p"))
	}
	f.put("Observation", "y1", token("code", "", "y"))
	f.put("Patient", "p", token("code", "", "x"))
	for _, tc := range []struct {
		count   int
		total   search.TotalMode
		code    string
		want    int
		matches int
	}{
		{2, search.TotalNone, "x", -1, 2},
		{2, search.TotalAccurate, "x", 5, 2},
		{2, search.TotalEstimate, "x", 5, 2},
		{10, search.TotalAccurate, "x", 5, 5},
		{0, search.TotalAccurate, "x", 5, 0},
		{0, search.TotalEstimate, "x", 5, 0},
		{0, search.TotalNone, "x", 5, 0}, // a total is the whole answer
		{2, search.TotalAccurate, "z", 0, 0},
		{0, search.TotalAccurate, "z", 0, 0},
	} {
		qq := q("Observation", c(tokenP("code", "", tc.code)))
		qq.Count, qq.Total = tc.count, tc.total
		qq.Include = []search.Include{{Type: "Observation", Param: "subject"}}
		p := f.search(qq)
		n := 0
		for _, m := range p.Matches {
			if !m.Included {
				n++
			}
		}
		if p.Total != tc.want || n != tc.matches {
			t.Errorf("count %d, total mode %d, code %s: total %d with %d matches, want %d with %d",
				tc.count, tc.total, tc.code, p.Total, n, tc.want, tc.matches)
		}
		if tc.count == 0 && (len(p.Matches) != 0 || p.Next != nil) {
			t.Errorf("count 0 returned %v, next %v", refs(p.Matches), p.Next)
		}
	}

	// The total of a later page counts up to the walk's snapshot.
	qq := q("Observation", c(tokenP("code", "", "x")))
	qq.Count, qq.Total = 2, search.TotalAccurate
	p := f.search(qq)
	f.put("Observation", "o9", token("code", "", "x"))
	qq.After = p.Next
	if p := f.search(qq); p.Total != 5 {
		t.Errorf("total of page 2 after a create = %d, want 5 (the snapshot's)", p.Total)
	}
	qq.After = nil
	if p := f.search(qq); p.Total != 6 {
		t.Errorf("total of a new walk = %d, want 6", p.Total)
	}

	// A resource with several matching rows counts once, also with
	// further clauses.
	f.put("Observation", "dup", token("code", "s1", "dup"), token("code", "s2", "dup"), ref("subject", "Patient", "p"))
	f.check("two matching rows", q("Observation", c(tokenP("code", "", "dup"))), "Observation/dup")
	f.check("two matching rows and a reference", q("Observation", c(tokenP("code", "", "dup")), c(refP("subject", search.ReferenceMatch{Type: "Patient", ID: "p"}))), "Observation/dup")
}

func testSearchInclude(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Organization", "org1")
	f.put("Patient", "p1", ref("organization", "Organization", "org1"))
	f.put("Patient", "p2")
	f.put("Practitioner", "pr1")
	f.put("Observation", "o1", ref("subject", "Patient", "p1"), ref("performer", "Practitioner", "pr1"), ref("has-member", "Observation", "o3"))
	f.put("Observation", "o2", ref("subject", "Patient", "p2"), ref("subject", "Patient", "p2")) // twice
	f.put("Observation", "o3", ref("subject", "Patient", "p1"), ref("has-member", "Observation", "o1"))
	f.put("Provenance", "prov1", ref("target", "Observation", "o1"))
	f.put("Encounter", "e1", ref("subject", "Patient", "p1"))

	inc := func(typ, param, target string, iterate bool) search.Include {
		return search.Include{Type: typ, Param: param, Target: target, Iterate: iterate}
	}
	for _, tc := range []struct {
		what        string
		q           search.Query
		include     []search.Include
		revInclude  []search.Include
		want        []string
		count       int
		wantNextSet bool
	}{
		{what: "include", q: q("Observation"), include: []search.Include{inc("Observation", "subject", "", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3", "+Patient/p1", "+Patient/p2"}},
		{what: "include any parameter; matches are not included again", q: q("Observation"), include: []search.Include{inc("Observation", "*", "", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3", "+Patient/p1", "+Patient/p2", "+Practitioner/pr1"}},
		{what: "include of another source type", q: q("Observation"), include: []search.Include{inc("Patient", "organization", "", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3"}},
		{what: "include, target type that does not match", q: q("Observation"), include: []search.Include{inc("Observation", "subject", "Practitioner", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3"}},
		{what: "include, target type", q: q("Observation"), include: []search.Include{inc("Observation", "*", "Practitioner", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3", "+Practitioner/pr1"}},
		{what: "include:iterate", q: q("Observation"),
			include: []search.Include{inc("Observation", "subject", "", false), inc("Patient", "organization", "", true)},
			want:    []string{"Observation/o1", "Observation/o2", "Observation/o3", "+Patient/p1", "+Patient/p2", "+Organization/org1"}},
		{what: "include:iterate through a cycle", q: q("Observation", c(idP("o1"))),
			include: []search.Include{inc("Observation", "has-member", "", true)},
			want:    []string{"Observation/o1", "+Observation/o3"}},
		{what: "revinclude", q: q("Observation"), revInclude: []search.Include{inc("Provenance", "target", "", false)},
			want: []string{"Observation/o1", "Observation/o2", "Observation/o3", "+Provenance/prov1"}},
		{what: "revinclude of several", q: q("Patient"), revInclude: []search.Include{inc("Observation", "subject", "", false)},
			want: []string{"Patient/p1", "Patient/p2", "+Observation/o1", "+Observation/o2", "+Observation/o3"}},
		{what: "revinclude from any type", q: q("Patient", c(idP("p1"))), revInclude: []search.Include{inc("*", "subject", "", false)},
			want: []string{"Patient/p1", "+Observation/o1", "+Observation/o3", "+Encounter/e1"}},
		{what: "revinclude, target type", q: q("Patient", c(idP("p1"))), revInclude: []search.Include{inc("Observation", "subject", "Group", false)},
			want: []string{"Patient/p1"}},
		{what: "revinclude then include:iterate", q: q("Patient", c(idP("p1"))),
			include:    []search.Include{inc("Observation", "performer", "", true)},
			revInclude: []search.Include{inc("Observation", "subject", "", false)},
			want:       []string{"Patient/p1", "+Observation/o1", "+Observation/o3", "+Practitioner/pr1"}},
		{what: "revinclude:iterate", q: q("Patient", c(idP("p1"))),
			revInclude: []search.Include{inc("Observation", "subject", "", false), inc("Provenance", "target", "", true)},
			want:       []string{"Patient/p1", "+Observation/o1", "+Observation/o3", "+Provenance/prov1"}},
		{what: "include without iterate does not chain", q: q("Patient", c(idP("p1"))),
			include:    []search.Include{inc("Observation", "performer", "", false)},
			revInclude: []search.Include{inc("Observation", "subject", "", false)},
			want:       []string{"Patient/p1", "+Observation/o1", "+Observation/o3"}},
		{what: "include for the page only", q: q("Observation"), count: 1, wantNextSet: true,
			include: []search.Include{inc("Observation", "subject", "", false)},
			want:    []string{"Observation/o1", "+Patient/p1"}},
	} {
		qq := tc.q
		qq.Include, qq.RevInclude = tc.include, tc.revInclude
		if tc.count > 0 {
			qq.Count = tc.count
		}
		p := f.search(qq)
		if diff := cmp.Diff(tc.want, refs(p.Matches)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.what, diff)
		}
		if (p.Next != nil) != tc.wantNextSet {
			t.Errorf("%s: Next = %v", tc.what, p.Next)
		}
	}

	f.del("Practitioner", "pr1")
	f.del("Provenance", "prov1")
	qq := q("Observation", c(idP("o1")))
	qq.Include = []search.Include{inc("Observation", "*", "", false)}
	qq.RevInclude = []search.Include{inc("Provenance", "target", "", false)}
	if diff := cmp.Diff([]string{"Observation/o1", "+Patient/p1", "+Observation/o3"}, refs(f.search(qq).Matches)); diff != "" {
		t.Errorf("include after deletes (-want +got):\n%s", diff)
	}
}

func testSearchDeleted(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "p1", str("name", "Alice"), token("gender", "", "female"))
	f.put("Patient", "p2", str("name", "Bob"))
	f.put("Observation", "o1", ref("subject", "Patient", "p1"))
	f.del("Patient", "p1")
	for _, tc := range []struct {
		what string
		q    search.Query
		want []string
	}{
		{"value", q("Patient", c(stringP("name", search.StringStartsWith, "alice"))), nil},
		{"_id", q("Patient", c(idP("p1", "p2"))), []string{"Patient/p2"}},
		{"missing", q("Patient", c(missingP("name", search.TypeString, true))), nil},
		{"not", q("Patient", c(notP(tokenP("gender", "", "male")))), []string{"Patient/p2"}},
		{"no clauses", q("Patient"), []string{"Patient/p2"}},
		{"all types", q(""), []string{"Patient/p2", "Observation/o1"}},
		{"_lastUpdated", q("Patient", c(lastUpdatedP(search.Ge, 0, 0))), []string{"Patient/p2"}},
		{"_has", q("Patient", c(hasP("Observation", "subject"))), nil},
		{"the marker's index rows are not stored", q("Patient", c(tokenP("code", "", "ghost"))), nil},
	} {
		f.check(tc.what, tc.q, tc.want...)
	}
	// Recreated with other values.
	f.put("Patient", "p1", str("name", "Carol"))
	f.check("recreated, old value", q("Patient", c(stringP("name", search.StringStartsWith, "alice"))))
	f.check("recreated, new value", q("Patient", c(stringP("name", search.StringStartsWith, "carol"))), "Patient/p1")
	f.check("recreated, _has", q("Patient", c(hasP("Observation", "subject"))), "Patient/p1")
}

func testSearchIndexReplaced(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	code := func(v string) search.Query { return q("Observation", c(tokenP("code", "", v))) }
	noCode := q("Observation", c(missingP("code", search.TypeToken, true)))
	noDate := q("Observation", c(missingP("date", search.TypeDate, true)))
	f.put("Observation", "other", token("code", "", "A"), date("date", 1, 1))

	f.put("Observation", "o1", token("code", "", "A"), date("date", 1, 1))
	f.check("v1", code("A"), "Observation/other", "Observation/o1")
	key := f.search(code("A")).Matches[1].Key

	f.put("Observation", "o1", token("code", "", "B"))
	f.check("v2 old value", code("A"), "Observation/other")
	f.check("v2 new value", code("B"), "Observation/o1")
	f.check("v2 dropped a parameter", noDate, "Observation/o1")

	r := f.next("Observation", "o1", nil)
	put(t, s, r)
	f.last["Observation/o1"] = r
	f.check("v3 without an index", code("B"))
	f.check("v3 without an index is missing every parameter", noCode, "Observation/o1")

	f.put("Observation", "o1", token("code", "", "C"), token("code", "", "D"))
	f.check("v4", code("D"), "Observation/o1")
	f.del("Observation", "o1")
	f.check("deleted", code("C"))
	r = f.next("Observation", "o1", &search.Index{})
	put(t, s, r)
	f.last["Observation/o1"] = r
	f.check("recreated with an empty index", noCode, "Observation/o1")

	// Two versions in one transaction, then a rolled-back one.
	v7 := f.next("Observation", "o1", index(token("code", "", "E")))
	v8 := v7
	v8.VersionID++
	v8.Index = index(token("code", "", "F"))
	put(t, s, v7, v8)
	f.last["Observation/o1"] = v8
	f.check("first of two in one transaction", code("E"))
	f.check("second of two in one transaction", code("F"), "Observation/o1")
	v9 := v8
	v9.VersionID++
	v9.Index = index(token("code", "", "G"))
	errBoom := errorString("boom")
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.Put(ctx, v9); err != nil {
			return err
		}
		return errBoom
	})
	if err == nil {
		t.Fatal("Write returning an error committed")
	}
	f.check("rolled back", code("G"))
	f.check("after rollback", code("F"), "Observation/o1")
	if p := f.search(code("F")); len(p.Matches) != 1 || p.Matches[0].Key != key {
		t.Errorf("o1's key after updates and a delete = %v, want %d", p.Matches, key)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func testSearchInvalid(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "p", token("gender", "", "male"))
	bySort := q("Patient")
	bySort.Sort = []search.SortKey{{Param: "birthdate", Type: search.TypeDate}}
	for _, tc := range []struct {
		what string
		q    func(q *search.Query)
	}{
		{"negative count", func(q *search.Query) { q.Count = -1 }},
		{"cursor values without sort keys", func(q *search.Query) { q.After = &search.Cursor{Values: []any{"x"}, Key: 1, Snapshot: 1} }},
		{"cursor value of the wrong type", func(q *search.Query) {
			q.Sort = bySort.Sort
			q.After = &search.Cursor{Values: []any{"x"}, Key: 1, Snapshot: 1}
		}},
		{"negative cursor key", func(q *search.Query) { q.After = &search.Cursor{Key: -1, Snapshot: 1} }},
		{"sort by a composite", func(q *search.Query) { q.Sort = []search.SortKey{{Param: "x", Type: search.TypeComposite}} }},
		{"token predicate without a token", func(q *search.Query) {
			q.Where = []search.Clause{c(search.Predicate{Param: "gender", Type: search.TypeToken})}
		}},
		{"special type", func(q *search.Query) {
			q.Where = []search.Clause{c(search.Predicate{Param: "near", Type: search.TypeSpecial})}
		}},
		{"unknown prefix", func(q *search.Query) {
			q.Where = []search.Clause{c(dateP("birthdate", "xx", 0, 0))}
		}},
		{"empty clause", func(q *search.Query) { q.Where = []search.Clause{{}} }},
		{"_has without a type", func(q *search.Query) { q.Where = []search.Clause{c(hasP("", "subject"))} }},
		{"include without a parameter", func(q *search.Query) { q.Include = []search.Include{{Type: "Patient"}} }},
		{"revinclude without a type", func(q *search.Query) { q.RevInclude = []search.Include{{Param: "subject"}} }},
	} {
		qq := q("Patient")
		tc.q(&qq)
		if p, err := f.ss.Search(t.Context(), qq); err == nil {
			t.Errorf("%s: Search succeeded with %v, want an error", tc.what, refs(p.Matches))
		}
	}
	f.check("still searchable", q("Patient", c(tokenP("gender", "", "male"))), "Patient/p")
}

// testLock checks that a second transaction locking a key the first holds
// waits for it, and then sees what the first committed.
func testLock(t *testing.T, s store.Store) {
	ctx := t.Context()
	locked := make(chan struct{}, 1)
	acquired := make(chan struct{}, 1)
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Lock(ctx, "conditional:Basic?code=x"); err != nil {
				return err
			}
			select {
			case locked <- struct{}{}:
			default:
			}
			<-release
			return tx.Put(ctx, version("Basic", "x", 1, at(1)))
		})
	}()
	<-locked
	second := make(chan error, 1)
	go func() {
		second <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Lock(ctx, "conditional:Basic?code=x"); err != nil {
				return err
			}
			select {
			case acquired <- struct{}{}:
			default:
			}
			if _, err := tx.Current(ctx, "Basic", "x"); err != nil {
				return fmt.Errorf("after the lock: %w, want what the first transaction committed", err)
			}
			return nil
		})
	}()
	// Give a broken Lock the chance to let the second one through.
	select {
	case <-acquired:
		t.Error("the second transaction got a lock the first holds")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("second: %v", err)
	}
	// A lock ends with its transaction.
	if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Lock(ctx, "conditional:Basic?code=x") }); err != nil {
		t.Errorf("Lock after both ended: %v", err)
	}
}

// testSearchInTx checks Search on a Tx, where the store offers it: it sees
// the transaction's own writes, which the store's Search does not until
// the commit.
func testSearchInTx(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "a", str("name", "Alice"))
	name := q("Patient", c(stringP("name", search.StringStartsWith, "al")))
	b := f.next("Patient", "b", index(str("name", "Alan")))
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		ts, ok := tx.(store.Searcher)
		if !ok {
			t.Skipf("%T does not implement store.Searcher", tx)
		}
		if err := tx.Put(ctx, b); err != nil {
			return err
		}
		p, err := ts.Search(ctx, name)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"Patient/a", "Patient/b"}, refs(p.Matches)); diff != "" {
			t.Errorf("Search in the transaction (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	f.last["Patient/b"] = b
	f.check("after commit", name, "Patient/a", "Patient/b")
}

// testManyPutsInTx writes many versions in one transaction, as a
// transaction Bundle does: new resources, updates, a delete, and two
// versions of one resource, each with index rows. A store may send them to
// the database together; the outcome must be what writing them one by one
// gives, history in the order of the Puts included. A conflict among many
// keeps none of them.
func testManyPutsInTx(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Observation", "upd", token("code", "", "old"), str("name", "old"))
	f.put("Observation", "gone", token("code", "", "many"))
	before := allHistory(t, s, store.HistoryQuery{Count: 100})

	var rs []store.Resource
	next := func(r store.Resource) {
		rs = append(rs, r)
		f.last[r.Type+"/"+r.ID] = r
	}
	for i := range 40 {
		next(f.next("Observation", fmt.Sprintf("new%02d", i), index(token("code", "", "many"), str("name", fmt.Sprintf("n%02d", i)))))
	}
	next(f.next("Observation", "upd", index(token("code", "", "many"), str("name", "new"))))
	f.tick++
	next(deleted("Observation", "gone", 2, at(f.tick)))
	next(f.next("Patient", "twice", index(str("name", "first"))))
	next(f.next("Patient", "twice", index(str("name", "second"))))
	put(t, s, rs...)

	for _, r := range rs {
		got := mustRead(t, s, r.Type, r.ID)
		if want := f.last[r.Type+"/"+r.ID]; got.VersionID != want.VersionID || got.Deleted != want.Deleted {
			t.Errorf("Read(%s/%s) = version %d deleted %v, want %d %v", r.Type, r.ID, got.VersionID, got.Deleted, want.VersionID, want.Deleted)
		}
	}
	var want []string
	for i := len(rs) - 1; i >= 0; i-- {
		want = append(want, key(rs[i]))
	}
	hist := allHistory(t, s, store.HistoryQuery{Count: 100})
	if got := keys(hist[:len(hist)-len(before)]); !slices.Equal(got, want) {
		t.Errorf("history of the transaction, newest first = %v, want the reverse order of the Puts %v", got, want)
	}
	many := []string{"Observation/upd"} // in creation order
	for i := range 40 {
		many = append(many, fmt.Sprintf("Observation/new%02d", i))
	}
	f.check("new and updated index rows", q("Observation", c(tokenP("code", "", "many"))), many...)
	f.check("replaced index rows", q("Observation", c(tokenP("code", "", "old"))))
	f.check("second version's index", q("Patient", c(stringP("name", search.StringExact, "second"))), "Patient/twice")
	f.check("first version's index", q("Patient", c(stringP("name", search.StringExact, "first"))))

	// One stale version among many good ones: nothing is kept.
	stored := allHistory(t, s, store.HistoryQuery{Count: 200})
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for i := range 10 {
			if err := tx.Put(ctx, version("Observation", fmt.Sprintf("lost%d", i), 1, at(100))); err != nil {
				return err
			}
		}
		if err := tx.Put(ctx, version("Observation", "upd", 2, at(100))); err != nil {
			return err
		}
		return tx.Put(ctx, version("Observation", "lost-after", 1, at(100)))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Write with a stale version among many = %v, want ErrConflict", err)
	}
	if diff := cmp.Diff(keys(stored), keys(allHistory(t, s, store.HistoryQuery{Count: 200}))); diff != "" {
		t.Errorf("a failed transaction of many Puts changed history (-before +after):\n%s", diff)
	}
}

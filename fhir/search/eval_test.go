package search

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The semantics of Eval are checked against both stores by the shared
// store suite (fhir/store/storetest), which evaluates every query it runs
// on every resource it wrote. These tests cover what that cannot: the
// special parameters on a Target, errors, and ExtractJSONFor.

func TestEvalSpecial(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tg := Target{Type: "Observation", ID: "o1", LastUpdated: at, Index: &Index{
		References: []ReferenceRow{{Param: "subject", Type: "Patient", ID: "p1"}},
	}}
	ms := at.UnixMilli()
	yes, no := true, false
	tok := func(param string, codes ...string) Predicate {
		return Predicate{Param: param, Type: TypeToken, Token: &TokenMatch{Codes: codes}}
	}
	not := func(p Predicate) Predicate { p.Not = true; return p }
	for _, tc := range []struct {
		what string
		p    Predicate
		want bool
	}{
		{"_id", tok(ParamID, "o1"), true},
		{"_id other", tok(ParamID, "o2"), false},
		{"_id:not", not(tok(ParamID, "o2")), true},
		{"_id:missing=false", Predicate{Param: ParamID, Missing: &no}, true},
		{"_type", tok(ParamType, "Condition", "Observation"), true},
		{"_type other", tok(ParamType, "Condition"), false},
		{"_type not", not(tok(ParamType, "Observation")), false},
		{"_lastUpdated eq", Predicate{Param: ParamLastUpdated, Type: TypeDate, Date: &DateMatch{Prefix: Eq, Low: ms, High: ms}}, true},
		{"_lastUpdated gt", Predicate{Param: ParamLastUpdated, Type: TypeDate, Date: &DateMatch{Prefix: Gt, Low: ms, High: ms}}, false},
		{"_lastUpdated:missing", Predicate{Param: ParamLastUpdated, Missing: &yes}, false},
		{"reference", Predicate{Param: "subject", Type: TypeReference, Reference: &ReferenceMatch{Type: "Patient", ID: "p1"}}, true},
		{"reference other", Predicate{Param: "subject", Type: TypeReference, Reference: &ReferenceMatch{Type: "Patient", ID: "p2"}}, false},
		{"missing rows", Predicate{Param: "code", Type: TypeToken, Missing: &yes}, true},
	} {
		got, err := Eval([]Clause{{Or: []Predicate{tc.p}}}, tg)
		if err != nil || got != tc.want {
			t.Errorf("%s: Eval = %v, %v; want %v", tc.what, got, err, tc.want)
		}
	}
	if ok, err := Eval(nil, tg); !ok || err != nil {
		t.Errorf("no clauses: %v, %v", ok, err)
	}
}

func TestEvalErrors(t *testing.T) {
	chain := Predicate{Param: "subject", Type: TypeReference, Reference: &ReferenceMatch{Chain: &Query{Types: []string{"Patient"}}}}
	has := Predicate{Param: ParamHas, Has: &Has{Type: "Observation", Param: "subject"}}
	for _, tc := range []struct {
		what          string
		where         []Clause
		notEvaluable  bool
		anyOtherError bool
	}{
		{"chain", []Clause{{Or: []Predicate{chain}}}, true, false},
		{"_has", []Clause{{Or: []Predicate{has}}}, true, false},
		{"chain after a match", []Clause{{Or: []Predicate{{Param: ParamID, Type: TypeToken, Token: &TokenMatch{Code: "x"}}, chain}}}, true, false},
		{"empty clause", []Clause{{}}, false, true},
		{"_type without types", []Clause{{Or: []Predicate{{Param: ParamType, Type: TypeToken, Token: &TokenMatch{}}}}}, false, true},
		{"no value", []Clause{{Or: []Predicate{{Param: "code", Type: TypeToken}}}}, false, true},
		{"unknown prefix", []Clause{{Or: []Predicate{{Param: "date", Type: TypeDate, Date: &DateMatch{Prefix: "zz"}}}}}, false, true},
		{"token", []Clause{{Or: []Predicate{{Param: "code", Type: TypeToken, Token: &TokenMatch{Code: "x"}}}}}, false, false},
		{"composite of a chain", []Clause{{Or: []Predicate{{Param: "c", Type: TypeComposite, Composite: []Predicate{chain}}}}}, true, false},
	} {
		err := Evaluable(tc.where)
		switch {
		case tc.notEvaluable && !errors.Is(err, ErrNotEvaluable):
			t.Errorf("%s: Evaluable = %v, want ErrNotEvaluable", tc.what, err)
		case tc.anyOtherError && (err == nil || errors.Is(err, ErrNotEvaluable)):
			t.Errorf("%s: Evaluable = %v, want another error", tc.what, err)
		case !tc.notEvaluable && !tc.anyOtherError && err != nil:
			t.Errorf("%s: Evaluable = %v", tc.what, err)
		}
	}
	x := &Index{Dates: []DateRow{{Param: "date", Low: 1, High: 2}}}
	if _, err := Eval([]Clause{{Or: []Predicate{{Param: "date", Type: TypeDate, Date: &DateMatch{Prefix: "zz"}}}}}, Target{Index: x}); err == nil {
		t.Error("unknown prefix on a row: no error")
	}
}

// TestExtractJSONFor checks, on every R4 example, that the rows
// ExtractJSONFor gives for one parameter are exactly the rows the whole
// index has for it.
func TestExtractJSONFor(t *testing.T) {
	reg := registry(t)
	files, err := filepath.Glob(filepath.Join(examples, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	base := func(param string) string {
		p, _, _ := strings.Cut(param, ":")
		p, _, _ = strings.Cut(p, "$")
		return p
	}
	for _, f := range files {
		typ, _, _ := strings.Cut(filepath.Base(f), "-")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := reg.ExtractJSON(typ, b)
		if err != nil {
			continue // examples the extractor refuses are tested elsewhere
		}
		for _, p := range reg.Params(typ) {
			got, err := reg.ExtractJSONFor(typ, b, []Clause{{Or: []Predicate{{Param: p.Code}}}})
			if err != nil {
				t.Fatalf("%s %s: %v", f, p.Code, err)
			}
			keep := func(param string) bool { return base(param) == p.Code }
			want := &Index{
				Strings:    only2(whole.Strings, keep, func(r StringRow) string { return r.Param }),
				Tokens:     only2(whole.Tokens, keep, func(r TokenRow) string { return r.Param }),
				Dates:      only2(whole.Dates, keep, func(r DateRow) string { return r.Param }),
				References: only2(whole.References, keep, func(r ReferenceRow) string { return r.Param }),
				Quantities: only2(whole.Quantities, keep, func(r QuantityRow) string { return r.Param }),
				Numbers:    only2(whole.Numbers, keep, func(r NumberRow) string { return r.Param }),
				URIs:       only2(whole.URIs, keep, func(r URIRow) string { return r.Param }),
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%s %s (-whole index +ExtractJSONFor):\n%s", f, p.Code, diff)
			}
		}
	}
	if _, err := reg.ExtractJSONFor("Observation", []byte(`{"resourceType":"Patient"}`), []Clause{{Or: []Predicate{{Param: "code"}}}}); err == nil {
		t.Error("a Patient indexed as an Observation")
	}
	if x, err := reg.ExtractJSONFor("Observation", []byte(`not json`), nil); err != nil || x.Len() != 0 {
		t.Errorf("no parameters asked for: %v, %v (the body need not be read)", x, err)
	}
}

func only2[R any](rows []R, keep func(string) bool, name func(R) string) []R {
	var out []R
	for _, r := range rows {
		if keep(name(r)) {
			out = append(out, r)
		}
	}
	return out
}

func TestRootElements(t *testing.T) {
	for _, tc := range []struct {
		expr, typ string
		want      []string
	}{
		{"Observation.subject.where(resolve() is Patient)", "Observation", []string{"contained", "subject"}},
		{"Observation.code | Observation.component.code", "Observation", []string{"contained", "code", "component"}},
		{"(Observation.value as Quantity) | (Observation.value as SampledData)", "Observation", []string{"contained", "value", "value"}},
		{"Patient.link.other.where(resolve() is Patient)", "Patient", []string{"contained", "link"}},
		{"Resource.meta.tag", "Patient", []string{"contained", "meta"}},
		{"Observation.value.ofType(Observation)", "Observation", []string{"contained", "value"}},
		{"Observation.extension('http://x/Observation.code').value", "Observation", []string{"contained", "extension"}},
		{"Observation", "Observation", nil},                          // the resource itself
		{"Observation.subject | %resource.code", "Observation", nil}, // a variable
		{"subject", "Observation", nil},                              // not from the resource
		{"Observation.", "Observation", nil},
		{"Observation.`code`", "Observation", nil},
	} {
		if got := rootElements(tc.expr, tc.typ); !cmp.Equal(got, tc.want) {
			t.Errorf("rootElements(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

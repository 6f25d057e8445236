package search

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/telefhir/telefhir/fhir/outcome"
)

func values(t testing.TB, query string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", query, err)
	}
	return v
}

func parse(t *testing.T, typ, query string) (Query, []outcome.Issue) {
	t.Helper()
	q, issues, err := registry(t).Parse(typ, values(t, query), ParseOptions{})
	if err != nil {
		t.Fatalf("Parse(%s, %q): %v", typ, query, err)
	}
	return q, issues
}

func boolp(b bool) *bool { return &b }

func pred(param string, typ Type) Predicate { return Predicate{Param: param, Type: typ} }

func str(param string, mode StringMode, v string) Predicate {
	p := pred(param, TypeString)
	p.String = &StringMatch{Mode: mode, Value: v}
	return p
}

func tok(param string, tm TokenMatch) Predicate {
	p := pred(param, TypeToken)
	p.Token = &tm
	return p
}

func date(param string, pre Prefix, lo, hi string) Predicate {
	p := pred(param, TypeDate)
	p.Date = &DateMatch{Prefix: pre, Low: ms(lo), High: ms(hi)}
	return p
}

func ref(param string, rm ReferenceMatch) Predicate {
	p := pred(param, TypeReference)
	p.Reference = &rm
	return p
}

func qty(param string, qm QuantityMatch) Predicate {
	p := pred(param, TypeQuantity)
	p.Quantity = &qm
	return p
}

func num(param string, nm NumberMatch) Predicate {
	p := pred(param, TypeNumber)
	p.Number = &nm
	return p
}

func uri(param string, um URIMatch) Predicate {
	p := pred(param, TypeURI)
	p.URI = &um
	return p
}

func or(ps ...Predicate) Clause { return Clause{Or: ps} }

// TestParseWhere checks the clauses of one parameter per line.
func TestParseWhere(t *testing.T) {
	day := func(param string, pre Prefix, d string) Predicate {
		return date(param, pre, d+"T00:00:00Z", d+"T23:59:59.999Z")
	}
	for _, tt := range []struct {
		typ, query string
		want       []Clause
	}{
		// string
		{"Patient", "name=Smith", []Clause{or(str("name", StringStartsWith, "smith"))}},
		{"Patient", "name=Zürich", []Clause{or(str("name", StringStartsWith, "zurich"))}},
		{"Patient", "name:exact=Zürich", []Clause{or(str("name", StringExact, "Zürich"))}},
		{"Patient", "name:contains=ÜRI", []Clause{or(str("name", StringContains, "uri"))}},
		{"Patient", "family=Smith,Renée", []Clause{or(str("family", StringStartsWith, "smith"), str("family", StringStartsWith, "renee"))}},
		{"Patient", `family=Smith\,Jr`, []Clause{or(str("family", StringStartsWith, "smith,jr"))}},
		{"Patient", `family=a\\,b`, []Clause{or(str("family", StringStartsWith, `a\`), str("family", StringStartsWith, "b"))}},
		{"Patient", "given=Ann&given=Bea", []Clause{or(str("given", StringStartsWith, "ann")), or(str("given", StringStartsWith, "bea"))}},
		{"Patient", "name=", nil}, // empty: ignored
		// token
		{"Observation", "code=1234-5", []Clause{or(tok("code", TokenMatch{Code: "1234-5"}))}},
		{"Observation", "code=http://loinc.org|1234-5", []Clause{or(tok("code", TokenMatch{System: "http://loinc.org", SystemSet: true, Code: "1234-5"}))}},
		{"Observation", "code=|1234-5", []Clause{or(tok("code", TokenMatch{SystemSet: true, Code: "1234-5"}))}},
		{"Observation", "code=http://loinc.org|", []Clause{or(tok("code", TokenMatch{System: "http://loinc.org", SystemSet: true}))}},
		{"Observation", `code=a\|b`, []Clause{or(tok("code", TokenMatch{Code: "a|b"}))}},
		{"Observation", "code=a,http://loinc.org|b", []Clause{or(tok("code", TokenMatch{Code: "a"}), tok("code", TokenMatch{System: "http://loinc.org", SystemSet: true, Code: "b"}))}},
		{"Observation", "status:not=final", []Clause{or(Predicate{Param: "status", Type: TypeToken, Not: true, Token: &TokenMatch{Code: "final"}})}},
		{"Observation", "code:text=Body  Wéight", []Clause{or(tok("code", TokenMatch{Text: "body weight"}))}},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123", []Clause{or(tok("identifier:of-type", TokenMatch{System: "http://terminology.hl7.org/CodeSystem/v2-0203", SystemSet: true, Code: "MR|123"}))}},
		{"Patient", "active=true", []Clause{or(tok("active", TokenMatch{Code: "true"}))}},
		{"Patient", "_tag=http://example.org/tags|vip", []Clause{or(tok("_tag", TokenMatch{System: "http://example.org/tags", SystemSet: true, Code: "vip"}))}},
		{"Patient", "_security=R", []Clause{or(tok("_security", TokenMatch{Code: "R"}))}},
		// date, every precision and prefix
		{"Patient", "birthdate=1974", []Clause{or(date("birthdate", Eq, "1974-01-01T00:00:00Z", "1974-12-31T23:59:59.999Z"))}},
		{"Patient", "birthdate=1974-12", []Clause{or(date("birthdate", Eq, "1974-12-01T00:00:00Z", "1974-12-31T23:59:59.999Z"))}},
		{"Patient", "birthdate=1974-12-25", []Clause{or(day("birthdate", Eq, "1974-12-25"))}},
		{"Patient", "birthdate=eq1974-12-25", []Clause{or(day("birthdate", Eq, "1974-12-25"))}},
		{"Patient", "birthdate=ne1974-12-25", []Clause{or(day("birthdate", Ne, "1974-12-25"))}},
		{"Patient", "birthdate=gt1974-12-25&birthdate=lt2000", []Clause{
			or(day("birthdate", Gt, "1974-12-25")), or(date("birthdate", Lt, "2000-01-01T00:00:00Z", "2000-12-31T23:59:59.999Z")),
		}},
		{"Observation", "date=ge2026-03-14T09:12", []Clause{or(date("date", Ge, "2026-03-14T09:12:00Z", "2026-03-14T09:12:59.999Z"))}},
		{"Observation", "date=le2026-03-14T09:12:47Z", []Clause{or(date("date", Le, "2026-03-14T09:12:47Z", "2026-03-14T09:12:47.999Z"))}},
		{"Observation", "date=sa2026-03-14T09:12:47%2B01:00", []Clause{or(date("date", Sa, "2026-03-14T08:12:47Z", "2026-03-14T08:12:47.999Z"))}},
		{"Observation", "date=eb2026-03-14T09:12:47+01:00", []Clause{or(date("date", Eb, "2026-03-14T08:12:47Z", "2026-03-14T08:12:47.999Z"))}}, // + decoded to space
		{"Observation", "date=ap2026-03-14T09:12:47.25-05:00", []Clause{or(date("date", Ap, "2026-03-14T14:12:47.25Z", "2026-03-14T14:12:47.259Z"))}},
		{"Observation", "_lastUpdated=gt2026-03-14", []Clause{or(day("_lastUpdated", Gt, "2026-03-14"))}},
		// number
		{"RiskAssessment", "probability=0.25", []Clause{or(num("probability", NumberMatch{Prefix: Eq, Value: 0.25, Low: 0.245, High: 0.255}))}},
		{"RiskAssessment", "probability=gt1e-1", []Clause{or(num("probability", NumberMatch{Prefix: Gt, Value: 0.1, Low: 0.05, High: 0.15}))}},
		{"MolecularSequence", "variant-start=ge100,lt-3", []Clause{or(
			num("variant-start", NumberMatch{Prefix: Ge, Value: 100, Low: 99.5, High: 100.5}),
			num("variant-start", NumberMatch{Prefix: Lt, Value: -3, Low: -3.5, High: -2.5}),
		)}},
		// quantity
		{"Observation", "value-quantity=5.4", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Eq, Value: 5.4, Low: 5.35, High: 5.45}))}},
		{"Observation", "value-quantity=5.4|http://unitsofmeasure.org|mg", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Eq, Value: 0.0054, Low: 0.00535, High: 0.00545, System: UCUM, Code: "g", Canonical: true}))}},
		{"Observation", "value-quantity=gt37|http://unitsofmeasure.org|Cel", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Gt, Value: 310.15, Low: 309.65, High: 310.65, System: UCUM, Code: "K", Canonical: true}))}},
		{"Observation", "value-quantity=5.4||mg", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Eq, Value: 5.4, Low: 5.35, High: 5.45, Code: "mg"}))}},
		{"Observation", "value-quantity=le5.4|http://snomed.info/sct|258684004", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Le, Value: 5.4, Low: 5.35, High: 5.45, System: "http://snomed.info/sct", Code: "258684004"}))}},
		{"Observation", "value-quantity=5.4|http://unitsofmeasure.org|{widgets}", []Clause{or(qty("value-quantity", QuantityMatch{Prefix: Eq, Value: 5.4, Low: 5.35, High: 5.45, System: UCUM, Code: "{widgets}"}))}},
		{"Invoice", "totalnet=40|urn:iso:std:iso:4217|EUR", []Clause{or(qty("totalnet", QuantityMatch{Prefix: Eq, Value: 40, Low: 39.5, High: 40.5, System: CurrencySystem, Code: "EUR"}))}},
		// reference
		{"Observation", "subject=Patient/123", []Clause{or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}))}},
		{"Observation", "subject=123", []Clause{or(ref("subject", ReferenceMatch{ID: "123"}))}},
		{"Observation", "subject:Patient=123", []Clause{or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}))}},
		{"Observation", "subject:Patient=Patient/123", []Clause{or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}))}},
		{"Observation", "subject=Patient/123/_history/4", []Clause{or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}))}},
		{"Observation", "subject=" + url.QueryEscape(testBase+"/Patient/123"), []Clause{or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}))}},
		{"Observation", "subject=http://other.org/fhir/Patient/1", []Clause{or(ref("subject", ReferenceMatch{URL: "http://other.org/fhir/Patient/1"}))}},
		{"Observation", "subject=urn:uuid:0b7c4e1a", []Clause{or(ref("subject", ReferenceMatch{URL: "urn:uuid:0b7c4e1a"}))}},
		{"QuestionnaireResponse", "questionnaire=http://example.org/Questionnaire/phq-9|2.1", []Clause{or(ref("questionnaire", ReferenceMatch{URL: "http://example.org/Questionnaire/phq-9"}))}},
		{"Observation", "subject:identifier=http://hospital.example.org/mrn|M-1", []Clause{or(ref("subject", ReferenceMatch{Identifier: &TokenMatch{System: "http://hospital.example.org/mrn", SystemSet: true, Code: "M-1"}}))}},
		{"Observation", "patient=Patient/1,Patient/2", []Clause{or(ref("patient", ReferenceMatch{Type: "Patient", ID: "1"}), ref("patient", ReferenceMatch{Type: "Patient", ID: "2"}))}},
		// uri
		{"ValueSet", "url=http://example.org/fhir/ValueSet/vitals", []Clause{or(uri("url", URIMatch{Value: "http://example.org/fhir/ValueSet/vitals"}))}},
		{"ValueSet", "url:below=http://example.org/fhir/", []Clause{or(uri("url", URIMatch{Value: "http://example.org/fhir/", Below: true}))}},
		{"ValueSet", "url:above=http://example.org/fhir/ValueSet/vitals/x", []Clause{or(uri("url", URIMatch{Value: "http://example.org/fhir/ValueSet/vitals/x", Above: true}))}},
		{"Patient", "_profile=http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient", []Clause{or(uri("_profile", URIMatch{Value: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"}))}},
		{"Patient", "_source=urn:uuid:1", []Clause{or(uri("_source", URIMatch{Value: "urn:uuid:1"}))}},
		// _id
		{"Patient", "_id=a,b", []Clause{or(tok("_id", TokenMatch{Code: "a"}), tok("_id", TokenMatch{Code: "b"}))}},
		// :missing
		{"Patient", "name:missing=true", []Clause{or(Predicate{Param: "name", Type: TypeString, Missing: boolp(true)})}},
		{"Observation", "subject:missing=false", []Clause{or(Predicate{Param: "subject", Type: TypeReference, Missing: boolp(false)})}},
		{"Observation", "code-value-quantity:missing=true", []Clause{or(Predicate{Param: "code-value-quantity", Type: TypeComposite, Missing: boolp(true)})}},
	} {
		q, issues := parse(t, tt.typ, tt.query)
		if len(issues) != 0 {
			t.Errorf("Parse(%s, %q) issues: %+v", tt.typ, tt.query, issues)
		}
		if diff := cmp.Diff(tt.want, q.Where, floats, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Parse(%s, %q) Where (-want +got):\n%s", tt.typ, tt.query, diff)
		}
	}
}

func TestParseComposite(t *testing.T) {
	q, _ := parse(t, "Observation", "code-value-quantity="+url.QueryEscape("http://loinc.org|8867-4$gt100"))
	want := []Clause{or(Predicate{Param: "code-value-quantity", Type: TypeComposite, Composite: []Predicate{
		tok("code-value-quantity$0", TokenMatch{System: "http://loinc.org", SystemSet: true, Code: "8867-4"}),
		qty("code-value-quantity$1", QuantityMatch{Prefix: Gt, Value: 100, Low: 99.5, High: 100.5}),
	}})}
	if diff := cmp.Diff(want, q.Where, floats); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	q, _ = parse(t, "Observation", "component-code-value-quantity="+url.QueryEscape("http://loinc.org|8480-6$ge140|http://unitsofmeasure.org|mm[Hg],http://loinc.org|8462-4$ge90|http://unitsofmeasure.org|mm[Hg]"))
	if len(q.Where) != 1 || len(q.Where[0].Or) != 2 {
		t.Fatalf("Where = %+v", q.Where)
	}
	c := q.Where[0].Or[1].Composite
	if len(c) != 2 || c[0].Token.Code != "8462-4" || !c[1].Quantity.Canonical || c[1].Quantity.Code != "Pa" || c[1].Quantity.Prefix != Ge {
		t.Errorf("second alternative = %+v %+v", c[0].Token, c[1].Quantity)
	}
	q, _ = parse(t, "Observation", "code-value-string="+url.QueryEscape(`http://loinc.org|1234-5$a\$b`))
	if s := q.Where[0].Or[0].Composite[1].String; s == nil || s.Value != "a$b" {
		t.Errorf("escaped $: %+v", s)
	}
	q, _ = parse(t, "Observation", "code-value-date="+url.QueryEscape("http://loinc.org|21112-8$lt1990"))
	if d := q.Where[0].Or[0].Composite[1].Date; d == nil || d.Prefix != Lt || d.Low != ms("1990-01-01T00:00:00Z") {
		t.Errorf("code-value-date: %+v", d)
	}
}

func TestParseChain(t *testing.T) {
	chain := func(param string, types []string, where ...Clause) Predicate {
		return ref(param, ReferenceMatch{Chain: &Query{Types: types, Where: where}})
	}
	for _, tt := range []struct {
		typ, query string
		want       []Clause
	}{
		{"Observation", "subject:Patient.name=smith", []Clause{or(chain("subject", []string{"Patient"}, or(str("name", StringStartsWith, "smith"))))}},
		// No type: every target that has the parameter.
		{"Observation", "subject.name=smith,jones", []Clause{or(chain("subject", []string{"Patient", "Location"},
			or(str("name", StringStartsWith, "smith"), str("name", StringStartsWith, "jones"))))}},
		{"Observation", "subject:Patient.organization.name=acme", []Clause{or(chain("subject", []string{"Patient"},
			or(chain("organization", []string{"Organization"}, or(str("name", StringStartsWith, "acme"))))))}},
		{"Observation", "subject:Patient.birthdate=lt1990", []Clause{or(chain("subject", []string{"Patient"},
			or(date("birthdate", Lt, "1990-01-01T00:00:00Z", "1990-12-31T23:59:59.999Z"))))}},
		{"Observation", "subject:Patient._id=1", []Clause{or(chain("subject", []string{"Patient"}, or(tok("_id", TokenMatch{Code: "1"}))))}},
		{"Observation", "subject:Patient.name:exact=Ann", []Clause{or(chain("subject", []string{"Patient"}, or(str("name", StringExact, "Ann"))))}},
		{"Observation", "subject:Patient.identifier=http://h|1", []Clause{or(chain("subject", []string{"Patient"}, or(tok("identifier", TokenMatch{System: "http://h", SystemSet: true, Code: "1"}))))}},
		{"Encounter", "patient._has:Observation:patient:code=1234-5", []Clause{or(chain("patient", []string{"Patient", "Group"},
			or(Predicate{Param: ParamHas, Type: TypeReference, Has: &Has{Type: "Observation", Param: "patient", Where: []Clause{or(tok("code", TokenMatch{Code: "1234-5"}))}}})))}},
		// _has
		{"Patient", "_has:Observation:patient:code=1234-5", []Clause{or(Predicate{Param: ParamHas, Type: TypeReference,
			Has: &Has{Type: "Observation", Param: "patient", Where: []Clause{or(tok("code", TokenMatch{Code: "1234-5"}))}}})}},
		{"Patient", "_has:Observation:subject:code:text=weight", []Clause{or(Predicate{Param: ParamHas, Type: TypeReference,
			Has: &Has{Type: "Observation", Param: "subject", Where: []Clause{or(tok("code", TokenMatch{Text: "weight"}))}}})}},
		{"Patient", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1", []Clause{or(Predicate{Param: ParamHas, Type: TypeReference,
			Has: &Has{Type: "Observation", Param: "patient", Where: []Clause{or(Predicate{Param: ParamHas, Type: TypeReference,
				Has: &Has{Type: "AuditEvent", Param: "entity", Where: []Clause{or(ref("agent", ReferenceMatch{Type: "Practitioner", ID: "1"}))}}})}}})}},
	} {
		q, issues := parse(t, tt.typ, tt.query)
		if len(issues) != 0 {
			t.Errorf("Parse(%s, %q) issues: %+v", tt.typ, tt.query, issues)
		}
		if diff := cmp.Diff(tt.want, q.Where, floats, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Parse(%s, %q) Where (-want +got):\n%s", tt.typ, tt.query, diff)
		}
	}
}

func TestParseResult(t *testing.T) {
	q, issues := parse(t, "Observation", "_sort=-date,code,_id,-_lastUpdated&_count=5&_total=accurate&_summary=count&_elements=id&_format=json&_pretty=true&_cursor=abc")
	if len(issues) != 0 || len(q.Where) != 0 {
		t.Errorf("issues %+v where %+v", issues, q.Where)
	}
	wantSort := []SortKey{{Param: "date", Type: TypeDate, Desc: true}, {Param: "code", Type: TypeToken}, {Param: ParamID, Type: TypeToken}, {Param: ParamLastUpdated, Type: TypeDate, Desc: true}}
	if diff := cmp.Diff(wantSort, q.Sort); diff != "" {
		t.Errorf("Sort (-want +got):\n%s", diff)
	}
	if q.Count != 5 || q.Total != TotalAccurate || len(q.Types) != 1 || q.Types[0] != "Observation" {
		t.Errorf("Count %d Total %v Types %v", q.Count, q.Total, q.Types)
	}
	for _, tt := range []struct {
		query string
		opts  ParseOptions
		count int
		info  bool
	}{
		{"", ParseOptions{}, DefaultCount, false},
		{"_count=", ParseOptions{}, DefaultCount, false}, // empty: ignored
		{"", ParseOptions{DefaultCount: 50}, 50, false},
		{"", ParseOptions{DefaultCount: 50, MaxCount: 10}, 10, false},
		{"_count=0", ParseOptions{}, 0, false},
		{"_count=1000", ParseOptions{}, 1000, false},
		{"_count=1001", ParseOptions{}, DefaultMaxCount, true},
		{"_count=200", ParseOptions{MaxCount: 100}, 100, true},
	} {
		q, issues, err := registry(t).Parse("Patient", values(t, tt.query), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if q.Count != tt.count || (len(issues) == 1) != tt.info || (tt.info && issues[0].Severity != "information") {
			t.Errorf("%q %+v: Count %d issues %+v, want %d", tt.query, tt.opts, q.Count, issues, tt.count)
		}
	}
	for v, want := range map[string]TotalMode{"none": TotalNone, "estimate": TotalEstimate, "accurate": TotalAccurate} {
		if q, _ := parse(t, "Patient", "_total="+v); q.Total != want {
			t.Errorf("_total=%s: %v", v, q.Total)
		}
	}

	q, _ = parse(t, "Observation", "_include=Observation:subject,Observation:performer:Practitioner&_include=*&_include:iterate=Patient:organization&_include=Observation:*&_revinclude=Provenance:target&_revinclude:iterate=AuditEvent:entity")
	wantInc := []Include{
		{Type: "Observation", Param: "subject"}, {Type: "Observation", Param: "performer", Target: "Practitioner"},
		{Type: "*", Param: "*"}, {Type: "Observation", Param: "*"},
		{Type: "Patient", Param: "organization", Iterate: true},
	}
	if diff := cmp.Diff(wantInc, q.Include, cmpopts.SortSlices(func(a, b Include) bool { return a.Type+a.Param+a.Target < b.Type+b.Param+b.Target })); diff != "" {
		t.Errorf("Include (-want +got):\n%s", diff)
	}
	wantRev := []Include{{Type: "AuditEvent", Param: "entity", Iterate: true}, {Type: "Provenance", Param: "target"}}
	if diff := cmp.Diff(wantRev, q.RevInclude, cmpopts.SortSlices(func(a, b Include) bool { return a.Type < b.Type })); diff != "" {
		t.Errorf("RevInclude (-want +got):\n%s", diff)
	}
}

func TestParseSystemLevel(t *testing.T) {
	q, issues := parse(t, "", "_type=Patient,Practitioner&name=smith&_lastUpdated=ge2026&_sort=name")
	if len(issues) != 0 || len(q.Types) != 2 || len(q.Where) != 2 || len(q.Sort) != 1 {
		t.Errorf("Types %v Where %+v Sort %+v issues %+v", q.Types, q.Where, q.Sort, issues)
	}
	q, issues = parse(t, "", "_id=1&_tag=vip&name=smith")
	if len(q.Types) != 0 || len(q.Where) != 2 || len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, `"name"`) {
		t.Errorf("Types %v Where %+v issues %+v", q.Types, q.Where, issues)
	}
	_, issues = parse(t, "Patient", "_type=Observation")
	if len(issues) != 1 {
		t.Errorf("_type on a type-level search: %+v", issues)
	}
}

// TestParseNotSupported: unknown or unsupported parameters and modifiers
// are a warning, or with Strict an error.
func TestParseNotSupported(t *testing.T) {
	for _, tt := range []struct{ typ, query, mention string }{
		{"Patient", "foo=bar", `"foo"`},
		{"Patient", "_text=cancer", "full-text"},
		{"Patient", "_content=cancer", "full-text"},
		{"Patient", "_query=everything", "named queries"},
		{"Patient", "_list=42", `"_list"`},
		{"Patient", "_filter=name eq x", `"_filter"`},
		{"Location", "near=42.25|-83.1|10|km", "special"},
		{"Observation", "code:in=http://example.org/ValueSet/vs", ":in"},
		{"Observation", "code:below=http://snomed.info/sct|123", ":below"},
		{"Patient", "name:nope=x", ":nope"},
		{"Patient", "name:text=x", ":text"},
		{"Patient", "birthdate:exact=2000", ":exact"},
		{"Observation", "subject:above=Patient/1", ":above"},
		{"Observation", "subject:Foo=1", ":Foo"},
		{"Patient", "_id:missing=true", ":missing"},
		{"Patient", "_id:not=1", ":not"},
		{"Patient", "_sort=nope", `"nope"`},
		{"Observation", "_sort=subject", `"subject"`},
		{"Observation", "_sort=code-value-quantity", `"code-value-quantity"`},
		{"Patient", "_sort:desc=name", "_sort:desc"},
		{"Patient", "_count:x=1", "_count:x"},
		{"Observation", "_include=Observation:nope", `"nope"`},
		{"Observation", "_include:foo=Observation:subject", "_include:foo"},
		{"Bundle", "_include=Bundle:composition", "composition"},
	} {
		q, issues, err := registry(t).Parse(tt.typ, values(t, tt.query), ParseOptions{})
		if err != nil {
			t.Errorf("lenient Parse(%s, %q): %v", tt.typ, tt.query, err)
			continue
		}
		if len(issues) != 1 || issues[0].Severity != "warning" || issues[0].Code != "not-supported" || !strings.Contains(issues[0].Diagnostics, tt.mention) {
			t.Errorf("lenient Parse(%s, %q) issues = %+v, want one not-supported warning mentioning %s", tt.typ, tt.query, issues, tt.mention)
		}
		if len(q.Where) != 0 || len(q.Sort) != 0 || len(q.Include) != 0 {
			t.Errorf("lenient Parse(%s, %q) kept the parameter: %+v", tt.typ, tt.query, q)
		}
		_, _, err = registry(t).Parse(tt.typ, values(t, tt.query), ParseOptions{Strict: true})
		var oe *outcome.Error
		if !errors.As(err, &oe) || oe.Kind != outcome.KindInvalid || oe.Status() != 400 || oe.Issues[0].Code != "not-supported" || !strings.Contains(oe.Issues[0].Diagnostics, tt.mention) {
			t.Errorf("strict Parse(%s, %q) = %v, want a 400 not-supported error mentioning %s", tt.typ, tt.query, err, tt.mention)
		}
	}
}

// TestParseErrors: malformed values are errors whatever the handling, and
// name the parameter and the value.
func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ typ, name, value string }{
		// dates
		{"Patient", "birthdate", "1974-13"},
		{"Patient", "birthdate", "25/12/1974"},
		{"Patient", "birthdate", "xx1974"},
		{"Patient", "birthdate", "gt"},
		{"Patient", "birthdate", "GT1974"},
		{"Patient", "birthdate", "2000,bad"},
		{"Observation", "date", "2026-03-14T25:00"},
		{"Patient", "_lastUpdated", "yesterday"},
		// numbers and quantities
		{"RiskAssessment", "probability", "abc"},
		{"RiskAssessment", "probability", "zz5"},
		{"Observation", "value-quantity", "5.4|mg"},
		{"Observation", "value-quantity", "5.4|a|b|c"},
		{"Observation", "value-quantity", "|http://unitsofmeasure.org|mg"},
		{"Observation", "value-quantity", "gtx|http://unitsofmeasure.org|mg"},
		// tokens
		{"Observation", "code", "a|b|c"},
		{"Observation", "code", "|"},
		{"Observation", "code", "a,,b"},
		{"Patient", "identifier:of-type", "MR|123"},
		{"Patient", "identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203||123"},
		{"Observation", "code:text", "   "},
		{"Patient", "_id", "http://x|1"},
		// references
		{"Observation", "subject", "Medication/1"},
		{"Observation", "subject", "Foo/1"},
		{"Observation", "subject", "Patient/"},
		{"Observation", "subject", "a b"},
		{"Observation", "subject", "Patient/1/2"},
		{"Observation", "subject:Patient", "Group/1"},
		{"Observation", "subject:Medication", "1"}, // a type, but not a target
		// :missing
		{"Patient", "name:missing", "maybe"},
		// composites
		{"Observation", "code-value-quantity", "http://loinc.org|8867-4"},
		{"Observation", "code-value-quantity", "a$b$c"},
		{"Observation", "code-value-quantity", "$gt100"},
		{"Observation", "code-value-quantity", "http://loinc.org|8867-4$bad"},
		// chains
		{"Observation", "code.name", "x"},
		{"Observation", "status.name", "x"},
		{"Observation", "subject:Medication.code", "x"},
		{"Observation", "subject:Nope.name", "x"},
		{"Observation", "subject:Patient.nope", "x"},
		{"Observation", "subject:Patient.", "x"},
		{"Observation", "subject:Patient.name:nope", "x"},
		{"Observation", "subject:Patient._text", "x"},
		{"Observation", "subject:Patient.birthdate", "notadate"},
		{"Observation", "subject:Patient.link:Patient.link:Patient.link:Patient.link:Patient.link:Patient.name", "x"},
		{"Observation", "_id.name", "x"},
		{"Observation", "subject.nope", "x"},
		// _has
		{"Patient", "_has:Observation:patient", "x"},
		{"Patient", "_has:Observation", "x"},
		{"Patient", "_has:Nope:patient:code", "x"},
		{"Patient", "_has:Observation:nope:code", "x"},
		{"Patient", "_has:Observation:code:code", "x"},
		{"Patient", "_has:Observation:patient:nope", "x"},
		{"Patient", "_has:Observation:encounter:code", "x"},
		{"Patient", "_has:Observation:patient:date", "bad"},
		{"Patient", "_has:Bundle:composition:x", "x"},
		// result parameters
		{"Patient", "_count", "-1"},
		{"Patient", "_count", "ten"},
		{"Patient", "_total", "some"},
		{"Patient", "_sort", "name,,family"},
		{"Observation", "_include", "Observation"},
		{"Observation", "_include", "Observation:subject:Medication"},
		{"Observation", "_include", "Observation:code"},
		{"Observation", "_include", "Patient:organization"},
		{"Observation", "_include", "Nope:subject"},
		{"Observation", "_include", "Observation:subject:Nope"},
		{"Observation", "_revinclude", "Provenance"},
		{"", "_type", "Nope"},
	} {
		v := url.Values{tt.name: {tt.value}}
		for _, strict := range []bool{false, true} {
			_, _, err := registry(t).Parse(tt.typ, v, ParseOptions{Strict: strict})
			var oe *outcome.Error
			if !errors.As(err, &oe) || oe.Kind != outcome.KindInvalid || oe.Status() != 400 {
				t.Errorf("Parse(%s, %s=%s, strict %v) = %v, want an *outcome.Error of kind invalid", tt.typ, tt.name, tt.value, strict, err)
				continue
			}
			d := oe.Issues[0].Diagnostics
			if !strings.Contains(d, tt.name) || !strings.Contains(d, tt.value) {
				t.Errorf("Parse(%s, %s=%s): diagnostics %q do not name the parameter and the value", tt.typ, tt.name, tt.value, d)
			}
		}
	}
	// Repeated single-valued result parameters.
	for _, name := range []string{"_count", "_total", "_sort"} {
		_, _, err := registry(t).Parse("Patient", url.Values{name: {"1", "2"}}, ParseOptions{})
		if !outcome.Is(err, outcome.KindInvalid) {
			t.Errorf("%s twice: %v", name, err)
		}
	}
	if _, _, err := registry(t).Parse("Nope", nil, ParseOptions{}); !outcome.Is(err, outcome.KindInvalid) {
		t.Errorf("unknown type: %v", err)
	}
	// Long values are cut in messages.
	_, _, err := registry(t).Parse("Patient", url.Values{"birthdate": {strings.Repeat("9", 5000)}}, ParseOptions{})
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("long value: %d-byte message", len(err.Error()))
	}
}

func TestCompartmentClause(t *testing.T) {
	r := registry(t)
	c, ok := r.CompartmentClause("Patient", "123", "Observation")
	want := or(ref("subject", ReferenceMatch{Type: "Patient", ID: "123"}), ref("performer", ReferenceMatch{Type: "Patient", ID: "123"}))
	if diff := cmp.Diff(want, c); !ok || diff != "" {
		t.Errorf("Observation (-want +got):\n%s", diff)
	}
	c, ok = r.CompartmentClause("Patient", "123", "Patient")
	want = or(ref("link", ReferenceMatch{Type: "Patient", ID: "123"}), tok(ParamID, TokenMatch{Code: "123"}))
	if diff := cmp.Diff(want, c); !ok || diff != "" {
		t.Errorf("Patient (-want +got):\n%s", diff)
	}
	c, ok = r.CompartmentClause("Encounter", "e1", "Encounter")
	if !ok || len(c.Or) != 1 || c.Or[0].Param != ParamID {
		t.Errorf("Encounter in its own compartment: %+v", c)
	}
	if _, ok := r.CompartmentClause("Patient", "123", "Medication"); ok {
		t.Error("Medication is never in a Patient compartment")
	}
	if _, ok := r.CompartmentClause("Nope", "1", "Observation"); ok {
		t.Error("unknown compartment type")
	}
}

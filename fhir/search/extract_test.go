package search

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/outcome"
)

const examples = "../resource/testdata/r4examples/"

// extractFile indexes a file of examples/ or testdata/.
func extractFile(t testing.TB, typ, path string) *Index {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := registry(t).ExtractJSON(typ, b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return x
}

func extractJSON(t testing.TB, typ, doc string) *Index {
	t.Helper()
	x, err := registry(t).ExtractJSON(typ, []byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return x
}

// only keeps the rows of param.
func only[R any](rows []R, param string, name func(R) string) []R {
	var out []R
	for _, r := range rows {
		if name(r) == param {
			out = append(out, r)
		}
	}
	return out
}

func stringsOf(x *Index, p string) []StringRow {
	return only(x.Strings, p, func(r StringRow) string { return r.Param })
}

func tokensOf(x *Index, p string) []TokenRow {
	return only(x.Tokens, p, func(r TokenRow) string { return r.Param })
}

func datesOf(x *Index, p string) []DateRow {
	return only(x.Dates, p, func(r DateRow) string { return r.Param })
}

func refsOf(x *Index, p string) []ReferenceRow {
	return only(x.References, p, func(r ReferenceRow) string { return r.Param })
}

func quantitiesOf(x *Index, p string) []QuantityRow {
	return only(x.Quantities, p, func(r QuantityRow) string { return r.Param })
}

func numbersOf(x *Index, p string) []NumberRow {
	return only(x.Numbers, p, func(r NumberRow) string { return r.Param })
}

func urisOf(x *Index, p string) []URIRow {
	return only(x.URIs, p, func(r URIRow) string { return r.Param })
}

// floats compare to 1e-9 relative.
var floats = cmpopts.EquateApprox(1e-9, 0)

func check[R any](t *testing.T, name string, got, want []R) {
	t.Helper()
	if diff := cmp.Diff(want, got, floats, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestExtractString(t *testing.T) {
	pat := extractFile(t, "Patient", examples+"Patient-example.json")
	s := func(p, exact string) StringRow { return StringRow{Param: p, Norm: Normalize(exact), Exact: exact} }
	check(t, "name", stringsOf(pat, "name"), []StringRow{
		s("name", "Chalmers"), s("name", "Peter"), s("name", "James"), s("name", "Jim"), s("name", "Windsor"),
	})
	check(t, "family", stringsOf(pat, "family"), []StringRow{s("family", "Chalmers"), s("family", "Windsor")})
	check(t, "address-city", stringsOf(pat, "address-city"), []StringRow{{Param: "address-city", Norm: "pleasantville", Exact: "PleasantVille"}})
	// Address: each part, and the text with its white space collapsed in Norm.
	check(t, "address", stringsOf(pat, "address"), []StringRow{
		s("address", "534 Erewhon St"), s("address", "PleasantVille"), s("address", "Rainbow"), s("address", "Vic"), s("address", "3999"),
		{Param: "address", Norm: "534 erewhon st peasantville, rainbow, vic 3999", Exact: "534 Erewhon St PeasantVille, Rainbow, Vic  3999"},
	})

	syn := extractFile(t, "Patient", "testdata/patient-synthea.json")
	check(t, "synthea family", stringsOf(syn, "family"), []StringRow{
		{Param: "family", Norm: "dubois-zurcher", Exact: "Dubois-Zürcher"}, {Param: "family", Norm: "dubois", Exact: "Dubois"},
	})
	check(t, "synthea given", stringsOf(syn, "given"), []StringRow{
		{Param: "given", Norm: "amelie", Exact: "Amélie"}, {Param: "given", Norm: "renee", Exact: "Renée"},
	})
	// The maiden name repeats given names and prefix: no duplicate rows.
	if n := len(stringsOf(syn, "name")); n != 5 {
		t.Errorf("synthea name: %d rows, want 5: %+v", n, stringsOf(syn, "name"))
	}

	// A plain string and markdown.
	org := extractFile(t, "Organization", examples+"Organization-f203.json")
	check(t, "Organization name", stringsOf(org, "name"), []StringRow{s("name", "Blijdorp Medisch Centrum (BUMC)")})
	q := extractJSON(t, "Questionnaire", `{"resourceType":"Questionnaire","status":"draft","description":"**Intake** form","title":"Intake  Form"}`)
	check(t, "Questionnaire description", stringsOf(q, "description"), []StringRow{{Param: "description", Norm: "**intake** form", Exact: "**Intake** form"}})
	check(t, "Questionnaire title", stringsOf(q, "title"), []StringRow{{Param: "title", Norm: "intake form", Exact: "Intake  Form"}})
}

func TestExtractToken(t *testing.T) {
	obs := extractFile(t, "Observation", examples+"Observation-example.json")
	check(t, "code", tokensOf(obs, "code"), []TokenRow{
		{Param: "code", System: "http://loinc.org", Code: "29463-7", Text: "body weight"},
		{Param: "code", System: "http://loinc.org", Code: "3141-9", Text: "body weight measured"},
		{Param: "code", System: "http://snomed.info/sct", Code: "27113001", Text: "body weight"},
		{Param: "code", System: "http://acme.org/devices/clinical-codes", Code: "body-weight", Text: "body weight"},
	})
	check(t, "status (code)", tokensOf(obs, "status"), []TokenRow{{Param: "status", Code: "final"}})

	pat := extractFile(t, "Patient", examples+"Patient-example.json")
	check(t, "identifier", tokensOf(pat, "identifier"), []TokenRow{{Param: "identifier", System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345"}})
	check(t, "identifier:of-type", tokensOf(pat, OfTypeParam("identifier")), []TokenRow{
		{Param: "identifier:of-type", System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "MR|12345"},
	})
	check(t, "active (boolean)", tokensOf(pat, "active"), []TokenRow{{Param: "active", Code: "true"}})
	check(t, "gender", tokensOf(pat, "gender"), []TokenRow{{Param: "gender", Code: "male"}})
	check(t, "phone (ContactPoint)", tokensOf(pat, "phone"), []TokenRow{
		{Param: "phone", Code: "(03) 5555 6473"}, {Param: "phone", Code: "(03) 3410 5613"}, {Param: "phone", Code: "(03) 5555 8834"},
	})
	// deceased is a computed boolean: false when not deceased.
	check(t, "deceased (System.Boolean)", tokensOf(pat, "deceased"), []TokenRow{{Param: "deceased", Code: "false"}})

	syn := extractFile(t, "Patient", "testdata/patient-synthea.json")
	// Identifier type text goes into Text.
	ids := tokensOf(syn, "identifier")
	if len(ids) != 5 || ids[2] != (TokenRow{Param: "identifier", System: "http://hl7.org/fhir/sid/us-ssn", Code: "999-41-7265", Text: "social security number"}) {
		t.Errorf("synthea identifiers = %+v", ids)
	}
	// CodeableConcept text equal to a display: no text-only row.
	check(t, "language", tokensOf(syn, "language"), []TokenRow{{Param: "language", System: "urn:ietf:bcp:47", Code: "fr", Text: "french"}})
	check(t, "email", tokensOf(syn, "email"), []TokenRow{{Param: "email", Code: "amelie.dubois@example.org"}})

	// CodeableConcept with text only.
	enc := extractFile(t, "Encounter", examples+"Encounter-f201.json")
	check(t, "reason-code", tokensOf(enc, "reason-code"), []TokenRow{
		{Param: "reason-code", Text: "the patient had fever peaks over the last couple of days. he is worried about these peaks."},
	})
	// CodeableConcept whose text differs from the display: both.
	bp := extractFile(t, "Observation", "testdata/observation-blood-pressure.json")
	check(t, "bp code", tokensOf(bp, "code"), []TokenRow{
		{Param: "code", System: "http://loinc.org", Code: "85354-9", Text: "blood pressure panel with all children optional"},
		{Param: "code", Text: "blood pressure systolic & diastolic"},
	})
	// A Coding (Resource.meta.tag) and a uri primitive as token.
	tag := extractJSON(t, "Patient", `{"resourceType":"Patient","meta":{"tag":[{"system":"http://example.org/tags","code":"vip","display":"V.I.P."}],"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`)
	check(t, "_tag (Coding)", tokensOf(tag, "_tag"), []TokenRow{{Param: "_tag", System: "http://example.org/tags", Code: "vip", Text: "v.i.p."}})
	check(t, "_security", tokensOf(tag, "_security"), []TokenRow{{Param: "_security", System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R"}})
}

func TestExtractDate(t *testing.T) {
	pat := extractFile(t, "Patient", examples+"Patient-example.json")
	check(t, "birthdate (date)", datesOf(pat, "birthdate"), []DateRow{{Param: "birthdate", Low: ms("1974-12-25T00:00:00Z"), High: ms("1974-12-25T23:59:59.999Z")}})

	bp := extractFile(t, "Observation", "testdata/observation-blood-pressure.json")
	check(t, "date (dateTime with zone)", datesOf(bp, "date"), []DateRow{{Param: "date", Low: ms("2026-03-14T08:12:47Z"), High: ms("2026-03-14T08:12:47.999Z")}})
	if len(datesOf(bp, "_lastUpdated")) != 0 {
		t.Error("_lastUpdated is indexed; it lives on the resource row")
	}

	enc := extractFile(t, "Encounter", examples+"Encounter-home.json")
	check(t, "Encounter date (Period)", datesOf(enc, "date"), []DateRow{{Param: "date", Low: ms("2015-01-17T06:00:00Z"), High: ms("2015-01-17T06:30:00.999Z")}})
	eoc := extractFile(t, "EpisodeOfCare", examples+"EpisodeOfCare-example.json")
	check(t, "EpisodeOfCare date (open Period)", datesOf(eoc, "date"), []DateRow{{Param: "date", Low: ms("2014-09-01T00:00:00Z"), High: math.MaxInt64}})

	cp := extractJSON(t, "CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/1"},
		"activity":[
			{"detail":{"status":"scheduled","scheduledTiming":{"event":["2026-03-01T08:00:00Z","2026-03-02"],"repeat":{"boundsPeriod":{"end":"2026-04"}}}}},
			{"detail":{"status":"scheduled","scheduledPeriod":{"start":"2026-05-01"}}},
			{"detail":{"status":"scheduled","scheduledString":"every other Tuesday"}}
		]}`)
	check(t, "activity-date (Timing, Period, string)", datesOf(cp, "activity-date"), []DateRow{
		{Param: "activity-date", Low: ms("2026-03-01T08:00:00Z"), High: ms("2026-03-01T08:00:00.999Z")},
		{Param: "activity-date", Low: ms("2026-03-02T00:00:00Z"), High: ms("2026-03-02T23:59:59.999Z")},
		{Param: "activity-date", Low: math.MinInt64, High: ms("2026-04-30T23:59:59.999Z")},
		{Param: "activity-date", Low: ms("2026-05-01T00:00:00Z"), High: math.MaxInt64},
	})
	inv := extractFile(t, "Invoice", examples+"Invoice-example.json")
	check(t, "Invoice date", datesOf(inv, "date"), []DateRow{{Param: "date", Low: ms("2017-01-25T07:00:00Z"), High: ms("2017-01-25T07:00:00.999Z")}})
	// An unparseable date in a resource is not indexed (validation is not
	// the indexer's job).
	bad := extractJSON(t, "Patient", `{"resourceType":"Patient","birthDate":"25/12/1974"}`)
	if len(bad.Dates) != 0 {
		t.Errorf("bad date indexed: %+v", bad.Dates)
	}
}

func TestExtractReference(t *testing.T) {
	obs := extractFile(t, "Observation", examples+"Observation-example.json")
	check(t, "subject", refsOf(obs, "subject"), []ReferenceRow{{Param: "subject", Type: "Patient", ID: "example"}})
	check(t, "patient (where resolve() is Patient)", refsOf(obs, "patient"), []ReferenceRow{{Param: "patient", Type: "Patient", ID: "example"}})

	pn := extractFile(t, "PaymentNotice", examples+"PaymentNotice-77654.json")
	check(t, "absolute URL elsewhere", refsOf(pn, "request"), []ReferenceRow{{Param: "request", URL: "http://benefitsinc.com/fhir/claim/12345"}})

	syn := extractFile(t, "Patient", "testdata/patient-synthea.json")
	check(t, "absolute under the base: local", refsOf(syn, "organization"), []ReferenceRow{{Param: "organization", Type: "Organization", ID: "org-1"}})
	check(t, "organization:identifier", tokensOf(syn, IdentifierParam("organization")), []TokenRow{
		{Param: "organization:identifier", System: "urn:oid:2.16.840.1.113883.4.7", Code: "10D0934567"},
	})
	check(t, "link", refsOf(syn, "link"), []ReferenceRow{{Param: "link", Type: "Patient", ID: "old-7781"}})

	cp := extractFile(t, "CarePlan", examples+"CarePlan-f203.json")
	if rows := refsOf(cp, "care-team"); len(rows) != 0 {
		t.Errorf("#contained references are indexed: %+v", rows)
	}

	qr := extractFile(t, "QuestionnaireResponse", examples+"QuestionnaireResponse-gcs.json")
	check(t, "canonical, relative", refsOf(qr, "questionnaire"), []ReferenceRow{{Param: "questionnaire", Type: "Questionnaire", ID: "gcs"}})

	x := extractJSON(t, "QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed",
		"questionnaire":"http://example.org/Questionnaire/phq-9|2.1",
		"subject":{"reference":"Patient/p1/_history/3"},
		"author":{"reference":"urn:uuid:0b7c4e1a-1d2f-4c3b-9a8e-7f6d5c4b3a21"},
		"source":{"identifier":{"system":"http://hospital.example.org/mrn","value":"M-1"}},
		"basedOn":[{"reference":"ServiceRequest/a b"},{"reference":"https://ehr.example.org/fhir/CarePlan/cp1"},{"reference":"https://ehr.example.org/fhirx/CarePlan/cp2"}]}`)
	check(t, "canonical, version stripped", refsOf(x, "questionnaire"), []ReferenceRow{{Param: "questionnaire", URL: "http://example.org/Questionnaire/phq-9"}})
	check(t, "_history stripped", refsOf(x, "subject"), []ReferenceRow{{Param: "subject", Type: "Patient", ID: "p1"}})
	check(t, "urn:uuid", refsOf(x, "author"), []ReferenceRow{{Param: "author", URL: "urn:uuid:0b7c4e1a-1d2f-4c3b-9a8e-7f6d5c4b3a21"}})
	check(t, "identifier only", refsOf(x, "source"), nil)
	check(t, "source:identifier", tokensOf(x, "source:identifier"), []TokenRow{{Param: "source:identifier", System: "http://hospital.example.org/mrn", Code: "M-1"}})
	check(t, "bad relative skipped; base is a path prefix, not a string prefix", refsOf(x, "based-on"), []ReferenceRow{
		{Param: "based-on", Type: "CarePlan", ID: "cp1"},
		{Param: "based-on", URL: "https://ehr.example.org/fhirx/CarePlan/cp2"},
	})

	// Without a base URL every absolute reference stays a URL.
	plain, err := NewRegistry(Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/patient-synthea.json")
	px, err := plain.ExtractJSON("Patient", b)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "no base", refsOf(px, "organization"), []ReferenceRow{{Param: "organization", URL: "https://ehr.example.org/fhir/Organization/org-1"}})
}

func TestExtractQuantity(t *testing.T) {
	obs := extractFile(t, "Observation", examples+"Observation-example.json")
	check(t, "value-quantity", quantitiesOf(obs, "value-quantity"), []QuantityRow{{
		Param: "value-quantity", Value: 185, Low: 184.5, High: 185.5,
		System: UCUM, Code: "[lb_av]", Unit: "lbs", CanonCode: "g", CanonValue: 185 * 453.59237,
	}})
	bp := extractFile(t, "Observation", "testdata/observation-blood-pressure.json")
	check(t, "component-value-quantity", quantitiesOf(bp, "component-value-quantity"), []QuantityRow{
		{Param: "component-value-quantity", Value: 142, Low: 141.5, High: 142.5, System: UCUM, Code: "mm[Hg]", Unit: "mmHg", CanonCode: "Pa", CanonValue: 142 * 133.322},
		{Param: "component-value-quantity", Value: 91.5, Low: 91.45, High: 91.55, System: UCUM, Code: "mm[Hg]", Unit: "mmHg", CanonCode: "Pa", CanonValue: 91.5 * 133.322},
	})
	inv := extractFile(t, "Invoice", examples+"Invoice-example.json")
	check(t, "Money", quantitiesOf(inv, "totalnet"), []QuantityRow{{Param: "totalnet", Value: 40, Low: 39.5, High: 40.5, System: CurrencySystem, Code: "EUR", Unit: "EUR"}})

	vs := extractJSON(t, "ValueSet", `{"resourceType":"ValueSet","status":"draft","useContext":[
		{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueRange":{"low":{"value":18,"system":"http://unitsofmeasure.org","code":"a"},"high":{"value":65.5,"system":"http://unitsofmeasure.org","code":"a"}}},
		{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueRange":{"high":{"value":12,"system":"http://unitsofmeasure.org","code":"a"}}},
		{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueQuantity":{"value":1.20,"unit":"weeks","system":"http://unitsofmeasure.org","code":"wk"}}]}`)
	// (… as Quantity) | (… as Range): the Quantity first.
	check(t, "Range and Quantity", quantitiesOf(vs, "context-quantity"), []QuantityRow{
		{Param: "context-quantity", Value: 1.2, Low: 1.195, High: 1.205, System: UCUM, Code: "wk", Unit: "weeks", CanonCode: "s", CanonValue: 1.2 * 604800},
		{Param: "context-quantity", Value: 18, Low: 17.5, High: 65.55, System: UCUM, Code: "a"},
		{Param: "context-quantity", Value: 12, Low: -math.MaxFloat64, High: 12.5, System: UCUM, Code: "a"},
	})
	// The composite of the same: Group per useContext element.
	check(t, "context-type-quantity$1", quantitiesOf(vs, "context-type-quantity$1"), []QuantityRow{
		{Param: "context-type-quantity$1", Group: 1, Value: 18, Low: 17.5, High: 65.55, System: UCUM, Code: "a"},
		{Param: "context-type-quantity$1", Group: 2, Value: 12, Low: -math.MaxFloat64, High: 12.5, System: UCUM, Code: "a"},
		{Param: "context-type-quantity$1", Group: 3, Value: 1.2, Low: 1.195, High: 1.205, System: UCUM, Code: "wk", Unit: "weeks", CanonCode: "s", CanonValue: 1.2 * 604800},
	})
	temp := extractJSON(t, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":98.6,"unit":"F","system":"http://unitsofmeasure.org","code":"[degF]"}}`)
	check(t, "affine temperature", quantitiesOf(temp, "value-quantity"), []QuantityRow{
		{Param: "value-quantity", Value: 98.6, Low: 98.55, High: 98.65, System: UCUM, Code: "[degF]", Unit: "F", CanonCode: "K", CanonValue: 310.15},
	})
}

func TestExtractNumber(t *testing.T) {
	ms := extractFile(t, "MolecularSequence", examples+"MolecularSequence-example-TPMT-one.json")
	check(t, "variant-start (integer)", numbersOf(ms, "variant-start"), []NumberRow{{Param: "variant-start", Value: 18139214, Low: 18139213.5, High: 18139214.5}})
	ra := extractJSON(t, "RiskAssessment", `{"resourceType":"RiskAssessment","status":"final","subject":{"reference":"Patient/1"},"prediction":[
		{"probabilityDecimal":0.025},{"probabilityRange":{"low":{"value":0.1},"high":{"value":0.25}}},{"probabilityDecimal":1e-3}]}`)
	check(t, "probability (decimal, Range)", numbersOf(ra, "probability"), []NumberRow{
		{Param: "probability", Value: 0.025, Low: 0.0245, High: 0.0255},
		{Param: "probability", Value: 0.1, Low: 0.05, High: 0.255},
		{Param: "probability", Value: 0.001, Low: 0.0005, High: 0.0015},
	})
}

func TestExtractURI(t *testing.T) {
	mh := extractFile(t, "MessageHeader", examples+"MessageHeader-1cbdfb97-5859-48a4-8301-d54eab818d68.json")
	check(t, "source-uri", urisOf(mh, "source-uri"), []URIRow{{Param: "source-uri", URI: "llp:10.11.12.13:5432"}})
	bp := extractFile(t, "Observation", "testdata/observation-blood-pressure.json")
	check(t, "_profile (canonical)", urisOf(bp, "_profile"), []URIRow{
		{Param: "_profile", URI: "http://hl7.org/fhir/StructureDefinition/vitalsigns"},
		{Param: "_profile", URI: "http://hl7.org/fhir/StructureDefinition/bp"},
	})
	vs := extractJSON(t, "ValueSet", `{"resourceType":"ValueSet","status":"draft","url":"http://example.org/fhir/ValueSet/vitals","meta":{"source":"urn:uuid:1"}}`)
	check(t, "url", urisOf(vs, "url"), []URIRow{{Param: "url", URI: "http://example.org/fhir/ValueSet/vitals"}})
	check(t, "_source", urisOf(vs, "_source"), []URIRow{{Param: "_source", URI: "urn:uuid:1"}})
}

func TestExtractComposite(t *testing.T) {
	bp := extractFile(t, "Observation", "testdata/observation-blood-pressure.json")
	check(t, "component-code-value-quantity$0", tokensOf(bp, "component-code-value-quantity$0"), []TokenRow{
		{Param: "component-code-value-quantity$0", Group: 1, System: "http://loinc.org", Code: "8480-6", Text: "systolic blood pressure"},
		{Param: "component-code-value-quantity$0", Group: 2, System: "http://loinc.org", Code: "8462-4", Text: "diastolic blood pressure"},
	})
	cvq := quantitiesOf(bp, "component-code-value-quantity$1")
	if len(cvq) != 2 || cvq[0].Group != 1 || cvq[0].Value != 142 || cvq[1].Group != 2 || cvq[1].Value != 91.5 {
		t.Errorf("component-code-value-quantity$1 = %+v", cvq)
	}
	// combo: the Observation itself is element 1 (no value: not indexed),
	// the components 2 and 3.
	combo := tokensOf(bp, "combo-code-value-quantity$0")
	if len(combo) != 2 || combo[0].Group != 2 || combo[0].Code != "8480-6" || combo[1].Group != 3 {
		t.Errorf("combo-code-value-quantity$0 = %+v", combo)
	}
	// An element without a value for every component is not indexed.
	for _, p := range []string{"code-value-quantity$0", "code-value-concept$0", "code-value-string$0", "code-value-date$0"} {
		if rows := tokensOf(bp, p); len(rows) != 0 {
			t.Errorf("%s indexed without a value: %+v", p, rows)
		}
	}

	obs := extractFile(t, "Observation", examples+"Observation-example.json")
	if n := len(tokensOf(obs, "code-value-quantity$0")); n != 4 {
		t.Errorf("code-value-quantity$0: %d rows, want 4", n)
	}
	check(t, "code-value-quantity$1", quantitiesOf(obs, "code-value-quantity$1"), []QuantityRow{{
		Param: "code-value-quantity$1", Group: 1, Value: 185, Low: 184.5, High: 185.5,
		System: UCUM, Code: "[lb_av]", Unit: "lbs", CanonCode: "g", CanonValue: 185 * 453.59237,
	}})

	// A dateTime value (R4's own expression says DateTime; see errata).
	dt := extractJSON(t, "Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"21112-8"}]},"valueDateTime":"1984-07-02"}`)
	check(t, "code-value-date$1", datesOf(dt, "code-value-date$1"), []DateRow{{Param: "code-value-date$1", Group: 1, Low: ms("1984-07-02T00:00:00Z"), High: ms("1984-07-02T23:59:59.999Z")}})

	grp := extractFile(t, "Group", examples+"Group-herd1.json")
	check(t, "characteristic-value", append(tokensOf(grp, "characteristic-value$0"), tokensOf(grp, "characteristic-value$1")...), []TokenRow{
		{Param: "characteristic-value$0", Group: 1, Text: "gender"},
		{Param: "characteristic-value$1", Group: 1, Text: "female"},
	})
	// Component expressions may start from %resource.
	seq := extractFile(t, "MolecularSequence", examples+"MolecularSequence-example-TPMT-one.json")
	check(t, "referenceseqid-variant-coordinate$0", tokensOf(seq, "referenceseqid-variant-coordinate$0"), []TokenRow{
		{Param: "referenceseqid-variant-coordinate$0", Group: 1, System: "http://www.ncbi.nlm.nih.gov/nuccore", Code: "NT_007592.15"},
	})

	// Many elements: every one indexed. (Not more: fhirpath's union is
	// quadratic in them.)
	const n = 300
	var comps []string
	for i := range n {
		comps = append(comps, `{"code":{"coding":[{"system":"s","code":"c`+itoa(i)+`"}]},"valueQuantity":{"value":`+itoa(i)+`}}`)
	}
	many := extractJSON(t, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[`+strings.Join(comps, ",")+`]}`)
	rows := tokensOf(many, "component-code-value-quantity$0")
	if len(rows) != n || rows[len(rows)-1].Group != n || rows[len(rows)-1].Code != "c"+itoa(n-1) {
		t.Errorf("%d component rows, last %+v", len(rows), rows[len(rows)-1])
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestExtractDeduplicates(t *testing.T) {
	x := extractJSON(t, "Patient", `{"resourceType":"Patient",
		"name":[{"family":"Roe","given":["Ann","Ann"]},{"family":"Roe"}],
		"identifier":[{"system":"s","value":"1"},{"system":"s","value":"1"}],
		"telecom":[{"system":"phone","value":"1"},{"system":"phone","value":"1","use":"work"}]}`)
	check(t, "name", stringsOf(x, "name"), []StringRow{{Param: "name", Norm: "roe", Exact: "Roe"}, {Param: "name", Norm: "ann", Exact: "Ann"}})
	check(t, "identifier", tokensOf(x, "identifier"), []TokenRow{{Param: "identifier", System: "s", Code: "1"}})
	check(t, "phone", tokensOf(x, "phone"), []TokenRow{{Param: "phone", Code: "1"}})
	// Past the linear scan, the set: 30 distinct given names, each twice.
	var given []string
	for i := range 60 {
		given = append(given, `"g`+itoa(i%30)+`"`)
	}
	many := extractJSON(t, "Patient", `{"resourceType":"Patient","name":[{"given":[`+strings.Join(given, ",")+`]}]}`)
	if rows := stringsOf(many, "given"); len(rows) != 30 || rows[29].Exact != "g29" {
		t.Errorf("%d given rows, want 30", len(rows))
	}
	// The same value under two parameters is two rows.
	if len(stringsOf(x, "family")) != 1 || len(stringsOf(x, "given")) != 1 {
		t.Errorf("family %v given %v", stringsOf(x, "family"), stringsOf(x, "given"))
	}
}

func TestExtractFloat64JSON(t *testing.T) {
	// encoding/json without UseNumber gives float64: accepted.
	var res any
	if err := json.Unmarshal([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5,"system":"http://unitsofmeasure.org","code":"mg"}}`), &res); err != nil {
		t.Fatal(err)
	}
	x, err := registry(t).Extract("Observation", res)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "value-quantity", quantitiesOf(x, "value-quantity"), []QuantityRow{
		{Param: "value-quantity", Value: 1.5, Low: 1.45, High: 1.55, System: UCUM, Code: "mg", CanonCode: "g", CanonValue: 0.0015},
	})
}

func TestExtractErrors(t *testing.T) {
	r := registry(t)
	for _, tt := range []struct {
		typ, doc string
		kind     outcome.Kind
	}{
		{"Patient", `{"resourceType":"Observation"}`, outcome.KindInvalid},
		{"Patient", `{"name":[]}`, outcome.KindInvalid},
		{"Nope", `{"resourceType":"Nope"}`, outcome.KindInvalid},
		{"Patient", `[1]`, outcome.KindStructure},
		{"Patient", `{"resourceType":`, outcome.KindStructure},
	} {
		_, err := r.ExtractJSON(tt.typ, []byte(tt.doc))
		var oe *outcome.Error
		if !errors.As(err, &oe) || oe.Kind != tt.kind {
			t.Errorf("ExtractJSON(%s, %s) = %v, want an *outcome.Error of kind %v", tt.typ, tt.doc, err, tt.kind)
		}
	}
}

// TestExtractExamples indexes every committed example, and with
// TELEFHIR_R4_EXAMPLES (scripts/fetch-r4-examples.sh) all of R4's.
func TestExtractExamples(t *testing.T) {
	r := registry(t)
	dirs := []string{examples}
	if d := os.Getenv("TELEFHIR_R4_EXAMPLES"); d != "" {
		dirs = append(dirs, d)
	} else {
		t.Log("TELEFHIR_R4_EXAMPLES not set: only the committed subset is indexed")
	}
	n, rows := 0, 0
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fhirpath.Decode(b)
			if err != nil {
				continue
			}
			m, _ := res.(map[string]any)
			typ, _ := m["resourceType"].(string)
			if typ == "" {
				continue // package.json
			}
			x, err := r.Extract(typ, res)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			n++
			rows += x.Len()
		}
	}
	if n < 100 {
		t.Errorf("only %d examples indexed", n)
	}
	t.Logf("%d resources, %d index rows", n, rows)
}

func BenchmarkExtract(b *testing.B) {
	r := registry(b)
	for _, bc := range []struct{ name, typ, file string }{
		{"Observation-bp", "Observation", "testdata/observation-blood-pressure.json"},
		{"Patient-synthea", "Patient", "testdata/patient-synthea.json"},
	} {
		data, err := os.ReadFile(bc.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var rows int
			for b.Loop() {
				x, err := r.ExtractJSON(bc.typ, data)
				if err != nil {
					b.Fatal(err)
				}
				rows = x.Len()
			}
			b.ReportMetric(float64(rows), "rows")
		})
		b.Run(bc.name+"-decoded", func(b *testing.B) {
			res, err := fhirpath.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Extract(bc.typ, res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestExtractConcurrent(t *testing.T) {
	r := registry(t)
	bp, err := os.ReadFile("testdata/observation-blood-pressure.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.ExtractJSON("Observation", bp)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := r.ExtractJSON("Observation", bp)
				if err != nil {
					t.Error(err)
					return
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("concurrent extraction differs:\n%s", diff)
					return
				}
			}
		})
	}
	wg.Wait()
}

package search

import (
	"errors"
	"net/url"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/telefhir/telefhir/fhir/outcome"
)

var fuzzTypes = []string{"Patient", "Observation", "", "Encounter", "ValueSet", "RiskAssessment", "QuestionnaireResponse", "Location"}

// FuzzParse: the URL parser never panics, and fails only with an
// *outcome.Error.
func FuzzParse(f *testing.F) {
	for i, s := range []string{
		"name=Smith&_count=5",
		"code-value-quantity=http://loinc.org|8867-4$gt100&_sort=-date,code",
		"subject:Patient.organization.name:exact=Acme&_include:iterate=Patient:organization",
		"_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1",
		"birthdate=ge2020-01-01T10:00:00+01:00&birthdate=lt2021",
		"value-quantity=le5.4|http://unitsofmeasure.org|mg&value-quantity=5.4||mg",
		`family=a\,b\\,c&identifier:of-type=http://x|MR|1&code:text=x&status:not=final`,
		"url:below=http://example.org/&_type=Patient,Observation&_total=accurate",
		"subject.name:missing=true&_id=a,b&_lastUpdated=gt2026&_tag=s|c&_revinclude=Provenance:target",
		"probability=gt1e-1&near=1|2|3|km&_content=x&foo:bar=baz",
		"questionnaire=http://e.org/Q|2.0&subject=https://ehr.example.org/fhir/Patient/1&subject:identifier=s|v",
	} {
		f.Add(uint8(i), s, false)
	}
	r := registry(f)
	f.Fuzz(func(t *testing.T, ti uint8, query string, strict bool) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		typ := fuzzTypes[int(ti)%len(fuzzTypes)]
		opts := ParseOptions{Strict: strict, DefaultCount: 10, MaxCount: 50}
		q, issues, err := r.Parse(typ, params, opts)
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) || oe.Kind != outcome.KindInvalid || len(oe.Issues) == 0 {
				t.Fatalf("Parse(%s, %q) = %#v, want an *outcome.Error of kind invalid", typ, query, err)
			}
			return
		}
		if q.Count < 0 || q.Count > opts.MaxCount {
			t.Fatalf("Parse(%s, %q): Count %d", typ, query, q.Count)
		}
		if strict {
			for _, is := range issues {
				if is.Severity == "warning" {
					t.Fatalf("Parse(%s, %q, strict): warning %+v", typ, query, is)
				}
			}
		}
		for _, c := range q.Where {
			if len(c.Or) == 0 {
				t.Fatalf("Parse(%s, %q): empty clause", typ, query)
			}
		}
	})
}

// FuzzExtract: indexing any JSON never panics; it fails only with an
// *outcome.Error.
func FuzzExtract(f *testing.F) {
	for _, file := range []string{"testdata/observation-blood-pressure.json", "testdata/patient-synthea.json", examples + "Encounter-home.json", examples + "Group-herd1.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":"x"},"effectivePeriod":{"start":1},"component":[1,{"code":[]}]}`))
	r := registry(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range []string{"Patient", "Observation", "Encounter", "Group"} {
			x, err := r.ExtractJSON(typ, body)
			if err != nil {
				var oe *outcome.Error
				if !errors.As(err, &oe) {
					t.Fatalf("ExtractJSON(%s): %#v is not an *outcome.Error", typ, err)
				}
				continue
			}
			for _, d := range x.Dates {
				if d.Low > d.High {
					t.Fatalf("date row %+v: low > high", d)
				}
			}
			for _, q := range x.Quantities {
				if q.Low > q.High {
					t.Fatalf("quantity row %+v: low > high", q)
				}
			}
			// The compartment subset agrees with the whole index.
			cx, err := r.ExtractCompartment("Patient", typ, body)
			if err != nil {
				t.Fatalf("ExtractCompartment(%s) failed where ExtractJSON did not: %v", typ, err)
			}
			if a, b := r.CompartmentIDs("Patient", typ, "x", x), r.CompartmentIDs("Patient", typ, "x", cx); !slices.Equal(a, b) {
				t.Fatalf("CompartmentIDs(%s): %v from the index, %v from the compartment subset", typ, a, b)
			}
		}
	})
}

// FuzzDateRange: every accepted date is a non-empty range.
func FuzzDateRange(f *testing.F) {
	for _, s := range []string{"2026", "2026-03", "2026-03-14", "2026-03-14T09:12:47.532+01:00", "2026-03-14T09:12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := DateRange(s)
		if err == nil && lo > hi {
			t.Fatalf("DateRange(%q) = [%d, %d]", s, lo, hi)
		}
	})
}

// FuzzDecimalRange: every accepted decimal lies within its range.
func FuzzDecimalRange(f *testing.F) {
	for _, s := range []string{"100", "1.50", "-0.001", "1e2", "1.5E-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, lo, hi, err := DecimalRange(s)
		if err == nil && !(lo <= v && v <= hi) {
			t.Fatalf("DecimalRange(%q) = %v [%v, %v]", s, v, lo, hi)
		}
	})
}

// FuzzDecodeRoots: the partial decode that ExtractJSONFor uses never
// panics, and on a JSON object gives exactly the members of the whole
// decode that it keeps.
func FuzzDecodeRoots(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","id":"x","subject":{"reference":"Patient/1"},"valueQuantity":{"value":1.50},"_status":{"id":"s"},"note":[{"text":"a \"}\" b"}]}`,
		`{ "resourceType" : "Patient" , "link" : [ { "other" : { "reference" : "Patient/2" } } ] , "active" : true }`,
		`{"a\u0062c":1,"subject":null,"performer":[1,2.5e3,"]"]}`,
		`{}`, `[]`, `{"subject":}`, `{"subject":{"a":[}]}}`, `{"id":"1"} x`,
		`{"status":"a\\","subject":{"display":"\\\"}"},"id":"x"}`,
	} {
		f.Add([]byte(s))
	}
	roots := []string{"subject", "performer", "value", "status", "link"}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRoots(b, roots)
		whole, wholeErr := decodeRoots(b, nil)
		if wholeErr != nil {
			return // the partial decode may fail or not: it does not check what it skips
		}
		if err != nil {
			t.Fatalf("%q: decodes whole but not in part: %v", b, err)
		}
		want := map[string]any{}
		for k, v := range whole {
			if rootWanted(k, roots) {
				want[k] = v
			}
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: partial decode %v, want %v", b, got, want)
		}
	})
}

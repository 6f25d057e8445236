package fhirpatch_test

import (
	"os"
	"testing"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
	"github.com/telefhir/telefhir/fhir/patch"
)

// The same three edits of a 4.5 KB Patient, as a FHIRPath Patch and as a
// JSON Patch.
var (
	benchFHIRPath = params(
		replace("Patient.telecom.where(system = 'phone').value", `"valueString":"555-301-0000"`),
		add("Patient.name[0]", "given", `"valueString":"Zoé"`),
		del("Patient.maritalStatus"),
	)
	benchJSONPatch = `[{"op":"replace","path":"/telecom/0/value","value":"555-301-0000"},{"op":"add","path":"/name/0/given/-","value":"Zoé"},{"op":"remove","path":"/maritalStatus"}]`
)

func benchPatient(b *testing.B) []byte {
	b.Helper()
	doc, err := os.ReadFile("../search/testdata/patient-synthea.json")
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// BenchmarkParse is fhirpatch.Parse of a three-operation patch, which
// validates the Parameters resource and compiles the paths.
func BenchmarkParse(b *testing.B) {
	body := []byte(benchFHIRPath)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fhirpatch.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply is Patch.Apply of that patch to the Patient.
func BenchmarkApply(b *testing.B) {
	doc := benchPatient(b)
	p, err := fhirpatch.Parse([]byte(benchFHIRPath))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONPatchApply is the same edits as a JSON Patch, for
// comparison.
func BenchmarkJSONPatchApply(b *testing.B) {
	doc := benchPatient(b)
	p := []byte(benchJSONPatch)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := patch.Apply(doc, p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchPatchesAgree keeps the two benchmark patches equivalent.
func TestBenchPatchesAgree(t *testing.T) {
	doc, err := os.ReadFile("../search/testdata/patient-synthea.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fhirpatch.Parse([]byte(benchFHIRPath))
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	j, err := patch.Apply(doc, []byte(benchJSONPatch))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(j) {
		t.Errorf("FHIRPath Patch\n%s\nJSON Patch\n%s", a, j)
	}
}

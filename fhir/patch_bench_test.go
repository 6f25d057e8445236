package fhir_test

import (
	"context"
	"os"
	"testing"

	"github.com/telefhir/telefhir/fhir"
)

// BenchmarkPatch measures the whole patch path of a 4.5 KB Patient on the
// embedded store, as JSON Patch and as FHIRPath Patch making the same
// three edits (and undoing them, so the resource stays the same size):
// read and lock the current version, apply, validate, stamp, index, one
// transaction.
func BenchmarkPatch(b *testing.B) {
	ctx := context.Background()
	svc := embeddedService(b)
	doc, err := os.ReadFile("search/testdata/patient-synthea.json")
	if err != nil {
		b.Fatal(err)
	}
	res, err := svc.Create(ctx, "Patient", doc)
	if err != nil {
		b.Fatal(err)
	}
	id := res.Resource.ID
	part := func(typ, path, rest string) string {
		return `{"name":"operation","part":[{"name":"type","valueCode":"` + typ + `"},{"name":"path","valueString":"` + path + `"}` + rest + `]}`
	}
	fhirpath := [2][]byte{
		[]byte(`{"resourceType":"Parameters","parameter":[` +
			part("replace", "Patient.telecom.where(system = 'phone').value", `,{"name":"value","valueString":"555-301-0000"}`) + `,` +
			part("add", "Patient.name[0]", `,{"name":"name","valueString":"given"},{"name":"value","valueString":"Zoé"}`) + `,` +
			part("delete", "Patient.maritalStatus", "") + `]}`),
		[]byte(`{"resourceType":"Parameters","parameter":[` +
			part("replace", "Patient.telecom.where(system = 'phone').value", `,{"name":"value","valueString":"555-301-4471"}`) + `,` +
			part("delete", "Patient.name[0].given[2]", "") + `,` +
			part("add", "Patient", `,{"name":"name","valueString":"maritalStatus"},{"name":"value","valueCodeableConcept":{"text":"M"}}`) + `]}`),
	}
	jsonPatch := [2][]byte{
		[]byte(`[{"op":"replace","path":"/telecom/0/value","value":"555-301-0000"},{"op":"add","path":"/name/0/given/-","value":"Zoé"},{"op":"remove","path":"/maritalStatus"}]`),
		[]byte(`[{"op":"replace","path":"/telecom/0/value","value":"555-301-4471"},{"op":"remove","path":"/name/0/given/2"},{"op":"add","path":"/maritalStatus","value":{"text":"M"}}]`),
	}
	// patched counts the patches stored so far, over every run: an even
	// count means the resource is as created, so the first patch of a
	// pair applies next.
	patched := 0
	run := func(b *testing.B, patches [2][]byte, apply func(ctx context.Context, typ, id string, body []byte, pre fhir.Preconditions) (fhir.Result, error)) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := apply(ctx, "Patient", id, patches[patched%2], fhir.Preconditions{}); err != nil {
				b.Fatal(err)
			}
			patched++
		}
	}
	b.Run("json-patch", func(b *testing.B) { run(b, jsonPatch, svc.Patch) })
	b.Run("fhirpath-patch", func(b *testing.B) { run(b, fhirpath, svc.FHIRPathPatch) })
}

package fhirpath

import (
	"os"
	"slices"
	"testing"
)

func benchResource(b *testing.B, file string) any {
	b.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	return mustDecode(b, string(data))
}

// BenchmarkEvaluate evaluates typical search parameter expressions on
// official R4 examples.
func BenchmarkEvaluate(b *testing.B) {
	obs := benchResource(b, "testdata/examples/Observation-satO2.json")
	pat := benchResource(b, "testdata/examples/Patient-pat3.json")
	for _, bc := range []struct {
		name, expr string
		res        any
	}{
		{"Observation.code", "Observation.code", obs},
		{"Observation.effective", "Observation.effective", obs},
		{"Observation.value_as_Quantity", "Observation.value as Quantity", obs},
		{"Observation.subject_resolve", "Observation.subject.where(resolve() is Patient)", obs},
		{"Observation.component.value_as_Quantity", "(Observation.component.value as Quantity) | (Observation.value as Quantity)", obs},
		{"Patient.name", "Patient.name", pat},
		{"Patient.telecom_email", "Patient.telecom.where(system='email') | Person.telecom.where(system='email')", pat},
		{"Patient.deceased", "Patient.deceased.exists() and Patient.deceased != false", pat},
	} {
		e := MustCompile(bc.expr)
		if got, err := e.Evaluate(bc.res); err != nil {
			b.Fatal(err)
		} else if len(got) == 0 && bc.name != "Patient.telecom_email" {
			b.Fatalf("%s: empty result", bc.expr)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Evaluate(bc.res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIndexObservation evaluates every R4 search parameter expression
// whose base is Observation (or Resource, DomainResource) on one
// Observation: the work of indexing one write.
func BenchmarkIndexObservation(b *testing.B) {
	obs := benchResource(b, "testdata/examples/Observation-satO2.json")
	var exprs []*Expr
	for _, p := range readSearchParams(b) {
		if p.Expression != "" && (slices.Contains(p.Base, "Observation") || slices.Contains(p.Base, "Resource") || slices.Contains(p.Base, "DomainResource")) {
			exprs = append(exprs, MustCompile(p.Expression))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range exprs {
			if _, err := e.Evaluate(obs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(exprs)), "exprs")
}

func BenchmarkCompile(b *testing.B) {
	r4()
	b.ReportAllocs()
	for b.Loop() {
		MustCompile("Observation.component.where(code.coding.code = 'x').value as Quantity | Observation.subject.where(resolve() is Patient)")
	}
}

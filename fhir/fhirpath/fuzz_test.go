package fhirpath

import (
	"errors"
	"testing"
)

// FuzzCompile checks that Compile and Evaluate never panic, that Compile
// errors say where within the expression, and that evaluation is
// deterministic.
func FuzzCompile(f *testing.F) {
	for _, p := range readSearchParams(f) {
		if p.Expression != "" {
			f.Add(p.Expression)
		}
	}
	for _, s := range []string{
		"Patient.name.given[0] | %resource.id",
		"Observation.component.where(code.text = 'b' and value.exists()).value as Quantity",
		"Observation.performer.where(resolve() is Organization)",
		"Observation.extension('http://example.org/a').value.is(FHIR.string)",
		"(1 | 2.5 | 'x' | true | {}) = -3",
		"true xor false implies $this.exists().not()",
		"Patient.name.skip(1).take(1).select(given.first()).all($this = 'x')",
		"'\\u00e9\\n' // comment\n /* c */",
		"`div`.ofType(System.String).single().hasValue().count().empty()",
		"Bundle.entry[0].resource.contained.tail().last()",
	} {
		f.Add(s)
	}
	resources := []any{nil}
	for _, s := range []string{observationJSON, patientJSON, conditionJSON, bundleJSON} {
		resources = append(resources, mustDecode(f, s))
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %T %v, want a *SyntaxError", expr, err, err)
			}
			if se.Offset < 0 || se.Offset > len(expr) {
				t.Fatalf("Compile(%q): offset %d outside the expression", expr, se.Offset)
			}
			return
		}
		for _, r := range resources {
			a, err1 := e.Evaluate(r)
			b, err2 := e.Evaluate(r)
			if (err1 == nil) != (err2 == nil) || show(a) != show(b) {
				t.Fatalf("%q: not deterministic: %s (%v) vs %s (%v)", expr, show(a), err1, show(b), err2)
			}
		}
	})
}

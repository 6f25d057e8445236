package fhirpath

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

const observationJSON = `{
  "resourceType": "Observation",
  "id": "obs1",
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"}], "text": "weight"},
  "subject": {"reference": "Patient/p1"},
  "performer": [
    {"reference": "https://example.org/fhir/Practitioner/dr1/_history/2"},
    {"reference": "#org1"},
    {"reference": "urn:uuid:6f6b3c9e-8d0a-4d5e-9a33-1f1f1f1f1f1f"},
    {"identifier": {"value": "x"}},
    {"reference": "Organization/bad id"}
  ],
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Acme"}],
  "effectiveDateTime": "2020-05-01T10:00:00Z",
  "issued": "2020-05-01T11:00:00.000Z",
  "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
  "component": [
    {"code": {"text": "a"}, "valueQuantity": {"value": 1, "unit": "mm"}},
    {"code": {"text": "b"}, "valueString": "text"},
    {"code": {"text": "c"}, "valueCodeableConcept": {"text": "cc"}}
  ],
  "extension": [
    {"url": "http://example.org/a", "valueString": "A"},
    {"url": "http://example.org/b", "valueBoolean": true}
  ]
}`

const patientJSON = `{
  "resourceType": "Patient",
  "id": "p1",
  "active": false,
  "identifier": [{"system": "urn:sys", "value": "123"}],
  "name": [
    {"family": "Doe", "given": ["Ann", null, "Bea"], "_given": [null, {"extension": [{"url": "http://example.org/g", "valueCode": "hidden"}]}, null]},
    {"family": "Roe", "given": ["Ann"]}
  ],
  "telecom": [{"system": "phone", "value": "555"}, {"system": "email", "value": "a@example.org"}],
  "_birthDate": {"extension": [{"url": "http://example.org/u", "valueString": "unknown"}]},
  "deceasedBoolean": false,
  "managingOrganization": {"reference": "http://example.org/fhir/Organization/o1"}
}`

const conditionJSON = `{
  "resourceType": "Condition",
  "id": "c1",
  "subject": {"reference": "Patient/p1"},
  "onsetAge": {"value": 52, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"},
  "abatementPeriod": {"start": "2021-01-01"}
}`

const bundleJSON = `{
  "resourceType": "Bundle",
  "id": "b1",
  "type": "document",
  "entry": [
    {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Composition", "id": "comp1", "status": "final", "subject": {"reference": "#p"}, "contained": [{"resourceType": "Patient", "id": "p"}]}},
    {"resource": {"resourceType": "Patient", "id": "p2"}}
  ]
}`

func mustDecode(t testing.TB, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// show renders a result compactly: type:json for each item.
func show(vals []Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		b, err := json.Marshal(v.Node)
		if err != nil {
			b = []byte(err.Error())
		}
		parts[i] = v.Type + ":" + string(b)
	}
	return strings.Join(parts, " ")
}

func TestEvaluate(t *testing.T) {
	resources := map[string]string{
		"Observation": observationJSON,
		"Patient":     patientJSON,
		"Condition":   conditionJSON,
		"Bundle":      bundleJSON,
	}
	tests := []struct {
		res, expr, want string
	}{
		// Paths, flattening, types of elements.
		{"Observation", "Observation.status", `code:"final"`},
		{"Observation", "Observation.code", `CodeableConcept:{"coding":[{"code":"29463-7","display":"Body Weight","system":"http://loinc.org"}],"text":"weight"}`},
		{"Observation", "Observation.code.coding.code", `code:"29463-7"`},
		{"Observation", "Observation.code.coding.system", `uri:"http://loinc.org"`},
		{"Observation", "Observation.issued", `instant:"2020-05-01T11:00:00.000Z"`},
		{"Observation", "Observation.component.code.text", `string:"a" string:"b" string:"c"`},
		{"Observation", "code.text", `string:"weight"`},
		{"Patient", "Patient.active", `boolean:false`},
		{"Patient", "Patient.identifier", `Identifier:{"system":"urn:sys","value":"123"}`},
		{"Patient", "Patient.telecom.value", `string:"555" string:"a@example.org"`},
		{"Patient", "Patient.telecom[1]", `ContactPoint:{"system":"email","value":"a@example.org"}`},
		{"Patient", "Patient.name.family", `string:"Doe" string:"Roe"`},
		{"Patient", "Patient.name[0].given[2]", `string:"Bea"`},
		{"Patient", "Patient.name[5]", ``},
		{"Observation", "Observation.component[1].code", `CodeableConcept:{"text":"b"}`},
		// A primitive with only extensions is an item without a value.
		{"Patient", "Patient.name.given", `string:"Ann" string:null string:"Bea" string:"Ann"`},
		{"Patient", "Patient.birthDate", `date:null`},
		{"Patient", "Patient.birthDate.exists()", `System.Boolean:true`},
		{"Patient", "Patient.birthDate.hasValue()", `System.Boolean:false`},
		{"Patient", "Patient.name.given.extension.value", `code:"hidden"`},
		{"Patient", "Patient.birthDate.extension('http://example.org/u').value", `string:"unknown"`},
		// Choice elements.
		{"Observation", "Observation.value", `Quantity:{"code":"kg","system":"http://unitsofmeasure.org","unit":"kg","value":72.50}`},
		{"Observation", "Observation.effective", `dateTime:"2020-05-01T10:00:00Z"`},
		{"Observation", "Observation.valueQuantity.value", `decimal:72.50`},
		{"Observation", "Observation.component.value", `Quantity:{"unit":"mm","value":1} string:"text" CodeableConcept:{"text":"cc"}`},
		{"Condition", "Condition.abatement", `Period:{"start":"2021-01-01"}`},
		{"Condition", "Condition.onset", `Age:{"code":"a","system":"http://unitsofmeasure.org","unit":"years","value":52}`},
		// as, is, ofType.
		{"Observation", "Observation.value as Quantity", `Quantity:{"code":"kg","system":"http://unitsofmeasure.org","unit":"kg","value":72.50}`},
		{"Observation", "Observation.value as FHIR.Quantity", `Quantity:{"code":"kg","system":"http://unitsofmeasure.org","unit":"kg","value":72.50}`},
		{"Observation", "Observation.value.as(CodeableConcept)", ``},
		{"Observation", "(Observation.component.value as Quantity).unit", `string:"mm"`},
		{"Observation", "Observation.component.value.ofType(string)", `string:"text"`},
		{"Observation", "Observation.component.value.ofType(CodeableConcept).text", `string:"cc"`},
		{"Observation", "Observation.value is Quantity", `System.Boolean:true`},
		{"Observation", "Observation.value.is(Period)", `System.Boolean:false`},
		{"Observation", "Observation.effective is dateTime", `System.Boolean:true`},
		{"Observation", "Observation.effective is System.DateTime", `System.Boolean:false`},
		{"Observation", "Observation.status is string", `System.Boolean:true`},
		{"Observation", "Observation.status is FHIR.code", `System.Boolean:true`},
		{"Observation", "Observation.status is System.String", `System.Boolean:false`},
		{"Observation", "'a' is System.String", `System.Boolean:true`},
		{"Observation", "'a' is String", `System.Boolean:true`},
		{"Observation", "Observation.bodySite is CodeableConcept", ``},
		{"Condition", "Condition.onset.as(Quantity)", `Age:{"code":"a","system":"http://unitsofmeasure.org","unit":"years","value":52}`},
		{"Condition", "Condition.onset as Age", `Age:{"code":"a","system":"http://unitsofmeasure.org","unit":"years","value":52}`},
		{"Condition", "Condition.abatement.as(dateTime) | Condition.abatement.as(Period)", `Period:{"start":"2021-01-01"}`},
		{"Patient", "Patient is DomainResource", `System.Boolean:true`},
		{"Bundle", "Bundle is DomainResource", `System.Boolean:false`},
		{"Bundle", "Bundle is Resource", `System.Boolean:true`},
		// A type name starting a path filters the context.
		{"Patient", "Observation.code", ``},
		{"Patient", "Resource.id", `id:"p1"`},
		{"Patient", "DomainResource.id", `id:"p1"`},
		{"Bundle", "DomainResource.id", ``},
		{"Patient", "Patient.telecom.where(system='email') | Person.telecom.where(system='email')", `ContactPoint:{"system":"email","value":"a@example.org"}`},
		// where, resolve.
		{"Observation", "Observation.subject.where(resolve() is Patient)", `Reference:{"reference":"Patient/p1"}`},
		{"Observation", "Observation.subject.where(resolve() is Group)", ``},
		{"Observation", "Observation.performer.resolve()", `Practitioner:{"id":"dr1","resourceType":"Practitioner"} Organization:{"id":"org1","name":"Acme","resourceType":"Organization"}`},
		{"Observation", "Observation.performer.where(resolve() is Organization)", `Reference:{"reference":"#org1"}`},
		{"Observation", "Observation.performer.where(resolve().is(Organization))", `Reference:{"reference":"#org1"}`},
		{"Observation", "Observation.performer.where(resolve() is DomainResource).count()", `System.Integer:2`},
		{"Observation", "Observation.performer.where(resolve() is Practitioner).reference", `string:"https://example.org/fhir/Practitioner/dr1/_history/2"`},
		{"Observation", "Observation.performer.resolve().name", `string:"Acme"`},
		{"Patient", "Patient.managingOrganization.resolve().id", `id:"o1"`},
		{"Observation", "'Patient/p9'.resolve().id", `id:"p9"`},
		{"Bundle", "Bundle.entry[0].resource.subject.resolve()", `Patient:{"id":"p","resourceType":"Patient"}`},
		{"Bundle", "Bundle.entry[0].resource", `Composition:{"contained":[{"id":"p","resourceType":"Patient"}],"id":"comp1","resourceType":"Composition","status":"final","subject":{"reference":"#p"}}`},
		{"Bundle", "Bundle.entry.resource.id", `id:"comp1" id:"p2"`},
		{"Bundle", "Bundle.entry.resource.ofType(Patient).id", `id:"p2"`},
		{"Bundle", "Bundle.entry.resource.status", `code:"final"`},
		{"Observation", "Observation.contained.name", `string:"Acme"`},
		{"Observation", "Observation.component.where(code.text = 'b').value", `string:"text"`},
		{"Observation", "Observation.component.where($this.code.text != 'b').code.text", `string:"a" string:"c"`},
		{"Observation", "Observation.component.where(value.exists() and code.text = 'c').code.text", `string:"c"`},
		{"Observation", "Observation.component.select(code.text)", `string:"a" string:"b" string:"c"`},
		{"Observation", "Observation.component.all(code.exists())", `System.Boolean:true`},
		// Extensions.
		{"Observation", "Observation.extension('http://example.org/a').value", `string:"A"`},
		{"Observation", "Observation.extension.where(url = 'http://example.org/b').value", `boolean:true`},
		{"Observation", "Observation.extension('http://example.org/none')", ``},
		// Literals, equality, logic.
		{"Patient", "Patient.active = false", `System.Boolean:true`},
		{"Patient", "Patient.active != false", `System.Boolean:false`},
		{"Patient", "Patient.deceased.exists() and Patient.deceased != false", `System.Boolean:false`},
		{"Patient", "Patient.gender = 'x'", ``},
		{"Patient", "Patient.name.family = 'Doe'", `System.Boolean:false`},
		{"Patient", "Patient.name.family = ('Doe' | 'Roe')", `System.Boolean:true`},
		{"Observation", "Observation.valueQuantity.value = 72.5", `System.Boolean:true`},
		{"Observation", "Observation.valueQuantity.value = 72", `System.Boolean:false`},
		{"Observation", "Observation.component[0].valueQuantity.value = 1.0", `System.Boolean:true`},
		{"Observation", "Observation.valueQuantity = Observation.value", `System.Boolean:true`},
		{"Observation", "Observation.effective = Observation.effective", `System.Boolean:true`},
		{"Observation", "Observation.effective = Observation.issued", `System.Boolean:false`},
		{"Observation", "1 = 'a'", `System.Boolean:false`},
		{"Observation", "-1 = -1.0", `System.Boolean:true`},
		{"Observation", "true and {}", ``},
		{"Observation", "false and {}", `System.Boolean:false`},
		{"Observation", "true or {}", `System.Boolean:true`},
		{"Observation", "false or {}", ``},
		{"Observation", "true xor false", `System.Boolean:true`},
		{"Observation", "false implies {}", `System.Boolean:true`},
		{"Observation", "true implies false", `System.Boolean:false`},
		{"Observation", `'it\'s'`, `System.String:"it's"`},
		{"Observation", `'tab\there \u00e9'`, `System.String:"tab\there é"`},
		// Existence and subsetting.
		{"Observation", "Observation.component.exists()", `System.Boolean:true`},
		{"Observation", "Observation.component.exists(code.text = 'z')", `System.Boolean:false`},
		{"Observation", "Observation.method.empty()", `System.Boolean:true`},
		{"Observation", "Observation.method.exists().not()", `System.Boolean:true`},
		{"Observation", "Observation.component.count()", `System.Integer:3`},
		{"Observation", "Observation.component.code.text.first()", `string:"a"`},
		{"Observation", "Observation.component.code.text.last()", `string:"c"`},
		{"Observation", "Observation.component.code.text.tail()", `string:"b" string:"c"`},
		{"Observation", "Observation.component.code.text.skip(2)", `string:"c"`},
		{"Observation", "Observation.component.code.text.take(2)", `string:"a" string:"b"`},
		{"Observation", "Observation.code.text.single()", `string:"weight"`},
		// Unions remove duplicates and keep order.
		{"Patient", "Patient.name.given | Patient.name.family", `string:"Ann" string:null string:"Bea" string:"Doe" string:"Roe"`},
		{"Observation", "1 | 1 | 2.0 | 2", `System.Integer:1 System.Decimal:2.0`},
		{"Observation", "(Observation.code | Observation.code).text", `string:"weight"`},
		// Environment variables.
		{"Observation", "%resource.id", `id:"obs1"`},
		{"Observation", "%context.status", `code:"final"`},
		{"Observation", "%ucum", `System.String:"http://unitsofmeasure.org"`},
		{"Observation", "Observation.valueQuantity.where(system = %ucum).code", `code:"kg"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Evaluate(mustDecode(t, resources[tt.res]))
			if err != nil {
				t.Fatal(err)
			}
			if s := show(got); s != tt.want {
				t.Errorf("on %s\n got %s\nwant %s", tt.res, s, tt.want)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	resources := map[string]any{
		"Patient":     mustDecode(t, patientJSON),
		"Observation": mustDecode(t, observationJSON),
	}
	for _, tt := range []struct{ res, expr string }{
		{"Patient", "Patient.name is HumanName"},
		{"Patient", "Patient.name.is(HumanName)"},
		{"Patient", "Patient.name.family and true"},
		{"Patient", "Patient.where(name.family)"},
		{"Patient", "Patient.name.family.not()"},
		{"Patient", "Patient.name.single()"},
		{"Patient", "(Patient.name | Patient.managingOrganization).first().resolve() is Patient and Patient.name"},
		{"Observation", "Observation.performer.resolve() is Organization"},
		{"Observation", "Observation.where(performer.resolve() is Organization)"},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := MustCompile(tt.expr).Evaluate(resources[tt.res])
			if err == nil {
				t.Fatalf("got %s, want an error", show(got))
			}
			if !strings.Contains(err.Error(), tt.expr) {
				t.Errorf("error %q does not name the expression", err)
			}
		})
	}
}

func TestEvaluateOddInput(t *testing.T) {
	e := MustCompile("Patient.name.given | Patient.id | Observation.value as Quantity")
	for _, in := range []any{
		nil,
		"text",
		[]any{1, 2},
		map[string]any{},
		map[string]any{"resourceType": 5},
		map[string]any{"resourceType": "Nope", "name": "x"},
		map[string]any{"resourceType": "Patient", "name": "not an array", "id": []any{"x"}},
		map[string]any{"resourceType": "Patient", "name": []any{nil, 3, map[string]any{"given": map[string]any{}}}},
	} {
		if _, err := e.Evaluate(in); err != nil {
			t.Errorf("Evaluate(%v): %v", in, err)
		}
	}
	// Numbers decoded as float64 still compare by value.
	var res any
	if err := json.Unmarshal([]byte(observationJSON), &res); err != nil {
		t.Fatal(err)
	}
	got, err := MustCompile("Observation.valueQuantity.value = 72.5").Evaluate(res)
	if err != nil || show(got) != "System.Boolean:true" {
		t.Errorf("float64 number: got %s, %v", show(got), err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string
	}{
		{"", 0, "empty expression"},
		{"Patient.nmae", 8, `Patient has no element "nmae"`},
		{"Observation.deceased.exists()", 12, `Observation has no element "deceased"`},
		{"Observation.value.foo", 18, `has no element "foo"`},
		{"Observation.code.coding.cod", 24, `Coding has no element "cod"`},
		{"Patient.name.matches('x')", 13, "function matches() is not supported"},
		{"Patient.name.where()", 13, "where() takes 1 argument(s), got 0"},
		{"Patient.name.first(1)", 13, "first() takes 0 argument(s), got 1"},
		{"Patient.name.extension(url)", 23, "extension() takes a string literal"},
		{"Patient.name < 3", 13, `operator "<" is not supported`},
		{"Patient.name ~ 3", 13, `operator "~" is not supported`},
		{"Patient.birthDate = @2020-01-01", 20, "date and time literals are not supported"},
		{"Observation.value = 5 'mg'", 20, "quantity literals are not supported"},
		{"%foo", 0, "unknown variable %foo"},
		{"$index", 0, "$index is not supported"},
		{"Observation.value as Quantityy", 21, "unknown type Quantityy"},
		{"Observation.value.as(System.Strin)", 21, "unknown type System.Strin"},
		{"Observation.value.ofType('Quantity')", 25, "ofType() takes a type name"},
		{"'unterminated", 0, "unterminated string"},
		{"Patient.name[1.5]", 13, "expected an integer literal"},
		{"Patient.name[", 13, "unexpected end of expression"},
		{"Patient..name", 8, "expected a name after '.'"},
		{"Patient.name)", 12, "unexpected \")\""},
		{"Patient.name # x", 13, "unexpected character '#'"},
		{"Patient /* open", 8, "unterminated comment"},
		{"'\\q'", 1, "unknown escape"},
		{"-Patient.name", 0, `unary "-" is not supported`},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 101, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Compile(tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile: got %v, want a *SyntaxError", err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got offset %d %q, want offset %d %q", se.Offset, se.Msg, tt.offset, tt.msg)
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Errorf("Error() %q does not say where", err)
			}
		})
	}
}

func TestCompileComments(t *testing.T) {
	e, err := Compile("Patient.name // the names\n  /* and */ .family")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Evaluate(mustDecode(t, patientJSON))
	if err != nil || show(got) != `string:"Doe" string:"Roe"` {
		t.Errorf("got %s, %v", show(got), err)
	}
}

// Every R4 search parameter expression compiles, with its static checks.
func TestCompileR4SearchParameters(t *testing.T) {
	params := readSearchParams(t)
	n := 0
	for _, p := range params {
		if p.Expression == "" {
			continue
		}
		if _, err := Compile(p.Expression); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
		n++
	}
	if n < 1300 {
		t.Errorf("only %d expressions in %s", n, paramsFile)
	}
}

type searchParam struct {
	ID         string   `json:"id"`
	Base       []string `json:"base"`
	Type       string   `json:"type"`
	Expression string   `json:"expression"`
}

func readSearchParams(t testing.TB) []searchParam {
	t.Helper()
	b, err := os.ReadFile(paramsFile)
	if err != nil {
		t.Fatal(err)
	}
	var ps []searchParam
	if err := json.Unmarshal(b, &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(`{"a": 1.50}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := v.(map[string]any)["a"].(json.Number); !ok || n != "1.50" {
		t.Errorf("got %#v, want json.Number 1.50", v)
	}
	for _, bad := range []string{``, `{`, `{} {}`, `{"a":1}x`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
}

func TestModel(t *testing.T) {
	m := r4()
	for _, tt := range []struct {
		typ, elem, want string
	}{
		{"Observation", "valueQuantity", "Quantity"},
		{"Observation", "effectivePeriod", "Period"},
		{"Observation", "effectiveTiming", "Timing"},
		{"Observation", "effectiveInstant", "instant"},
		{"Observation", "status", "code"},
		{"Observation", "component", "BackboneElement"},
		{"Patient", "telecom", "ContactPoint"},
		{"Patient", "birthDate", "date"},
		{"Reference", "reference", "string"},
		{"Timing", "repeat", "Element"},
		{"Dosage", "doseAndRate", "Element"},
		{"MedicationRequest", "dispenseRequest", "BackboneElement"},
		{"Substance", "ingredient", "BackboneElement"},
		{"Account", "id", "id"},
		{"Quantity", "value", "decimal"},
		{"Observation", "referenceRange", "BackboneElement"},
		{"MedicationKnowledge", "amount", "Quantity"}, // SimpleQuantity in R4
	} {
		f := m.types[tt.typ].fields[tt.elem]
		if f == nil || f.typ == nil || f.typ.name != tt.want {
			t.Errorf("%s.%s: got %+v, want type %s", tt.typ, tt.elem, f, tt.want)
		}
	}
	if f := m.types["Reference"].fields["patientId"]; f != nil {
		t.Errorf("Reference.patientId (a proto-only field) is in the model")
	}
	for _, tt := range []struct {
		sub, super string
		want       bool
	}{
		{"Age", "Quantity", true},
		{"SimpleQuantity", "Quantity", true},
		{"code", "string", true},
		{"canonical", "uri", true},
		{"Patient", "DomainResource", true},
		{"Patient", "Resource", true},
		{"Bundle", "DomainResource", false},
		{"Parameters", "Resource", true},
		{"Timing", "BackboneElement", true},
		{"Quantity", "Element", true},
		{"string", "code", false},
	} {
		if got := m.isA(tt.sub, tt.super); got != tt.want {
			t.Errorf("isA(%s, %s) = %v", tt.sub, tt.super, got)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	e := MustCompile("Observation.performer.where(resolve() is Organization) | Observation.value as Quantity")
	res := mustDecode(t, observationJSON)
	want := ""
	done := make(chan string)
	for range 8 {
		go func() {
			s := ""
			for range 100 {
				got, err := e.Evaluate(res)
				if err != nil {
					s = err.Error()
					break
				}
				s = show(got)
			}
			done <- s
		}()
	}
	for i := range 8 {
		s := <-done
		if i == 0 {
			want = s
		}
		if s != want || !strings.Contains(s, "#org1") {
			t.Errorf("goroutine result %q, want %q with #org1", s, want)
		}
	}
}

// union's map-based path for long collections agrees with pairwise
// comparison.
func TestUnionLong(t *testing.T) {
	var items []Value
	for i := range 60 {
		items = append(items,
			Value{Node: []string{"a", "b", "2020", "2020-01-01T00:00:00Z"}[i%4], Type: []string{"code", "string", "dateTime", "instant"}[i%4]},
			Value{Node: "2020-01-01T01:00:00+01:00", Type: "dateTime"},
			Value{Node: "2020", Type: sysString},
			Value{Node: json.Number([]string{"1", "1.0", "2"}[i%3]), Type: "decimal"},
			Value{Node: map[string]any{"a": json.Number([]string{"1", "1.0", "2"}[i%3])}, Type: "Coding"},
			Value{Node: i%5 == 0, Type: "boolean"},
			Value{Node: nil, Type: "string", ext: map[string]any{"id": "x"}},
		)
	}
	for _, split := range []int{0, 10, 200, len(items)} {
		l, r := items[:split], items[split:]
		got := union(l, r)
		var want []Value
	items:
		for _, v := range append(append([]Value(nil), l...), r...) {
			for _, w := range want {
				if sameValue(v, w) {
					continue items
				}
			}
			want = append(want, v)
		}
		if show(got) != show(want) {
			t.Errorf("split %d:\n got %s\nwant %s", split, show(got), show(want))
		}
	}
}

// TestUnionManyComplexItems: a union over thousands of complex items keeps
// each distinct one once (numbers compared by value: 1.50 = 1.5).
func TestUnionManyComplexItems(t *testing.T) {
	res := componentsObservation(3000)
	vals, err := MustCompile("Observation.component.value | Observation.component.value").Evaluate(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3000 {
		t.Fatalf("union kept %d items, want 3000 distinct", len(vals))
	}
	comps := res.(map[string]any)["component"].([]any)
	comps[1].(map[string]any)["valueQuantity"] = map[string]any{"value": json.Number("0.0")}
	vals, err = MustCompile("Observation.component.value | Observation.component.value").Evaluate(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2999 {
		t.Fatalf("union kept %d items, want 2999 (0 and 0.0 are equal)", len(vals))
	}
}

// BenchmarkUnionComponents measures a union over many complex items; it
// grows linearly with the count (the items are bucketed, not compared
// pairwise).
func BenchmarkUnionComponents(b *testing.B) {
	res := componentsObservation(5000)
	e := MustCompile("Observation.component.value | Observation.component.value")
	for b.Loop() {
		if _, err := e.Evaluate(res); err != nil {
			b.Fatal(err)
		}
	}
}

func componentsObservation(n int) any {
	comps := make([]any, n)
	for i := range comps {
		comps[i] = map[string]any{"code": map[string]any{"text": "c"}, "valueQuantity": map[string]any{"value": json.Number(strconv.Itoa(i))}}
	}
	return map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "x"}, "component": comps}
}

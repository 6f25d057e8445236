package fhirpatch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// Builders for Parameters bodies, so that each case shows its operations.

func params(ops ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`
}

func op(typ, path string, parts ...string) string {
	all := append([]string{`{"name":"type","valueCode":"` + typ + `"}`, `{"name":"path","valueString":` + strconv.Quote(path) + `}`}, parts...)
	return `{"name":"operation","part":[` + strings.Join(all, ",") + `]}`
}

func name(n string) string { return `{"name":"name","valueString":"` + n + `"}` }

// value is a value part; members is its value[x] (or part, or resource)
// as JSON members.
func value(members string) string { return `{"name":"value",` + members + `}` }

func intPart(n string, i int) string { return fmt.Sprintf(`{"name":%q,"valueInteger":%d}`, n, i) }

func add(path, elem, members string) string {
	return op("add", path, name(elem), value(members))
}

func insert(path string, i int, members string) string {
	return op("insert", path, intPart("index", i), value(members))
}

func replace(path, members string) string { return op("replace", path, value(members)) }

func del(path string) string { return op("delete", path) }

func move(path string, from, to int) string {
	return op("move", path, intPart("source", from), intPart("destination", to))
}

const ext = `{"extension":[{"url":"http://example.org/x","valueString":"X"}]}`

// apply parses p and applies it to doc, checking that neither input is
// modified.
func apply(t *testing.T, doc, p string) ([]byte, error) {
	t.Helper()
	d, b := []byte(doc), []byte(p)
	dc, bc := bytes.Clone(d), bytes.Clone(b)
	defer func() {
		if !bytes.Equal(d, dc) || !bytes.Equal(b, bc) {
			t.Errorf("inputs were modified")
		}
	}()
	pt, err := fhirpatch.Parse(b)
	if err != nil {
		return nil, err
	}
	return pt.Apply(d)
}

func TestOperations(t *testing.T) {
	const pat = `{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`
	const obs = `{"resourceType":"Observation","status":"final","code":{"text":"weight"},"contained":[{"resourceType":"Organization","id":"o1","name":"Acme"}],"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueQuantity":{"value":72.50,"unit":"kg"}}`
	tests := []struct {
		name, doc, patch, want string
	}{
		// add
		{"add a primitive at the end, the rest untouched", pat, params(add("Patient", "gender", `"valueCode":"female"`)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}],"gender":"female"}`},
		{"add a primitive with extensions", `{"resourceType":"Patient"}`, params(add("Patient", "gender", `"valueCode":"female","_valueCode":`+ext)),
			`{"resourceType":"Patient","gender":"female","_gender":` + ext + `}`},
		{"add to a primitive list keeps the extension array aligned", pat, params(add("Patient.name[0]", "given", `"valueString":"Cy"`)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea","Cy"],"_given":[null,` + ext + `,null]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"add extensions to a primitive list without any", `{"resourceType":"Patient","name":[{"given":["Ann"]}]}`, params(add("Patient.name[0]", "given", `"valueString":"Bea","_valueString":`+ext)),
			`{"resourceType":"Patient","name":[{"given":["Ann","Bea"],"_given":[null,` + ext + `]}]}`},
		{"add an item with extensions only", `{"resourceType":"Patient","name":[{"given":["Ann"]}]}`, params(add("Patient.name[0]", "given", `"_valueString":`+ext)),
			`{"resourceType":"Patient","name":[{"given":["Ann",null],"_given":[null,` + ext + `]}]}`},
		{"add an extension to a primitive", `{"resourceType":"Patient","birthDate":"1970-01-01"}`,
			params(add("Patient.birthDate", "extension", `"part":[{"name":"url","valueUri":"http://example.org/x"},{"name":"value","valueString":"X"}]`)),
			`{"resourceType":"Patient","birthDate":"1970-01-01","_birthDate":` + ext + `}`},
		{"add an extension to a primitive list item", `{"resourceType":"Patient","name":[{"given":["Ann","Bea"]}]}`,
			params(add("Patient.name[0].given[1]", "extension", `"part":[{"name":"url","valueUri":"http://example.org/x"},{"name":"value","valueString":"X"}]`)),
			`{"resourceType":"Patient","name":[{"given":["Ann","Bea"],"_given":[null,` + ext + `]}]}`},
		{"add a choice by its base name", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, params(add("Observation", "value", `"valueQuantity":{"value":1.50}`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}`},
		{"add a choice by its typed name", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, params(add("Observation", "valueString", `"valueString":"high"`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"high"}`},
		{"add a specialised type to a choice", `{"resourceType":"Condition","subject":{"reference":"Patient/p"}}`, params(add("Condition", "onset", `"valueAge":{"value":52}`)),
			`{"resourceType":"Condition","subject":{"reference":"Patient/p"},"onsetAge":{"value":52}}`},
		{"add an anonymous element from parts", `{"resourceType":"Patient"}`,
			params(add("Patient", "contact", `"part":[{"name":"name","valueHumanName":{"text":"Ann"}},{"name":"telecom","valueContactPoint":{"system":"phone","value":"1"}},{"name":"telecom","valueContactPoint":{"system":"email","value":"a@b"}},{"name":"gender","valueCode":"female","_valueCode":`+ext+`}]`)),
			`{"resourceType":"Patient","contact":[{"name":{"text":"Ann"},"telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b"}],"gender":"female","_gender":` + ext + `}]}`},
		{"add a complex type from parts", `{"resourceType":"Patient"}`,
			params(add("Patient", "name", `"part":[{"name":"family","valueString":"Doe"},{"name":"given","valueString":"Ann"},{"name":"given","_valueString":`+ext+`}]`)),
			`{"resourceType":"Patient","name":[{"family":"Doe","given":["Ann",null],"_given":[null,` + ext + `]}]}`},
		{"add a choice from parts by its typed name", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`,
			params(add("Observation", "valueQuantity", `"part":[{"name":"value","valueDecimal":2.50},{"name":"unit","valueString":"kg"}]`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":2.50,"unit":"kg"}}`},
		{"add a contained resource", `{"resourceType":"Patient"}`, params(add("Patient", "contained", `"resource":{"resourceType":"Organization","id":"o","name":"Acme"}`)),
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"Acme"}]}`},
		{"add a string to a code element", `{"resourceType":"Patient"}`, params(add("Patient", "gender", `"valueString":"male"`)),
			`{"resourceType":"Patient","gender":"male"}`},
		{"add then add into what was added", `{"resourceType":"Patient","contact":[{"gender":"male"}]}`,
			params(add("Patient", "contact", `"part":[{"name":"name","valueHumanName":{"text":"B"}}]`), add("Patient.contact[1]", "gender", `"valueCode":"female"`)),
			`{"resourceType":"Patient","contact":[{"gender":"male"},{"name":{"text":"B"},"gender":"female"}]}`},

		// insert
		{"insert into a missing list", `{"resourceType":"Patient"}`, params(insert("Patient.identifier", 0, `"valueIdentifier":{"value":"1"}`)),
			`{"resourceType":"Patient","identifier":[{"value":"1"}]}`},
		{"insert into a primitive list keeps the extension array aligned", pat, params(insert("Patient.name[0].given", 0, `"valueString":"Zoe"`)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Zoe","Ann","Bea"],"_given":[null,null,` + ext + `]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"insert an extension into a list with none", `{"resourceType":"Patient","name":[{"given":["Ann","Bea"]}]}`, params(insert("Patient.name[0].given", 1, `"valueString":"Cy","_valueString":`+ext)),
			`{"resourceType":"Patient","name":[{"given":["Ann","Cy","Bea"],"_given":[null,` + ext + `,null]}]}`},
		{"insert into a list found by where()", `{"resourceType":"Patient","name":[{"use":"usual","given":["A"]},{"use":"official","given":["B"]}]}`,
			params(insert("Patient.name.where(use = 'official').given", 0, `"valueString":"C"`)),
			`{"resourceType":"Patient","name":[{"use":"usual","given":["A"]},{"use":"official","given":["C","B"]}]}`},

		// delete
		{"delete nothing", pat, params(del("Patient.gender")), pat},
		{"delete a primitive with its extensions", pat, params(del("Patient.birthDate")),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"delete a primitive list item with its extensions", pat, params(del("Patient.name[0].given[1]")),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann"]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"delete a primitive's only extension", pat, params(del("Patient.birthDate.extension[0]")),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"birthDate":"1970-01-01","extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"delete a list item's only extension", pat, params(del("Patient.name[0].given[1].extension")),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"delete the extension of an item with no value", `{"resourceType":"Patient","name":[{"family":"D","given":["Ann",null],"_given":[null,` + ext + `]}]}`, params(del("Patient.name[0].given[1].extension")),
			`{"resourceType":"Patient","name":[{"family":"D","given":["Ann"]}]}`},
		{"delete empties and removes the parents", `{"resourceType":"Patient","name":[{"given":["Ann"]}],"active":true}`, params(del("Patient.name.given")),
			`{"resourceType":"Patient","active":true}`},
		{"delete by where()", `{"resourceType":"Patient","telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b"}]}`, params(del("Patient.telecom.where(system = 'phone')")),
			`{"resourceType":"Patient","telecom":[{"system":"email","value":"a@b"}]}`},
		{"delete a contained resource through resolve()", obs, params(del("Observation.performer[0].resolve()")),
			`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueQuantity":{"value":72.50,"unit":"kg"}}`},

		// replace
		{"replace keeps member order and untouched bytes", pat, params(replace("Patient.active", `"valueBoolean":false`)),
			`{"resourceType":"Patient","id":"p1","active":false,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"replace a primitive drops its old extensions", pat, params(replace("Patient.birthDate", `"valueDate":"1971-02-03"`)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Bea"],"_given":[null,` + ext + `]}],"birthDate":"1971-02-03","extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"replace a primitive list item", pat, params(replace("Patient.name[0].given[1]", `"valueString":"Cy"`)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Ann","Cy"]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"replace a list item, adding extensions", `{"resourceType":"Patient","name":[{"given":["Ann","Bea"]}]}`, params(replace("Patient.name[0].given[0]", `"valueString":"Al","_valueString":`+ext)),
			`{"resourceType":"Patient","name":[{"given":["Al","Bea"],"_given":[` + ext + `,null]}]}`},
		{"replace a choice with another type", obs, params(replace("Observation.value", `"valueString":"heavy"`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"contained":[{"resourceType":"Organization","id":"o1","name":"Acme"}],"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueString":"heavy"}`},
		{"replace a choice with the same type in place", obs, params(replace("Observation.value", `"valueQuantity":{"value":70}`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"contained":[{"resourceType":"Organization","id":"o1","name":"Acme"}],"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueQuantity":{"value":70}}`},
		{"replace in a contained resource through resolve()", obs, params(replace("Observation.performer[0].resolve().name", `"valueString":"Acme Ltd"`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"contained":[{"resourceType":"Organization","id":"o1","name":"Acme Ltd"}],"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueQuantity":{"value":72.50,"unit":"kg"}}`},
		{"replace a contained resource", obs, params(replace("Observation.contained[0]", `"resource":{"resourceType":"Organization","id":"o1","name":"B"}`)),
			`{"resourceType":"Observation","status":"final","code":{"text":"weight"},"contained":[{"resourceType":"Organization","id":"o1","name":"B"}],"performer":[{"reference":"#o1"},{"reference":"Organization/o2"}],"valueQuantity":{"value":72.50,"unit":"kg"}}`},

		// move
		{"move a primitive list item with its extensions", pat, params(move("Patient.name[0].given", 1, 0)),
			`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Bea","Ann"],"_given":[` + ext + `,null]}],"birthDate":"1970-01-01","_birthDate":` + ext + `,"extension":[{"url":"http://example.org/w","valueDecimal":1.50}]}`},
		{"move to the same place", pat, params(move("Patient.name[0].given", 1, 1)), pat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apply(t, tt.doc, tt.patch)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			typ := "Patient"
			if strings.Contains(tt.doc, `"Observation"`) {
				typ = "Observation"
			} else if strings.Contains(tt.doc, `"Condition"`) {
				typ = "Condition"
			}
			if _, err := resource.Parse(got, typ); err != nil {
				t.Errorf("the result is not a valid %s: %v", typ, err)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	const pat = `{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","tag":[{"code":"t"}]},"active":true,"birthDate":"1970-01-01","name":[{"family":"Doe","given":["Ann"]},{"family":"Roe"}],"identifier":[{"value":"1"}]}`
	const obs = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1},"subject":{"reference":"Patient/p1"}}`
	tests := []struct {
		name, doc, patch string
		where, msg       string // the issue's expression, and part of its diagnostics
	}{
		{"replace nothing", pat, params(del("Patient.gender"), replace("Patient.gender", `"valueCode":"male"`)),
			"Parameters.parameter[1]", "replace Patient.gender: Patient.gender matches nothing; there is nothing to replace"},
		{"replace several", pat, params(replace("Patient.name.family", `"valueString":"X"`)),
			"Parameters.parameter[0]", "Patient.name.family matches 2 elements; a replace needs exactly one"},
		{"delete several", pat, params(del("Patient.name")), "Parameters.parameter[0]", "matches 2 elements; a delete needs exactly one"},
		{"add to nothing", pat, params(add("Patient.contact[0]", "gender", `"valueCode":"male"`)),
			"Parameters.parameter[0]", "Patient.contact[0] matches nothing; there is nothing to add to"},
		{"add an unknown element", pat, params(add("Patient", "nmae", `"valueString":"x"`)),
			"Parameters.parameter[0].part[2]", `Patient (a Patient) has no element "nmae"`},
		{"add to a single element that has a value", pat, params(add("Patient", "birthDate", `"valueDate":"1971-01-01"`)),
			"Parameters.parameter[0]", "Patient already has birthDate; use replace to change it"},
		{"add a choice that has a value", obs, params(add("Observation", "value", `"valueString":"x"`)),
			"Parameters.parameter[0]", "Observation already has valueQuantity"},
		{"wrong type for a primitive", pat, params(replace("Patient.active", `"valueString":"yes"`)),
			"Parameters.parameter[0].part[2]", "Patient.active is a boolean; a string value does not fit"},
		{"wrong type for a complex element", pat, params(add("Patient", "maritalStatus", `"valueCoding":{"code":"M"}`)),
			"Parameters.parameter[0].part[3]", "Patient.maritalStatus is a CodeableConcept; a Coding value does not fit"},
		{"complex value for a primitive", pat, params(replace("Patient.birthDate", `"valuePeriod":{"start":"1970"}`)),
			"Parameters.parameter[0].part[2]", "Patient.birthDate is a date; a Period value does not fit"},
		{"choice cannot take the type", obs, params(replace("Observation.value", `"valueAddress":{"city":"X"}`)),
			"Parameters.parameter[0].part[2]", "Observation.value[x] cannot be an Address; it can be Quantity, CodeableConcept, string"},
		{"typed choice name with another type", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, params(add("Observation", "valueQuantity", `"valueString":"x"`)),
			"Parameters.parameter[0].part[3]", "valueQuantity is a Quantity; a string value does not fit"},
		{"a value for an anonymous element", pat, params(add("Patient", "contact", `"valueHumanName":{"text":"x"}`)),
			"Parameters.parameter[0].part[3]", "Patient.contact is a backbone element with no type of its own: give its elements as parts"},
		{"parts for a primitive", pat, params(replace("Patient.active", `"part":[{"name":"value","valueBoolean":true}]`)),
			"Parameters.parameter[0].part[2]", "Patient.active is a boolean, a primitive: give it as a value[x], not parts"},
		{"parts for a choice by its base name", obs, params(replace("Observation.value", `"part":[{"name":"value","valueDecimal":1}]`)),
			"Parameters.parameter[0].part[2]", "Observation.value[x] is a choice element: give a value[x], or name the type"},
		{"unknown element in parts", pat, params(add("Patient", "contact", `"part":[{"name":"nmae","valueString":"x"}]`)),
			"Parameters.parameter[0].part[3].part[0]", `Patient.contact (a BackboneElement) has no element "nmae"`},
		{"single element twice in parts", pat, params(add("Patient", "contact", `"part":[{"name":"gender","valueCode":"male"},{"name":"gender","valueCode":"female"}]`)),
			"Parameters.parameter[0].part[3].part[1]", "Patient.contact.gender has at most one value, and is given twice"},
		{"wrong type in nested parts", pat, params(add("Patient", "contact", `"part":[{"name":"name","valueString":"x"}]`)),
			"Parameters.parameter[0].part[3].part[0]", "Patient.contact.name is a HumanName; a string value does not fit"},
		{"resource for a datatype", pat, params(add("Patient", "maritalStatus", `"resource":{"resourceType":"Basic","code":{"text":"x"}}`)),
			"Parameters.parameter[0].part[3]", "Patient.maritalStatus does not hold a resource"},
		{"value for a resource element", pat, params(add("Patient", "contained", `"valueString":"x"`)),
			"Parameters.parameter[0].part[3]", "Patient.contained holds a resource: give it as the part's resource"},
		{"insert out of range", pat, params(insert("Patient.identifier", 2, `"valueIdentifier":{"value":"2"}`)),
			"Parameters.parameter[0].part[2]", "index 2 is out of range: the list has 1 item, so the index can be 0 to 1"},
		{"insert into a single element", pat, params(insert("Patient.birthDate", 0, `"valueDate":"1970"`)),
			"Parameters.parameter[0]", "Patient.birthDate is not a list"},
		{"insert under several parents", pat, params(insert("Patient.name.given", 0, `"valueString":"x"`)),
			"Parameters.parameter[0]", "Patient.name matches 2 elements"},
		{"insert under nothing", pat, params(insert("Patient.contact.telecom", 0, `"valueContactPoint":{"value":"x"}`)),
			"Parameters.parameter[0]", "Patient.contact matches nothing; so there is no telecom list"},
		{"move source out of range", pat, params(move("Patient.identifier", 1, 0)),
			"Parameters.parameter[0].part[2]", "source 1 is out of range: the list has 1 item, so it can be 0 to 0"},
		{"move destination out of range", pat, params(move("Patient.identifier", 0, 3)),
			"Parameters.parameter[0].part[3]", "destination 3 is out of range"},
		{"move in an empty list", pat, params(move("Patient.contact", 0, 0)),
			"Parameters.parameter[0].part[2]", "source 0 is out of range: the list is empty"},
		{"delete the resource", pat, params(del("Patient")), "Parameters.parameter[0]", "the path selects the resource itself"},
		{"delete the id", pat, params(del("Patient.id")), "Parameters.parameter[0]", "the resource's id is maintained by the server"},
		{"replace the id", pat, params(replace("Patient.id", `"valueId":"p2"`)), "Parameters.parameter[0]", "the resource's id is maintained by the server"},
		{"change meta", pat, params(add("Patient.meta", "tag", `"valueCoding":{"code":"x"}`)), "Parameters.parameter[0]", "the resource's meta is maintained by the server"},
		{"delete a tag", pat, params(del("Patient.meta.tag")), "Parameters.parameter[0]", "the resource's meta is maintained by the server"},
		{"add meta", `{"resourceType":"Patient"}`, params(add("Patient", "meta", `"valueMeta":{"tag":[{"code":"x"}]}`)), "Parameters.parameter[0]", "the resource's meta is maintained by the server"},
		{"a computed value", pat, params(del("Patient.active = true")), "Parameters.parameter[0]", "is not an element of the resource being patched"},
		{"a resource outside", obs, params(replace("Observation.subject.resolve().id", `"valueId":"x"`)), "Parameters.parameter[0]", "is not an element of the resource being patched"},
		{"an evaluation error", pat, params(del("Patient.name.where(family | given)")), "Parameters.parameter[0]", "the path could not be evaluated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apply(t, tt.doc, tt.patch)
			if err == nil {
				t.Fatalf("Apply = %s, want an error", got)
			}
			checkOutcome(t, err, outcome.KindUnprocessable, tt.where, tt.msg)
		})
	}
}

// checkOutcome checks that err is an *outcome.Error of kind k whose first
// issue is at where and says msg.
func checkOutcome(t *testing.T, err error, k outcome.Kind, where, msg string) {
	t.Helper()
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %T %v is not an *outcome.Error", err, err)
	}
	if oe.Kind != k {
		t.Errorf("kind %v (status %d), want status %d: %v", oe.Kind, oe.Status(), k.Status(), err)
	}
	is := oe.Issues[0]
	if len(is.Expression) != 1 || is.Expression[0] != where {
		t.Errorf("issue at %v, want %s (%s)", is.Expression, where, is.Diagnostics)
	}
	if !strings.Contains(is.Diagnostics, msg) {
		t.Errorf("diagnostics %q, want it to contain %q", is.Diagnostics, msg)
	}
}

func TestParseErrors(t *testing.T) {
	many := make([]string, fhirpatch.MaxOperations+1)
	for i := range many {
		many[i] = del("Patient.gender")
	}
	tests := []struct {
		name, body, where, msg string
	}{
		{"not Parameters", `{"resourceType":"Patient"}`, "", `resourceType "Patient" does not match the expected type "Parameters"`},
		{"invalid Parameters", `{"resourceType":"Parameters","parameter":[{"name":"operation","valueInteger":"x"}]}`, "Parameters.parameter[0].valueInteger", ""},
		{"not an operation", `{"resourceType":"Parameters","parameter":[{"name":"op","part":[]}]}`, "Parameters.parameter[0].name", `must be named "operation", not "op"`},
		{"an operation with a value", `{"resourceType":"Parameters","parameter":[{"name":"operation","valueString":"x"}]}`, "Parameters.parameter[0]", "an operation is given by its parts only"},
		{"no type", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"path","valueString":"Patient"}]}]}`, "Parameters.parameter[0]", "the operation has no type part"},
		{"unknown type", params(op("remove", "Patient.active")), "Parameters.parameter[0].part[0]", `unknown operation type "remove" (want add, insert, delete, replace or move)`},
		{"type not a code", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueInteger":1}]}]}`, "Parameters.parameter[0].part[0]", "the type part must have a valueCode"},
		{"no path", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"}]}]}`, "Parameters.parameter[0]", "a delete operation needs a path part"},
		{"bad FHIRPath", params(del("Patient.name[")), "Parameters.parameter[0].part[1]", "the path is not FHIRPath this server supports"},
		{"unsupported FHIRPath", params(del("Patient.name.given.contains('A')")), "Parameters.parameter[0].part[1]", "the path is not FHIRPath this server supports"},
		{"unknown element in the path", params(del("Patient.nmae")), "Parameters.parameter[0].part[1]", `Patient has no element "nmae"`},
		{"add without name", params(op("add", "Patient", value(`"valueDate":"1970"`))), "Parameters.parameter[0]", "an add operation needs a name part"},
		{"add without value", params(op("add", "Patient", name("birthDate"))), "Parameters.parameter[0]", "an add operation needs a value part"},
		{"empty name", params(op("add", "Patient", name(""), value(`"valueDate":"1970"`))), "Parameters.parameter[0].part[2]", "the name part is empty"},
		{"part the type does not take", params(op("replace", "Patient.active", intPart("index", 0), value(`"valueBoolean":true`))), "Parameters.parameter[0].part[2]", "a replace operation has no index part (it takes path, value)"},
		{"unknown part", params(op("delete", "Patient.active", `{"name":"from","valueString":"x"}`)), "Parameters.parameter[0].part[2].name", `unknown part "from"`},
		{"repeated part", params(op("delete", "Patient.active", `{"name":"path","valueString":"Patient.gender"}`)), "Parameters.parameter[0].part[2]", `part "path" is given twice (also at Parameters.parameter[0].part[1])`},
		{"value and parts", params(replace("Patient.active", `"valueBoolean":true,"part":[{"name":"x","valueBoolean":true}]`)), "Parameters.parameter[0].part[2]", "exactly one of value[x], part (one per element) or resource"},
		{"empty value", params(op("replace", "Patient.active", `{"name":"value"}`)), "Parameters.parameter[0].part[2]", "exactly one of value[x]"},
		{"nested part without a name", params(add("Patient", "contact", `"part":[{"valueString":"x"}]`)), "Parameters.parameter[0].part[3].part[0].name", `missing required field "name"`},
		{"negative index", params(insert("Patient.identifier", -1, `"valueIdentifier":{"value":"1"}`)), "Parameters.parameter[0].part[2]", "the index part must be a list index"},
		{"index not an integer", params(op("insert", "Patient.identifier", `{"name":"index","valueString":"1"}`, value(`"valueIdentifier":{"value":"1"}`))), "Parameters.parameter[0].part[2]", "the index part must have a valueInteger"},
		{"insert path not naming a list", params(insert("Patient.identifier.first()", 0, `"valueIdentifier":{"value":"1"}`)), "Parameters.parameter[0].part[1]", "the path of an insert names the list, and must end in the list's element name"},
		{"move path not naming a list", params(move("Patient.identifier[0]", 0, 1)), "Parameters.parameter[0].part[1]", "the path of a move names the list"},
		{"too many operations", params(many...), "Parameters.parameter", "a patch may have at most 1000 operations, this one has 1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := fhirpatch.Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse = %v, want an error", p)
			}
			var oe *outcome.Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not an *outcome.Error", err)
			}
			if oe.Status() != 400 {
				t.Errorf("status %d, want 400: %v", oe.Status(), err)
			}
			is := oe.Issues[0]
			got := ""
			if len(is.Expression) > 0 {
				got = is.Expression[0]
			}
			if got != tt.where || !strings.Contains(is.Diagnostics, tt.msg) {
				t.Errorf("issue at %q: %q; want at %q containing %q", got, is.Diagnostics, tt.where, tt.msg)
			}
		})
	}
}

// specCases are the FHIR project's published FHIRPath Patch test cases,
// ported to JSON in testdata/spec-cases.json.
type specCase struct {
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Patch  json.RawMessage `json:"patch"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
}

func TestSpecCases(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []specCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 30 {
		t.Fatalf("only %d cases", len(file.Cases))
	}
	for _, tc := range file.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			if _, err := resource.Parse(tc.Input, "Patient"); err != nil {
				t.Fatalf("the input is not a valid Patient: %v", err)
			}
			got, err := apply(t, string(tc.Input), string(tc.Patch))
			if tc.Error != "" {
				if err == nil {
					t.Fatalf("Apply = %s, want an error", got)
				}
				if !strings.Contains(err.Error(), tc.Error) {
					t.Errorf("error %q, want it to contain %q", err, tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var want, have any
			if err := json.Unmarshal(tc.Output, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("result is not JSON: %v", err)
			}
			if diff := cmp.Diff(want, have); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if _, err := resource.Parse(got, "Patient"); err != nil {
				t.Errorf("the result is not a valid Patient: %v", err)
			}
		})
	}
}

func TestPatchIsReusable(t *testing.T) {
	p, err := fhirpatch.Parse([]byte(params(add("Patient", "gender", `"valueCode":"male"`))))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Errorf("Len = %d", p.Len())
	}
	for _, doc := range []string{`{"resourceType":"Patient","id":"a"}`, `{"resourceType":"Patient","id":"b","active":true}`} {
		got, err := p.Apply([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(doc, "}") + `,"gender":"male"}`
		if string(got) != want {
			t.Errorf("Apply(%s) = %s, want %s", doc, got, want)
		}
	}
}

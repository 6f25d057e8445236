package fhirpatch_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
	"github.com/telefhir/telefhir/fhir/outcome"
)

// FuzzParse feeds arbitrary bodies to Parse and applies what parses to a
// Patient: neither may panic, every error is an *outcome.Error, and a
// successful result is a JSON object.
func FuzzParse(f *testing.F) {
	seeds := []string{
		params(),
		params(add("Patient", "birthDate", `"valueDate":"1930-01-01"`)),
		params(add("Patient", "contact", `"part":[{"name":"name","valueHumanName":{"text":"a"}},{"name":"gender","valueCode":"male","_valueCode":`+ext+`}]`)),
		params(insert("Patient.name[0].given", 1, `"valueString":"x","_valueString":`+ext)),
		params(del("Patient.name[0].given[1].extension"), move("Patient.identifier", 1, 0)),
		params(replace("Patient.deceased", `"valueDateTime":"2020"`), replace("Patient.name.where(use = 'official').family", `"valueString":"y"`)),
		params(add("Patient", "contained", `"resource":{"resourceType":"Organization","id":"o"}`), replace("Patient.managingOrganization.resolve()", `"resource":{"resourceType":"Organization","id":"o"}`)),
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"}]}]}`,
		`{"resourceType":"Patient"}`,
		`[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const doc = `{"resourceType":"Patient","id":"p","identifier":[{"value":"1"},{"value":"2"}],"name":[{"use":"official","family":"D","given":["A","B"],"_given":[null,` + ext + `]}],"deceasedBoolean":false,"managingOrganization":{"reference":"#o"},"contained":[{"resourceType":"Organization","id":"o"}]}`
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := fhirpatch.Parse(body)
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Parse error %T %v is not an *outcome.Error", err, err)
			}
			return
		}
		out, err := p.Apply([]byte(doc))
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Apply error %T %v is not an *outcome.Error", err, err)
			}
			if oe.Kind == outcome.KindInternal {
				t.Fatalf("Apply failed internally: %v", err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m["resourceType"] != "Patient" {
			t.Fatalf("Apply = %s: not a Patient object (%v)", out, err)
		}
	})
}

// FuzzOperation builds one well-formed operation from fuzzed pieces (type,
// path, name, value[x] and indexes) so that the fuzzer spends its time in
// Apply rather than in JSON syntax. Besides not panicking, a successful
// patch must leave a JSON object with the Patient's id.
func FuzzOperation(f *testing.F) {
	f.Add("add", "Patient", "gender", "valueCode", `"male"`, 0, 0)
	f.Add("insert", "Patient.name[0].given", "", "valueString", `"C"`, 2, 0)
	f.Add("delete", "Patient.name[0].given[1].extension", "", "", "", 0, 0)
	f.Add("replace", "Patient.deceased", "", "valueDateTime", `"2020"`, 0, 0)
	f.Add("move", "Patient.identifier", "", "", "", 1, 0)
	f.Add("add", "Patient.name[0].given[0]", "extension", "", "", 0, 0)
	f.Add("replace", "Patient.contained[0]", "", "valueString", `"x"`, 0, 0)
	const doc = `{"resourceType":"Patient","id":"p","identifier":[{"value":"1"},{"value":"2"}],"name":[{"use":"official","family":"D","given":["A","B"],"_given":[null,` + ext + `]}],"deceasedBoolean":false,"managingOrganization":{"reference":"#o"},"contained":[{"resourceType":"Organization","id":"o"}]}`
	f.Fuzz(func(t *testing.T, kind, path, name, valueKey, valueJSON string, a, b int) {
		parts := []map[string]any{{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}}
		if name != "" {
			parts = append(parts, map[string]any{"name": "name", "valueString": name})
		}
		if valueKey != "" && json.Valid([]byte(valueJSON)) {
			parts = append(parts, map[string]any{"name": "value", valueKey: json.RawMessage(valueJSON)})
		} else if kind == "add" && name != "" {
			parts = append(parts, map[string]any{"name": "value", "part": []any{
				map[string]any{"name": "url", "valueUri": "http://example.org/x"},
				map[string]any{"name": "value", "valueString": "X"},
			}})
		}
		switch kind {
		case "insert":
			parts = append(parts, map[string]any{"name": "index", "valueInteger": a})
		case "move":
			parts = append(parts, map[string]any{"name": "source", "valueInteger": a}, map[string]any{"name": "destination", "valueInteger": b})
		}
		body, err := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": parts}}})
		if err != nil {
			return
		}
		p, err := fhirpatch.Parse(body)
		if err != nil {
			return
		}
		out, err := p.Apply([]byte(doc))
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) || oe.Kind == outcome.KindInternal {
				t.Fatalf("Apply(%s): %T %v", body, err, err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m["id"] != "p" {
			t.Fatalf("Apply(%s) = %s (%v)", body, out, err)
		}
	})
}

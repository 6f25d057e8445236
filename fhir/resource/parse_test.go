package resource

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/jsonformat/errorreporter"
	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/outcome"
)

const ext = `{"extension":[{"url":"http://example.org/x","valueString":"y"}]}`

// issuesOf returns "expression: diagnostics" for each issue of err, which
// must be an *outcome.Error of kind k.
func issuesOf(t *testing.T, err error, k outcome.Kind) []string {
	t.Helper()
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not an *outcome.Error", err, err)
	}
	if oe.Kind != k {
		t.Errorf("kind = %v, want %v (%v)", oe.Kind, k, err)
	}
	var out []string
	for _, is := range oe.Issues {
		if is.Severity != "error" || is.Code == "" || is.Diagnostics == "" {
			t.Errorf("incomplete issue %+v", is)
		}
		out = append(out, strings.Join(is.Expression, ",")+": "+is.Diagnostics)
	}
	return out
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, body, typ, id string
	}{
		{"minimal", `{"resourceType":"Patient"}`, "Patient", ""},
		{"id", `{"resourceType":"Patient","id":"p-1.a"}`, "Patient", "p-1.a"},
		{"escaped id and type", `{"resourceType":"Pat\u0069ent","id":"p\u002d1"}`, "Patient", "p-1"},
		{"id before resourceType", `{"id":"x","resourceType":"Patient"}`, "Patient", "x"},
		{"whitespace", " \n\t{ \"resourceType\" : \"Patient\" }\r\n", "Patient", ""},
		{"observation", `{"resourceType":"Observation","status":"final","code":{"text":"bp"},"valueQuantity":{"value":1.50,"unit":"mm[Hg]"}}`, "Observation", ""},

		// Nulls in primitive arrays, paired with the _x array, in every
		// arrangement and for several primitive types.
		{"null string value", `{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,` + ext + `]}]}`, "Patient", ""},
		{"null string value, _x first", `{"resourceType":"Patient","name":[{"_given":[null,` + ext + `],"given":["a",null]}]}`, "Patient", ""},
		{"null first", `{"resourceType":"Patient","name":[{"given":[null,"b"],"_given":[` + ext + `,null]}]}`, "Patient", ""},
		{"null in _x only", `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null,` + ext + `]}]}`, "Patient", ""},
		{"both", `{"resourceType":"Patient","name":[{"given":["a","b","c"],"_given":[` + ext + `,null,` + ext + `]}]}`, "Patient", ""},
		{"null dateTime", `{"resourceType":"Patient","extension":[{"url":"http://x","valueTiming":{"event":["2020-01-01",null],"_event":[null,` + ext + `]}}]}`, "Patient", ""},
		{"null dateTime first", `{"resourceType":"Patient","extension":[{"url":"http://x","valueTiming":{"_event":[` + ext + `,null],"event":[null,"2020-01-01"]}}]}`, "Patient", ""},
		{"null code", `{"resourceType":"Questionnaire","status":"draft","subjectType":["Patient",null],"_subjectType":[null,` + ext + `]}`, "Questionnaire", ""},
		{"null canonical", `{"resourceType":"CarePlan","status":"draft","intent":"plan","subject":{"reference":"Patient/1"},"instantiatesCanonical":[null,"http://a"],"_instantiatesCanonical":[` + ext + `,null]}`, "CarePlan", ""},
		{"null address line", `{"resourceType":"Patient","address":[{"line":[null,"x"],"_line":[` + ext + `,null]}]}`, "Patient", ""},
		{"null in contained", `{"resourceType":"Patient","contained":[{"resourceType":"Practitioner","name":[{"given":[null],"_given":[` + ext + `]}]}]}`, "Patient", ""},
		{"null in bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","name":[{"given":[null],"_given":[` + ext + `]}]}}]}`, "Bundle", ""},
		{"null in parameters resource", `{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,` + ext + `]}]}}]}`, "Parameters", ""},

		// A primitive with extensions and no value.
		{"_id only", `{"resourceType":"Patient","_id":` + ext + `}`, "Patient", ""},
		{"_language only", `{"resourceType":"Patient","_language":` + ext + `}`, "Patient", ""},
		{"_status only", `{"resourceType":"Observation","_status":` + ext + `,"code":{"text":"x"}}`, "Observation", ""},

		// Inline resources.
		{"parameters resource", `{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","id":"x"}}]}`, "Parameters", ""},
		{"parameters part resource", `{"resourceType":"Parameters","parameter":[{"name":"p","part":[{"name":"q","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]}]}`, "Parameters", ""},
		{"parameters resource type late", `{"parameter":[{"resource":{"id":"x","resourceType":"Patient"},"name":"p"}],"resourceType":"Parameters"}`, "Parameters", ""},
		{"parameters in bundle", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient"}}]}}]}`, "Bundle", ""},
		{"bundle in parameters", `{"resourceType":"Parameters","parameter":[{"name":"b","resource":{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}}]}`, "Parameters", ""},
		{"contained", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}`, "Observation", ""},
		{"bundle response outcome", `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}}}]}`, "Bundle", ""},
		{"contained in bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient"}]}}]}`, "Bundle", ""},
		{"Binary", `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`, "Binary", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.body), tt.typ)
			if err != nil {
				t.Fatalf("Parse: %v\n%v", err, issuesOf(t, err, outcome.From(err).Kind))
			}
			if p.Type != tt.typ || p.ID != tt.id || string(p.Raw) != tt.body {
				t.Errorf("Parse = {%q %q %q}, want {%q %q body}", p.Type, p.ID, p.Raw, tt.typ, tt.id)
			}
			if _, err := Parse([]byte(tt.body), ""); err != nil {
				t.Errorf("Parse without a wanted type: %v", err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, body, want string
		kind             outcome.Kind
		issues           []string // "expression: diagnostics"
	}{
		// The resource as a whole.
		{name: "array", body: `[{"resourceType":"Patient"}]`, kind: outcome.KindInvalid, issues: []string{": a resource must be a JSON object"}},
		{name: "string", body: `"Patient"`, kind: outcome.KindInvalid, issues: []string{": a resource must be a JSON object"}},
		{name: "no resourceType", body: `{"id":"x"}`, kind: outcome.KindInvalid, issues: []string{": the resource has no resourceType"}},
		{name: "resourceType not a string", body: `{"resourceType":["Patient"]}`, kind: outcome.KindInvalid, issues: []string{": resourceType must be a JSON string"}},
		{name: "unknown type", body: `{"resourceType":"SubscriptionStatus"}`, kind: outcome.KindInvalid, issues: []string{`: unknown resource type "SubscriptionStatus" (not an R4 resource type)`}},
		{name: "abstract type", body: `{"resourceType":"DomainResource"}`, kind: outcome.KindInvalid, issues: []string{`: unknown resource type "DomainResource" (not an R4 resource type)`}},
		{name: "lower-case type", body: `{"resourceType":"patient"}`, kind: outcome.KindInvalid, issues: []string{`: unknown resource type "patient" (not an R4 resource type)`}},
		{name: "wrong type", body: `{"resourceType":"Patient"}`, want: "Observation", kind: outcome.KindInvalid, issues: []string{`: resourceType "Patient" does not match the expected type "Observation"`}},

		// Malformed JSON: where, by line, column and offset.
		{name: "empty", body: ``, kind: outcome.KindStructure, issues: []string{": invalid JSON at line 1, column 1 (byte offset 0): unexpected end of JSON input"}},
		{name: "truncated", body: "{\"resourceType\":\"Patient\",\n\"id\":\"x", kind: outcome.KindStructure, issues: []string{": invalid JSON at line 2, column 8 (byte offset 34): unexpected end of JSON input in a string"}},
		{name: "trailing comma", body: "{\"resourceType\":\"Patient\",\n  }", kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 2, column 3 (byte offset 29): invalid character '}' where a property name was expected`}},
		{name: "trailing data", body: `{"resourceType":"Patient"} x`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 28 (byte offset 27): unexpected 'x' after the top-level value`}},
		{name: "single quotes", body: `{'resourceType':'Patient'}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 2 (byte offset 1): invalid character '\'' where a property name was expected`}},
		{name: "leading zero", body: `{"resourceType":"Observation","valueInteger":01}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 47 (byte offset 46): invalid character '1' after an object member (expected ',' or '}')`}},
		{name: "bad escape", body: `{"resourceType":"Patient","id":"\x"}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 33 (byte offset 32): invalid escape 'x' in a string`}},
		{name: "raw control character", body: "{\"resourceType\":\"Patient\",\"id\":\"a\tb\"}", kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 34 (byte offset 33): control character 0x09 in a string (must be escaped)`}},
		{name: "invalid UTF-8", body: "{\"resourceType\":\"Patient\",\"id\":\"a\xffb\"}", kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 34 (byte offset 33): invalid UTF-8 in a string`}},
		{name: "number out of range", body: `{"resourceType":"Observation","valueQuantity":{"value":1e999}}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 56 (byte offset 55): number out of range`}},
		{name: "duplicate property", body: `{"resourceType":"Patient","id":"a","active":true,"id":"b"}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 50 (byte offset 49): duplicate property "id"`}},
		{name: "duplicate escaped property", body: `{"resourceType":"Patient","id":"a","\u0069d":"b"}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 36 (byte offset 35): duplicate property "id"`}},
		{name: "too deep", body: `{"resourceType":"Patient","extension":` + strings.Repeat(`[`, MaxDepth) + strings.Repeat(`]`, MaxDepth) + `}`, kind: outcome.KindStructure, issues: []string{`: invalid JSON at line 1, column 138 (byte offset 137): nesting deeper than 100 levels`}},

		// Structure: every problem, each at its own location.
		{name: "unknown fields", body: `{"resourceType":"Patient","foo":1,"name":[{"family":"x","bogus":true}],"_birthDate":{"nope":1}}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.birthDate.nope: unknown field",
			"Patient.foo: unknown field",
			"Patient.name[0].bogus: unknown field",
		}},
		{name: "unknown _field", body: `{"resourceType":"Patient","_foo":{}}`, kind: outcome.KindInvalid, issues: []string{"Patient._foo: unknown field"}},
		{name: "upper-case property", body: `{"resourceType":"Patient","Name":[{"family":"x"}],"Gender":"male"}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.Gender: unknown field (property names are case-sensitive)",
			"Patient.Name: unknown field (property names are case-sensitive)",
		}},
		{name: "many problems", body: `{"resourceType":"Patient","active":"yes","birthDate":"1990-13-01","gender":"unknown-ish","name":[{"given":["a",1]}],"deceasedBoolean":false,"deceasedDateTime":"2020"}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.active: expected boolean",
			"Patient.birthDate: expected date",
			"Patient.deceased[x]: only one deceased[x] may be given",
			"Patient.gender: invalid code (not a AdministrativeGenderCode value)",
			"Patient.name[0].given[1]: expected string",
		}},
		{name: "parse and validation issues together", body: `{"resourceType":"Observation","foo":1,"status":"bogus","code":{"text":"x"},"subject":{"reference":"Medication/1"},"component":[{"code":{"text":"c"}},{"valueString":"v","bar":2}],"valueQuantity":{"value":1},"valueString":"x"}`, kind: outcome.KindInvalid, issues: []string{
			`Observation.component[1].bar: unknown field`,
			`Observation.component[1].code: missing required field "code"`,
			"Observation.foo: unknown field",
			"Observation.status: invalid code (not a ObservationStatusCode value)",
			"Observation.subject: invalid reference to a Medication resource, want Patient, Group, Device, Location",
			"Observation.value[x]: only one value[x] may be given",
		}},
		{name: "not an array", body: `{"resourceType":"Patient","name":{"family":"x"}}`, kind: outcome.KindInvalid, issues: []string{"Patient.name: expected array"}},
		{name: "object for a primitive", body: `{"resourceType":"Patient","birthDate":` + ext + `}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.birthDate: a primitive value must be a JSON string, number or boolean, not an object (extensions of a primitive go in _birthDate)"}},
		{name: "object in a primitive array", body: `{"resourceType":"Patient","name":[{"given":["a",{}]}]}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.name[0].given[1]: a primitive value must be a JSON string, number or boolean, not an object (extensions of a primitive go in _given)"}},
		{name: "array for a single primitive", body: `{"resourceType":"Patient","gender":["male"]}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.gender: a primitive value must be a JSON string, number or boolean, not an array (extensions of a primitive go in _gender)"}},
		{name: "empty id", body: `{"resourceType":"Patient","id":""}`, kind: outcome.KindInvalid, issues: []string{"Patient.id: invalid Id format"}},
		{name: "id too long", body: `{"resourceType":"Patient","id":"` + strings.Repeat("a", 65) + `"}`, kind: outcome.KindInvalid, issues: []string{"Patient.id: invalid Id format"}},

		// Nulls: only in primitive arrays, paired with _x.
		{name: "null member", body: `{"resourceType":"Patient","gender":null}`, kind: outcome.KindInvalid, issues: []string{"Patient.gender: null is not allowed as a property value (omit the property instead)"}},
		{name: "null without _x", body: `{"resourceType":"Patient","name":[{"given":["a",null]}]}`, kind: outcome.KindInvalid, issues: []string{"Patient.name[0].given[1]: null in given is only allowed with a matching entry in _given"}},
		{name: "null paired with null", body: `{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,null]}]}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.name[0].given[1]: null in _given needs a value at the same index of given",
			"Patient.name[0].given[1]: null in given needs a value at the same index of _given",
		}},
		{name: "null in _x without value", body: `{"resourceType":"Patient","name":[{"_given":[null]}]}`, kind: outcome.KindInvalid, issues: []string{"Patient.name[0].given[0]: null in _given is only allowed with a matching entry in given"}},
		{name: "null complex element", body: `{"resourceType":"Patient","name":[null]}`, kind: outcome.KindInvalid, issues: []string{"Patient.name[0]: null in name is only allowed with a matching entry in _name"}},
		{name: "length mismatch", body: `{"resourceType":"Patient","name":[{"given":["a"],"_given":[null,` + ext + `]}]}`, kind: outcome.KindInvalid, issues: []string{"Patient.name[0].given: given and _given must have the same length"}},

		// Validation: required elements, reference targets, formats.
		{name: "required", body: `{"resourceType":"Observation","code":{"text":"x"}}`, kind: outcome.KindInvalid, issues: []string{`Observation.status: missing required field "status"`}},
		{name: "required choice", body: `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}`, kind: outcome.KindInvalid, issues: []string{`MedicationRequest.medication[x]: missing required field "medication[x]"`}},
		{name: "required nested", body: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"valueString":"a"}],"extension":[{"valueString":"b"}]}`, kind: outcome.KindInvalid, issues: []string{
			`Observation.component[0].code: missing required field "code"`,
			`Observation.extension[0].url: missing required field "url"`,
		}},
		{name: "reference target", body: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/1"}}`, kind: outcome.KindInvalid, issues: []string{
			"Observation.subject: invalid reference to a Medication resource, want Patient, Group, Device, Location"}},
		{name: "choice format", body: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"extension":[{"url":"http://x","valueId":"not an id!"}]}`, kind: outcome.KindInvalid, issues: []string{"Observation.extension[0].valueId: invalid Id format"}},
		{name: "control character", body: `{"resourceType":"Observation","status":"final","code":{"text":"a\u0001"}}`, kind: outcome.KindInvalid, issues: []string{"Observation.code.text: string contains invalid characters: U+0001"}},

		// Inline resources are validated as their own type, at their place.
		{name: "contained", body: `{"resourceType":"Patient","contained":[{"resourceType":"Patient"},{"resourceType":"Observation","code":{"text":"x"},"foo":1}]}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.contained[1].foo: unknown field",
			`Patient.contained[1].status: missing required field "status"`,
		}},
		{name: "contained required", body: `{"resourceType":"Patient","contained":[{"resourceType":"Observation","code":{"text":"x"}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Patient.contained[0].status: missing required field "status"`}},
		{name: "contained without type", body: `{"resourceType":"Patient","contained":[{"id":"a"}]}`, kind: outcome.KindInvalid, issues: []string{
			`Patient.contained[0]: missing required field "resourceType"`}},
		{name: "bundle entry", body: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Observation","code":{"text":"x"},"valueQuantity":{"value":"1"}}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[1].resource.status: missing required field "status"`,
			"Bundle.entry[1].resource.valueQuantity.value: expected decimal",
		}},
		{name: "bundle entry required", body: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","code":{"text":"x"}}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[0].resource.status: missing required field "status"`}},
		{name: "bundle entry unknown type", body: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Foo"}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[0].resource.resourceType: unknown resource type "Foo"`}},
		{name: "bundle and entry", body: `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","foo":1}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[0].resource.foo: unknown field`,
			`Bundle.type: missing required field "type"`,
		}},
		{name: "response outcome", body: `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"400","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error"}]}}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[0].response.outcome.issue[0].code: missing required field "code"`}},
		{name: "parameters resource", body: `{"resourceType":"Parameters","parameter":[{"name":"a","resource":{"resourceType":"Patient","gender":"x"}},{"name":"b","part":[{"name":"c","resource":{"resourceType":"Observation","code":{"text":"x"}}}]}]}`, kind: outcome.KindInvalid, issues: []string{
			"Parameters.parameter[0].resource.gender: invalid code (not a AdministrativeGenderCode value)",
			`Parameters.parameter[1].part[0].resource.status: missing required field "status"`,
		}},
		{name: "deeply nested", body: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Parameters","parameter":[{"name":"x","resource":{"resourceType":"Patient","contained":[{"resourceType":"Observation","status":"final"}]}}]}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Bundle.entry[0].resource.parameter[0].resource.contained[0].code: missing required field "code"`}},
		{name: "resource in the wrong place", body: `{"resourceType":"Patient","link":[{"other":{"resourceType":"Patient"},"type":"seealso"}]}`, kind: outcome.KindInvalid, issues: []string{
			"Patient.link[0].other.resourceType: unknown field"}},
		{name: "wrong type in parameters", body: `{"resourceType":"Parameters","parameter":[{"name":"a","resource":{"resourceType":"Nope"}}]}`, kind: outcome.KindInvalid, issues: []string{
			`Parameters.parameter[0].resource.resourceType: unknown resource type "Nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.body), tt.want)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", p)
			}
			if diff := cmp.Diff(tt.issues, issuesOf(t, err, tt.kind)); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
		})
	}
}

// The number of issues is bounded, whatever the input.
func TestParseManyIssues(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Patient"`)
	for i := range 1000 {
		sb.WriteString(`,"f` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26) + `":1`)
	}
	sb.WriteString(`}`)
	_, err := Parse([]byte(sb.String()), "")
	is := issuesOf(t, err, outcome.KindInvalid)
	if len(is) != MaxIssues+1 || !strings.Contains(is[MaxIssues], "and 900 more issues") {
		t.Errorf("got %d issues, last %q; want %d and a summary", len(is), is[len(is)-1], MaxIssues+1)
	}
}

// Deep nesting within the limit is fine.
func TestParseDepthLimit(t *testing.T) {
	// Patient{extension[ {extension[ … ]} ]}: each extension level is two.
	n := (MaxDepth - 1) / 2
	body := `{"resourceType":"Patient"` + strings.Repeat(`,"extension":[{"url":"http://x"`, n) + strings.Repeat(`}]`, n) + `}`
	if _, err := Parse([]byte(body), "Patient"); err != nil {
		t.Errorf("Parse at depth %d: %v", 2*n+1, err)
	}
	body = `{"resourceType":"Patient"` + strings.Repeat(`,"extension":[{"url":"http://x"`, n+1) + strings.Repeat(`}]`, n+1) + `}`
	if _, err := Parse([]byte(body), "Patient"); !outcome.Is(err, outcome.KindStructure) {
		t.Errorf("Parse at depth %d: %v, want a structure error", 2*n+3, err)
	}
}

// Parse reads the library's errors by reflection (their type is internal
// to the library); this fails if their shape changes.
func TestLibraryErrorShape(t *testing.T) {
	_, err := unmarshaller.Unmarshal([]byte(`{"resourceType":"Patient","foo":1,"active":"x"}`))
	les, ok := libErrors(err)
	if !ok || len(les) != 2 {
		t.Fatalf("libErrors(%v) = %v, %v; want two errors", err, les, ok)
	}
	for _, le := range les {
		if le.path == "" || le.details == "" {
			t.Errorf("libError %+v lacks a path or details", le)
		}
	}
	if _, ok := libErrors(errors.New("x")); ok {
		t.Error("libErrors accepted a plain error")
	}
	var rep reporter
	var _ errorreporter.ErrorReporter = &rep
}

// The placeholders that stand in for cut-out inline resources must be
// accepted by the library without any issue.
func TestPlaceholders(t *testing.T) {
	for _, body := range []string{
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + placeholderResource + `,"response":{"status":"200","outcome":` + placeholderResource + `}}]}`,
		`{"resourceType":"Patient","contained":[` + placeholderResource + `]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"a","resource":` + placeholderAny + `}]}`,
	} {
		var rep reporter
		if _, err := unmarshaller.UnmarshalWithErrorReporter([]byte(body), &rep); err != nil || len(rep.errs) > 0 {
			t.Errorf("library on %s: %v %v", body, err, rep.errs)
		}
	}
}

// Parse and Stamp run on every write, from many goroutines at once.
func TestConcurrent(t *testing.T) {
	files, _ := exampleFiles(t)
	if len(files) > 60 {
		files = files[:60]
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i := range files {
				body, rerr := os.ReadFile(files[(i+g)%len(files)])
				if rerr != nil {
					err = rerr
					break
				}
				if _, err = Parse(body, ""); err != nil {
					break
				}
				if _, err = Stamp(body, "a", 1, time.Now()); err != nil {
					break
				}
				if _, err = Parse([]byte(`{"resourceType":"Patient","name":[null],"contained":[{"resourceType":"Patient","foo":1}]}`), ""); err == nil {
					err = errors.New("invalid resource accepted")
					break
				}
				err = nil
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

package rest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/rest"
)

// fhirPatch is a FHIRPath Patch body with the given operations, each
// written as its parts.
func fhirPatch(ops ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Parameters","parameter":[`)
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"operation","part":[` + op + `]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestFHIRPathPatch(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1","extension":[{"url":"http://example.org/w","valueDecimal":1.50}],"active":true,"birthDate":"1980-01-01","name":[{"family":"Doe","given":["Ann"]}]}`))
	fhirJSON := []string{"Content-Type", "application/fhir+json"}

	r := e.must(200, "PATCH", "/Patient/p1", fhirPatch(
		`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1981-02-03"}`,
		`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0]"},{"name":"name","valueString":"given"},{"name":"value","valueString":"Bea"}`,
		`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"female"}`,
	), fhirJSON...)
	if et := r.Header.Get("ETag"); et != `W/"2"` {
		t.Errorf("ETag %q", et)
	}
	// The stored bytes keep member order and the decimal as written.
	wantPrefix := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"`
	wantRest := `"},"extension":[{"url":"http://example.org/w","valueDecimal":1.50}],"active":true,"birthDate":"1981-02-03","name":[{"family":"Doe","given":["Ann","Bea"]}],"gender":"female"}`
	if !bytes.HasPrefix(r.body, []byte(wantPrefix)) || !bytes.HasSuffix(r.body, []byte(wantRest)) {
		t.Errorf("patched resource\n%s\nwant %s…%s", r.body, wantPrefix, wantRest)
	}
	if g := e.must(200, "GET", "/Patient/p1", nil); !bytes.Equal(g.body, r.body) {
		t.Errorf("read after patch\n%s\nwant\n%s", g.body, r.body)
	}

	// If-Match is honoured.
	deleteGender := fhirPatch(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.gender"}`)
	outcomeOf(t, e.do("PATCH", "/Patient/p1", deleteGender, append(fhirJSON, "If-Match", `W/"1"`)...), 412, "conflict")
	r = e.must(200, "PATCH", "/Patient/p1", deleteGender, append(fhirJSON, "If-Match", `W/"2"`)...)
	if v, _ := meta(t, r.json(t)); v != "3" || bytes.Contains(r.body, []byte("gender")) {
		t.Errorf("version %s after delete: %s", v, r.body)
	}

	// Plain application/json: an object is a FHIRPath Patch, an array a
	// JSON Patch.
	r = e.must(200, "PATCH", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.active"},{"name":"value","valueBoolean":false}`), "Content-Type", "application/json")
	if m := r.json(t); m["active"] != false {
		t.Errorf("application/json FHIRPath Patch: %s", r.body)
	}
	r = e.must(200, "PATCH", "/Patient/p1", []byte(` [{"op":"replace","path":"/active","value":true}]`), "Content-Type", "application/json")
	if m := r.json(t); m["active"] != true {
		t.Errorf("application/json JSON Patch: %s", r.body)
	}
	if v, _ := meta(t, e.must(200, "GET", "/Patient/p1", nil).json(t)); v != "5" {
		t.Errorf("version %s after the patches, want 5", v)
	}
}

func TestFHIRPathPatchErrors(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1","active":true,"birthDate":"1980-01-01","name":[{"family":"Doe"},{"family":"Roe"}]}`))
	e.must(201, "PUT", "/Patient/gone", []byte(`{"resourceType":"Patient","id":"gone"}`))
	e.must(204, "DELETE", "/Patient/gone", nil)
	e.must(201, "PUT", "/Observation/o1", []byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}`))
	before := e.must(200, "GET", "/Patient/p1", nil).body
	fhirJSON := []string{"Content-Type", "application/fhir+json"}
	replaceBirthDate := fhirPatch(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1981-01-01"}`)

	tests := []struct {
		name, path string
		body       []byte
		headers    []string
		status     int
		code       string
		where      string // the first issue's expression
		msg        string // part of its diagnostics
	}{
		{"path matches nothing", "/Patient/p1", fhirPatch(
			`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.active"},{"name":"value","valueBoolean":false}`,
			`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.gender"},{"name":"value","valueCode":"male"}`,
		), fhirJSON, 422, "processing", "Parameters.parameter[1]", "replace Patient.gender: Patient.gender matches nothing"},
		{"path matches several", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name"}`),
			fhirJSON, 422, "processing", "Parameters.parameter[0]", "matches 2 elements"},
		{"wrong value type", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.active"},{"name":"value","valueInteger":1}`),
			fhirJSON, 422, "processing", "Parameters.parameter[0].part[2]", "Patient.active is a boolean; an integer value does not fit"},
		{"index out of range", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueInteger":2},{"name":"destination","valueInteger":0}`),
			fhirJSON, 422, "processing", "Parameters.parameter[0].part[2]", "source 2 is out of range"},
		{"meta is the server's", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.meta.versionId"}`),
			fhirJSON, 422, "processing", "Parameters.parameter[0]", "the resource's meta is maintained by the server"},
		{"the result is validated", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueString":"not a date"}`),
			fhirJSON, 400, "value", "Patient.birthDate", "expected date"},
		{"a required element removed", "/Observation/o1", fhirPatch(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Observation.status"}`),
			fhirJSON, 400, "required", "Observation.status", `missing required field "status"`},
		{"malformed patch", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"remove"},{"name":"path","valueString":"Patient.active"}`),
			fhirJSON, 400, "invalid", "Parameters.parameter[0].part[0]", `unknown operation type "remove"`},
		{"not a Parameters", "/Patient/p1", []byte(`{"resourceType":"Patient"}`), fhirJSON, 400, "invalid", "", "does not match the expected type"},
		{"bad FHIRPath", "/Patient/p1", fhirPatch(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name["}`),
			fhirJSON, 400, "invalid", "Parameters.parameter[0].part[1]", "not FHIRPath"},
		{"not JSON", "/Patient/p1", []byte(`{"resourceType":`), fhirJSON, 400, "structure", "", "invalid JSON"},
		{"unknown resource", "/Patient/nope", replaceBirthDate, fhirJSON, 404, "not-found", "", "Patient/nope is not known"},
		{"deleted resource", "/Patient/gone", replaceBirthDate, fhirJSON, 410, "deleted", "", "was deleted"},
		{"unknown type", "/Patientx/p1", replaceBirthDate, fhirJSON, 404, "not-found", "", "not an R4 resource type"},
		{"no content type", "/Patient/p1", replaceBirthDate, []string{"Content-Type", ""}, 415, "not-supported", "", "PATCH needs a Content-Type"},
		{"XML", "/Patient/p1", replaceBirthDate, []string{"Content-Type", "application/fhir+xml"}, 415, "not-supported", "", "JSON only"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := outcomeOf(t, e.do("PATCH", tt.path, tt.body, tt.headers...), tt.status, tt.code)
			where := ""
			if x, ok := is["expression"].([]any); ok && len(x) > 0 {
				where, _ = x[0].(string)
			}
			diag, _ := is["diagnostics"].(string)
			if where != tt.where || !strings.Contains(diag, tt.msg) {
				t.Errorf("issue at %q: %q; want at %q containing %q", where, diag, tt.where, tt.msg)
			}
		})
	}
	if after := e.must(200, "GET", "/Patient/p1", nil).body; !bytes.Equal(after, before) {
		t.Errorf("failed patches changed the resource:\n%s\nwas\n%s", after, before)
	}
	if v, _ := meta(t, e.must(200, "GET", "/Observation/o1", nil).json(t)); v != "1" {
		t.Errorf("Observation version %s after a refused patch", v)
	}
}

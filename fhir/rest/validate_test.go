package rest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/rest"
)

// issue is one OperationOutcome issue, flattened for comparison.
type issue struct {
	severity, code, where, diag string
}

func (i issue) String() string {
	return fmt.Sprintf("%s %s at %q: %s", i.severity, i.code, i.where, i.diag)
}

// issues checks that r is a 200 OperationOutcome and returns its issues.
func issues(t *testing.T, r response) []issue {
	t.Helper()
	if r.StatusCode != 200 {
		t.Fatalf("status %d, want 200: %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	if m["resourceType"] != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %s", r.body)
	}
	var out []issue
	for _, x := range m["issue"].([]any) {
		is := x.(map[string]any)
		i := issue{severity: is["severity"].(string), code: is["code"].(string)}
		i.diag, _ = is["diagnostics"].(string)
		if ex, ok := is["expression"].([]any); ok && len(ex) > 0 {
			i.where, _ = ex[0].(string)
		}
		out = append(out, i)
	}
	return out
}

// validateParams is a $validate Parameters body: a resource (may be empty)
// and name/value pairs of primitive parameters.
func validateParams(res string, pairs ...string) []byte {
	var parts []string
	if res != "" {
		parts = append(parts, `{"name":"resource","resource":`+res+`}`)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		key := "valueCode"
		if pairs[i] == "profile" {
			key = "valueCanonical"
		}
		parts = append(parts, fmt.Sprintf(`{"name":%q,%q:%q}`, pairs[i], key, pairs[i+1]))
	}
	return []byte(`{"resourceType":"Parameters","parameter":[` + strings.Join(parts, ",") + `]}`)
}

func TestValidate(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1","active":true}`))
	e.must(201, "PUT", "/Patient/gone", []byte(`{"resourceType":"Patient","id":"gone"}`))
	e.must(204, "DELETE", "/Patient/gone", nil)
	const valid = `{"resourceType":"Patient","id":"p1","birthDate":"1970-01-01"}`
	const invalid = `{"resourceType":"Patient","birthDate":"1970-13-01","nmae":[{"family":"x"}]}`
	ok := issue{"information", "informational", "", "The resource is valid"}

	tests := []struct {
		name, method, path string
		body               []byte
		want               []issue
	}{
		{"valid", "POST", "/Patient/$validate", []byte(valid), []issue{ok}},
		{"invalid, every problem located", "POST", "/Patient/$validate", []byte(invalid), []issue{
			{"error", "value", "Patient.birthDate", "expected date"},
			{"error", "structure", "Patient.nmae", "unknown field"},
		}},
		{"another type", "POST", "/Patient/$validate", []byte(`{"resourceType":"Observation"}`), []issue{
			{"error", "invalid", "", `resourceType "Observation" does not match the expected type "Patient"`},
		}},
		{"not a resource", "POST", "/Patient/$validate", []byte(`[1]`), []issue{
			{"error", "invalid", "", "a resource must be a JSON object"},
		}},
		{"in Parameters", "POST", "/Patient/$validate", validateParams(invalid), []issue{
			{"error", "value", "Patient.birthDate", "expected date"},
			{"error", "structure", "Patient.nmae", "unknown field"},
		}},
		{"a Parameters resource itself", "POST", "/Parameters/$validate", []byte(`{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}`), []issue{ok}},
		{"create ignores the id", "POST", "/Patient/$validate?mode=create", []byte(valid), []issue{
			{"information", "informational", "Patient.id", "A create ignores the id in the resource"},
			{"information", "informational", "", "The resource is valid for a create"},
		}},
		{"create in Parameters", "POST", "/Patient/$validate", validateParams(`{"resourceType":"Patient"}`, "mode", "create"), []issue{
			{"information", "informational", "", "The resource is valid for a create"},
		}},
		{"update with the URL's id", "POST", "/Patient/p1/$validate?mode=update", []byte(valid), []issue{
			{"information", "informational", "", "The resource is valid for an update"},
		}},
		{"update with another id", "POST", "/Patient/p2/$validate?mode=update", []byte(valid), []issue{
			{"error", "invalid", "Patient.id", `The resource id "p1" does not match the id in the URL "p2"`},
		}},
		{"update without an id", "POST", "/Patient/p1/$validate", validateParams(`{"resourceType":"Patient"}`, "mode", "update"), []issue{
			{"error", "required", "Patient.id", `The resource has no id; an update must carry the id of the URL ("p1")`},
		}},
		{"update at type level without an id", "POST", "/Patient/$validate?mode=update", []byte(`{"resourceType":"Patient"}`), []issue{
			{"error", "required", "Patient.id", "The resource has no id"},
		}},
		{"delete of one that exists", "GET", "/Patient/p1/$validate?mode=delete", nil, []issue{
			{"information", "informational", "", "The resource exists and may be deleted"},
		}},
		{"delete of one that does not", "POST", "/Patient/p9/$validate", validateParams("", "mode", "delete"), []issue{
			{"error", "not-found", "", "Patient/p9 does not exist, so it cannot be deleted"},
		}},
		{"delete of a deleted one", "GET", "/Patient/gone/$validate?mode=delete", nil, []issue{
			{"error", "not-found", "", "Patient/gone does not exist"},
		}},
		{"delete named by the resource", "POST", "/Patient/$validate?mode=delete", []byte(valid), []issue{
			{"information", "informational", "", "The resource exists and may be deleted"},
		}},
		{"the stored version", "GET", "/Patient/p1/$validate", nil, []issue{ok}},
		{"a profile not checked", "POST", "/Patient/$validate?profile=http://example.org/StructureDefinition/my-patient", []byte(valid), []issue{
			{"warning", "not-supported", "", `Profile "http://example.org/StructureDefinition/my-patient" was not checked: this server validates against the base R4 definitions only`},
			ok,
		}},
		{"a profile in Parameters", "POST", "/Patient/$validate", validateParams(valid, "profile", "http://example.org/p|1.0"), []issue{
			{"warning", "not-supported", "", `Profile "http://example.org/p|1.0" was not checked`},
			ok,
		}},
		{"a profile not checked, and errors", "POST", "/Patient/$validate?profile=http://example.org/p", []byte(invalid), []issue{
			{"error", "value", "Patient.birthDate", "expected date"},
			{"error", "structure", "Patient.nmae", "unknown field"},
			{"warning", "not-supported", "", `Profile "http://example.org/p" was not checked`},
		}},
		{"the base profile is checked", "POST", "/Patient/$validate?profile=http://hl7.org/fhir/StructureDefinition/Patient|4.0.1", []byte(valid), []issue{ok}},
		{"a profile the resource claims", "POST", "/Patient/$validate", []byte(`{"resourceType":"Patient","meta":{"profile":["http://hl7.org/fhir/StructureDefinition/Patient","http://example.org/p"]}}`), []issue{
			{"information", "informational", "Patient.meta.profile[1]", `The resource claims profile "http://example.org/p", which this server does not check`},
			ok,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := issues(t, e.do(tt.method, tt.path, tt.body))
			if len(got) != len(tt.want) {
				t.Fatalf("issues %v, want %v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.severity != w.severity || g.code != w.code || g.where != w.where || !strings.HasPrefix(g.diag, w.diag) {
					t.Errorf("issue %d: %v, want %v", i, g, w)
				}
			}
		})
	}

	// Nothing was stored: p1 is still at version 1, and there is no other
	// Patient.
	if v, _ := meta(t, e.must(200, "GET", "/Patient/p1", nil).json(t)); v != "1" {
		t.Errorf("p1 is at version %s", v)
	}
	if b := e.must(200, "GET", "/Patient?_total=accurate", nil).json(t); b["total"] != float64(1) {
		t.Errorf("%v Patients after $validate, want 1", b["total"])
	}
}

func TestValidateBadRequests(t *testing.T) {
	e := newEnv(t, rest.Config{})
	const valid = `{"resourceType":"Patient"}`
	tests := []struct {
		name, method, path string
		body               []byte
		headers            []string
		status             int
		msg                string
	}{
		{"unknown type", "POST", "/Patientx/$validate", []byte(valid), nil, 404, "not an R4 resource type"},
		{"bad id", "POST", "/Patient/a_b/$validate", []byte(valid), nil, 400, "is not a valid resource id"},
		{"no body", "POST", "/Patient/$validate", nil, []string{"Content-Type", "application/fhir+json"}, 400, "The request has no body"},
		{"not JSON", "POST", "/Patient/$validate", []byte(`{"resourceType":`), nil, 400, "invalid JSON"},
		{"XML", "POST", "/Patient/$validate", []byte(`<Patient/>`), []string{"Content-Type", "application/fhir+xml"}, 415, "JSON only"},
		{"bad mode", "POST", "/Patient/$validate?mode=upsert", []byte(valid), nil, 400, `mode "upsert" is not a $validate mode`},
		{"unknown parameter", "POST", "/Patient/$validate", validateParams(valid, "mood", "create"), nil, 400, `$validate has no parameter "mood"`},
		{"modes disagree", "POST", "/Patient/$validate?mode=update", validateParams(valid, "mode", "create"), nil, 400, `the mode parameter ("create") disagrees with the mode in the URL ("update")`},
		{"two resources", "POST", "/Patient/$validate", []byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient"}},{"name":"resource","resource":{"resourceType":"Patient"}}]}`), nil, 400, "the resource parameter must be given once"},
		{"nothing to validate", "POST", "/Patient/$validate", validateParams("", "mode", "create"), nil, 400, "$validate needs the resource to validate"},
		{"delete without an id", "POST", "/Patient/$validate", validateParams("", "mode", "delete"), nil, 400, "mode delete needs the resource to delete"},
		{"stored version of nothing", "GET", "/Patient/nope/$validate", nil, nil, 404, "Patient/nope is not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := outcomeOf(t, e.do(tt.method, tt.path, tt.body, tt.headers...), tt.status, "")
			if d, _ := is["diagnostics"].(string); !strings.Contains(d, tt.msg) {
				t.Errorf("diagnostics %q, want %q", d, tt.msg)
			}
		})
	}
}

package audit_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/store"
)

// obs is an Observation about subject.
func obs(id, subject string) string {
	if id != "" {
		id = `"id":"` + id + `",`
	}
	return `{"resourceType":"Observation",` + id + `"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},` +
		`"subject":{"reference":"` + subject + `"},"performer":[{"reference":"Practitioner/d1"}],"valueQuantity":{"value":72,"unit":"/min"}}`
}

// phiName and phiBirth are protected health information the tests put in
// resources, queries and bad requests; no record may carry them in text.
const (
	phiName  = "Zebediah"
	phiBirth = "1971-02-03"
)

// setup writes the data every interaction case starts from.
func setup(e *env) {
	e.t.Helper()
	e.must(201, "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"`+phiName+`","given":["Quux"]}],"birthDate":"`+phiBirth+`"}`)
	e.must(201, "PUT", "/Patient/p2", `{"resourceType":"Patient","id":"p2"}`)
	e.must(201, "PUT", "/Practitioner/d1", `{"resourceType":"Practitioner","id":"d1"}`)
	e.must(201, "PUT", "/Observation/o1", obs("o1", "Patient/p1"))
}

// interactionCases are the FHIR interactions, each with the request that
// performs it. Each runs on a fresh server after setup; the AuditEvents it
// produces are compared, whole, with testdata/events/<name>.json. run
// returns an id the server chose, to be replaced by {created} before the
// comparison, or "".
var interactionCases = []struct {
	name string
	run  func(e *env) string
}{
	{"capabilities", func(e *env) string { e.must(200, "GET", "/metadata", "", "X-Request-Id", "req-1"); return "" }},
	{"read", func(e *env) string {
		e.must(200, "GET", "/Observation/o1", "", "X-Request-Id", "req-1", "X-Test-Grant", "practitioner")
		return ""
	}},
	{"read-patient", func(e *env) string { e.must(200, "GET", "/Patient/p1", "", "X-Request-Id", "req-1"); return "" }},
	{"read-head", func(e *env) string { e.must(200, "HEAD", "/Patient/p1", "", "X-Request-Id", "req-1"); return "" }},
	{"read-not-modified", func(e *env) string {
		e.must(304, "GET", "/Patient/p1", "", "X-Request-Id", "req-1", "If-None-Match", `W/"1"`)
		return ""
	}},
	{"read-backend", func(e *env) string {
		e.must(200, "GET", "/Observation/o1", "", "X-Request-Id", "req-1", "X-Test-Grant", "backend")
		return ""
	}},
	{"read-not-found", func(e *env) string { e.must(404, "GET", "/Observation/nope", "", "X-Request-Id", "req-1"); return "" }},
	{"read-deleted", func(e *env) string {
		e.must(204, "DELETE", "/Observation/o1", "")
		e.must(410, "GET", "/Observation/o1", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"vread", func(e *env) string {
		e.must(200, "GET", "/Observation/o1/_history/1", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"search-type", func(e *env) string {
		e.must(200, "GET", "/Observation?subject=Patient/p1&_count=5", "", "X-Request-Id", "req-1", "X-Test-Grant", "practitioner")
		return ""
	}},
	{"search-patient-name", func(e *env) string {
		e.must(200, "GET", "/Patient?name="+phiName, "", "X-Request-Id", "req-1")
		return ""
	}},
	{"search-post", func(e *env) string {
		e.must(200, "POST", "/Observation/_search?_count=2", "subject=Patient/p1", "X-Request-Id", "req-1", "Content-Type", "application/x-www-form-urlencoded")
		return ""
	}},
	{"search-system", func(e *env) string {
		e.must(200, "GET", "/?_type=Patient,Observation", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"search-compartment", func(e *env) string {
		e.must(200, "GET", "/Patient/p1/Observation", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"history-instance", func(e *env) string {
		e.must(200, "GET", "/Observation/o1/_history", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"history-type", func(e *env) string { e.must(200, "GET", "/Patient/_history", "", "X-Request-Id", "req-1"); return "" }},
	{"create", func(e *env) string {
		r := e.must(201, "POST", "/Observation", obs("", "Patient/p2"), "X-Request-Id", "req-1", "X-Test-Grant", "practitioner")
		loc := r.Header.Get("Location")
		return strings.Split(strings.TrimPrefix(loc, base+"/Observation/"), "/")[0]
	}},
	{"create-conditional-exists", func(e *env) string {
		e.must(200, "POST", "/Patient", `{"resourceType":"Patient"}`, "X-Request-Id", "req-1", "If-None-Exist", "_id=p1")
		return ""
	}},
	{"update", func(e *env) string {
		e.must(200, "PUT", "/Observation/o1", obs("o1", "Patient/p1"), "X-Request-Id", "req-1")
		return ""
	}},
	{"update-moves-subject", func(e *env) string {
		e.must(200, "PUT", "/Observation/o1", obs("o1", "Patient/p2"), "X-Request-Id", "req-1")
		return ""
	}},
	{"update-as-create", func(e *env) string {
		e.must(201, "PUT", "/Patient/p3", `{"resourceType":"Patient","id":"p3"}`, "X-Request-Id", "req-1")
		return ""
	}},
	{"update-conditional", func(e *env) string {
		e.must(200, "PUT", "/Observation?_id=o1", obs("o1", "Patient/p1"), "X-Request-Id", "req-1")
		return ""
	}},
	{"patch", func(e *env) string {
		e.must(200, "PATCH", "/Observation/o1", `[{"op":"replace","path":"/status","value":"amended"}]`,
			"X-Request-Id", "req-1", "Content-Type", "application/json-patch+json")
		return ""
	}},
	{"delete", func(e *env) string { e.must(204, "DELETE", "/Observation/o1", "", "X-Request-Id", "req-1"); return "" }},
	{"delete-nothing", func(e *env) string {
		e.must(204, "DELETE", "/Observation/nope", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"delete-conditional", func(e *env) string {
		e.must(204, "DELETE", "/Observation?subject=Patient/p1", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"operation-everything", func(e *env) string {
		e.must(200, "GET", "/Patient/p1/$everything", "", "X-Request-Id", "req-1")
		return ""
	}},
	{"create-invalid", func(e *env) string {
		e.must(400, "POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"`+phiName+`"}],"birthDate":"`+phiName+`-`+phiBirth+`"}`, "X-Request-Id", "req-1")
		return ""
	}},
	{"denied", func(e *env) string {
		e.must(403, "GET", "/Observation/o1", "", "X-Request-Id", "req-1", "X-Test-Grant", "practitioner", "X-Test-Deny", "1")
		return ""
	}},
	{"server-error", func(e *env) string {
		e.must(500, "GET", "/Observation/o1", "", "X-Request-Id", "req-1", "X-Test-Panic", "1")
		return ""
	}},
	{"no-route", func(e *env) string {
		e.must(405, "POST", "/Observation/o1", obs("o1", "Patient/p1"), "X-Request-Id", "req-1")
		return ""
	}},
	{"auditevent-update-refused", func(e *env) string {
		e.must(405, "PUT", "/AuditEvent/ae-0001", `{"resourceType":"AuditEvent","id":"ae-0001","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`,
			"X-Request-Id", "req-1")
		return ""
	}},
	{"read-auditevent", func(e *env) string {
		e.must(200, "GET", "/AuditEvent/ae-0001", "", "X-Request-Id", "req-1", "X-Test-Grant", "auditor")
		return ""
	}},
	{"bundle-entries", func(e *env) string {
		e.must(200, "POST", "/", "GET Patient/p1\nGET Observation/o1\nPUT Observation/o1 "+obs("o1", "Patient/p2")+"\nPUT Patient/p2 {\"resourceType\":\"Patient\",\"id\":\"p2\",\"active\":true}",
			"X-Request-Id", "req-1", "Content-Type", "text/plain")
		return ""
	}},
}

// TestInteractions checks the exact AuditEvents every kind of FHIR
// interaction writes, on both stores.
func TestInteractions(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, tc := range interactionCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, kind)
					setup(e)
					from := e.head()
					created := tc.run(e)
					evs := e.eventsAfter(from)
					if len(evs) == 0 {
						t.Fatalf("%s wrote no AuditEvent", tc.name)
					}
					b, err := json.Marshal(evs)
					if err != nil {
						t.Fatal(err)
					}
					if created != "" {
						b = []byte(strings.ReplaceAll(string(b), created, "{created}"))
					}
					var norm any
					if err := json.Unmarshal(b, &norm); err != nil {
						t.Fatal(err)
					}
					golden(t, "events/"+tc.name, norm)
				})
			}
		})
	}
}

// TestReadWaitsForRecord: a read's response does not go out before its
// record is durable; the record is queued by then.
func TestReadWaitsForRecord(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			setup(e)
			e.seal()
			e.must(http.StatusOK, "GET", "/Patient/p1", "")
			b, err := e.st.(store.AuditLog).AuditBacklog(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if b.Count == 0 {
				t.Fatalf("after the response the read's record is not queued")
			}
		})
	}
}

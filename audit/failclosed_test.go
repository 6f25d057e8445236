package audit_test

import (
	"strings"
	"testing"
)

// TestFailClosed: when the trail cannot record a request, the request is
// not answered: a read gets a 503 without the data, and a write is rolled
// back with its record.
func TestFailClosed(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.seal()
		e.sql(`DROP TABLE audit_queue`)

		r := e.must(503, "GET", "/Patient/p1", "")
		if strings.Contains(string(r.body), phiName) || !strings.Contains(string(r.body), "audit trail could not record") {
			t.Errorf("503 body: %s", r.body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("503 Content-Type %q", ct)
		}
		if h := r.Header.Get("ETag"); h != "" {
			t.Errorf("503 carries the read's ETag %q", h)
		}
		e.must(503, "GET", "/Patient?name="+phiName, "")
		e.must(503, "HEAD", "/Patient/p1", "")

		// The write fails with its record, and so does the record of the
		// failure.
		e.must(503, "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","active":false}`)
		got, err := e.st.Read(t.Context(), "Patient", "p1")
		if err != nil || got.VersionID != 1 {
			t.Fatalf("after a write whose record failed, Patient/p1 = version %d, %v; want version 1 untouched", got.VersionID, err)
		}
		if !strings.Contains(e.logs.String(), "could not record the request") {
			t.Errorf("the refusal was not logged")
		}
	})
}

package audit_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// requestIDs returns the request ids of the AuditEvents in a searchset
// Bundle, sorted, and the recorded time of each.
func requestIDs(t *testing.T, body []byte) ([]string, map[string]string) {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				Recorded string `json:"recorded"`
				Entity   []struct {
					What struct {
						Identifier struct{ Value string } `json:"identifier"`
					} `json:"what"`
					Type struct{ Code string } `json:"type"`
				} `json:"entity"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %v: %s", err, body)
	}
	var ids []string
	times := map[string]string{}
	for _, e := range b.Entry {
		for _, en := range e.Resource.Entity {
			if en.Type.Code == "XrequestId" {
				ids = append(ids, en.What.Identifier.Value)
				times[en.What.Identifier.Value] = e.Resource.Recorded
			}
		}
	}
	slices.Sort(ids)
	return ids, times
}

// TestSearchAuditEvents: the trail answers the questions it exists for
// through ordinary FHIR searches, on both stores.
func TestSearchAuditEvents(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			e.must(201, "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "X-Request-Id", "w-p1")
			e.must(201, "PUT", "/Patient/p2", `{"resourceType":"Patient","id":"p2"}`, "X-Request-Id", "w-p2")
			e.must(201, "PUT", "/Observation/o1", obs("o1", "Patient/p1"), "X-Request-Id", "w-o1", "X-Test-Grant", "practitioner")
			e.must(201, "PUT", "/Observation/o2", obs("o2", "Patient/p2"), "X-Request-Id", "w-o2", "X-Test-Grant", "practitioner")
			e.must(200, "GET", "/Observation/o1", "", "X-Request-Id", "r-o1", "X-Test-Grant", "practitioner")
			e.must(200, "GET", "/Observation/o2", "", "X-Request-Id", "r-o2", "X-Test-Grant", "backend")
			e.must(200, "GET", "/Observation?subject=Patient/p2", "", "X-Request-Id", "s-p2")
			e.must(200, "GET", "/Observation/o1/_history/1", "", "X-Request-Id", "v-o1", "X-Test-Grant", "backend")
			e.must(404, "GET", "/Observation/o3", "", "X-Request-Id", "r-o3", "X-Test-Grant", "practitioner")

			search := func(query string) []string {
				t.Helper()
				r := e.must(200, "GET", "/AuditEvent?_count=100&"+query, "", "X-Test-Grant", "auditor")
				ids, _ := requestIDs(t, r.body)
				return ids
			}
			for _, tc := range []struct {
				query string
				want  []string
			}{
				{"patient=Patient/p1", []string{"r-o1", "v-o1", "w-o1", "w-p1"}},
				{"patient=p2", []string{"r-o2", "s-p2", "w-o2", "w-p2"}},
				{"agent=Practitioner/d1", []string{"r-o1", "r-o3", "w-o1", "w-o2"}},
				{"entity=Observation/o1", []string{"r-o1", "v-o1", "w-o1"}},
				{"entity=Observation/o1/_history/1", []string{"r-o1", "v-o1", "w-o1"}},
				{"subtype=read", []string{"r-o1", "r-o2", "r-o3"}},
				{"subtype=http://hl7.org/fhir/restful-interaction|vread", []string{"v-o1"}},
				{"subtype=update&patient=Patient/p2", []string{"w-o2", "w-p2"}},
				{"outcome=4", []string{"r-o3"}},
				{"action=C&agent=Practitioner/d1", []string{"w-o1", "w-o2"}},
				{"altid=u-123", nil}, // altId is not used; the user's id is in who.identifier
				{"agent:identifier=urn:telefhir:client-id|lab-backend", []string{"r-o2", "v-o1"}},
				{"address=127.0.0.1&entity=Observation/o2", []string{"r-o2", "w-o2"}},
			} {
				if diff := cmp.Diff(tc.want, search(tc.query)); diff != "" {
					t.Errorf("AuditEvent?%s (-want +got):\n%s", tc.query, diff)
				}
			}

			// Who saw patient p1's record in a window of time: the date
			// bounds of the read of o1 select it and not the earlier write.
			r := e.must(200, "GET", "/AuditEvent?_count=100&entity=Observation/o1", "", "X-Test-Grant", "auditor")
			_, times := requestIDs(t, r.body)
			q := "patient=Patient/p1&date=ge" + url.QueryEscape(times["r-o1"]) + "&date=le" + url.QueryEscape(times["v-o1"])
			if diff := cmp.Diff([]string{"r-o1", "v-o1"}, search(q)); diff != "" {
				t.Errorf("AuditEvent?%s (-want +got):\n%s", q, diff)
			}
		})
	}
}

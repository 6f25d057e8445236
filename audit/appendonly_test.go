package audit_test

import (
	"encoding/json"
	"testing"

	"github.com/telefhir/telefhir/audit"
)

// TestAppendOnly: no request writes an AuditEvent, whatever the role and
// however it is put, and a refused request changes nothing stored.
func TestAppendOnly(t *testing.T) {
	const ae = `{"resourceType":"AuditEvent","id":"ae-0001","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z",` +
		`"agent":[{"requestor":true}],"source":{"observer":{"display":"forged"}}}`
	eachStore(t, func(t *testing.T, e *env) {
		e.seal()
		before := e.must(200, "GET", "/AuditEvent/ae-0001", "", "X-Test-Grant", "auditor").body
		for _, tc := range []struct {
			name, method, path, body string
			headers                  []string
		}{
			{"update", "PUT", "/AuditEvent/ae-0001", ae, nil},
			{"update as create", "PUT", "/AuditEvent/forged", `{"resourceType":"AuditEvent","id":"forged","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`, nil},
			{"create", "POST", "/AuditEvent", ae, nil},
			{"patch", "PATCH", "/AuditEvent/ae-0001", `[{"op":"replace","path":"/outcome","value":"4"}]`, []string{"Content-Type", "application/json-patch+json"}},
			{"delete", "DELETE", "/AuditEvent/ae-0001", "", nil},
			{"delete of none", "DELETE", "/AuditEvent/never", "", nil},
			{"conditional delete", "DELETE", "/AuditEvent?subtype=update", "", nil},
			{"conditional update", "PUT", "/AuditEvent?_id=ae-0001", ae, nil},
			{"bundle entry", "POST", "/", "PUT AuditEvent/ae-0001 " + ae, []string{"Content-Type", "text/plain"}},
		} {
			for _, role := range []string{"", "auditor", "backend"} {
				headers := append([]string{"X-Test-Grant", role}, tc.headers...)
				r := e.do(tc.method, tc.path, tc.body, headers...)
				if r.StatusCode != 405 {
					t.Errorf("%s as %q: status %d, want 405: %s", tc.name, role, r.StatusCode, r.body)
					continue
				}
				var oo struct {
					ResourceType string
					Issue        []struct{ Code, Diagnostics string }
				}
				if err := json.Unmarshal(r.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 ||
					oo.Issue[0].Code != "not-supported" || oo.Issue[0].Diagnostics != audit.ErrAppendOnly.Issues[0].Diagnostics {
					t.Errorf("%s as %q: body %s, want the append-only OperationOutcome", tc.name, role, r.body)
				}
			}
		}
		e.seal()
		if after := e.must(200, "GET", "/AuditEvent/ae-0001", "", "X-Test-Grant", "auditor").body; string(after) != string(before) {
			t.Errorf("AuditEvent/ae-0001 changed:\nbefore %s\nafter  %s", before, after)
		}
		e.must(404, "GET", "/AuditEvent/forged", "", "X-Test-Grant", "auditor")
		rep, err := audit.Verify(t.Context(), e.st)
		if err != nil || rep.Broken != nil {
			t.Fatalf("Verify after the refused writes = %+v, %v", rep.Broken, err)
		}
		// Every refusal is itself audited, as a failed write: 27, and
		// the 404 of AuditEvent/forged.
		r := e.must(200, "GET", "/AuditEvent?outcome=4&_summary=count", "", "X-Test-Grant", "auditor")
		var count struct{ Total int }
		if err := json.Unmarshal(r.body, &count); err != nil || count.Total != 28 {
			t.Errorf("failed interactions audited: %s, want 28", r.body)
		}
	})
}

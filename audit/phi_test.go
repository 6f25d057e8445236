package audit_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/smart/access"
)

// freeText collects the free-text values of an AuditEvent: outcomeDesc,
// every display, description, name and detail value.
func freeText(v any, key string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			freeText(x, k, out)
		}
	case []any:
		for _, x := range v {
			freeText(x, key, out)
		}
	case string:
		switch key {
		case "outcomeDesc", "display", "description", "name", "valueString", "text":
			*out = append(*out, v)
		}
	}
}

// TestNoPHIOrTokens drives interactions and events full of protected
// health information and whole tokens through the trail, then checks
// that no AuditEvent carries PHI in free text, that no stored AuditEvent
// contains the PHI or a whole token anywhere (the query of a search is
// kept, base64-encoded, in entity.query, as BALP asks), and that the
// server's logs carry neither.
func TestNoPHIOrTokens(t *testing.T) {
	secrets := []string{phiName, "Quux", phiBirth, "MRN-778899", "Smithson", grants["backend"].TokenID, "secret-refresh-token-value", "s3cr3t-pw"}
	eachStore(t, func(t *testing.T, e *env) {
		e.must(201, "PUT", "/Patient/p9", `{"resourceType":"Patient","id":"p9","identifier":[{"system":"urn:mrn","value":"MRN-778899"}],"name":[{"family":"Smithson"}]}`, "X-Test-Grant", "backend")
		e.must(200, "GET", "/Patient?name="+phiName+"&birthdate="+phiBirth, "", "X-Test-Grant", "backend")
		e.must(200, "GET", "/Patient?identifier=urn:mrn|MRN-778899", "", "X-Test-Grant", "practitioner")
		e.must(200, "POST", "/Patient/_search", "family=Smithson", "Content-Type", "application/x-www-form-urlencoded")
		e.must(400, "POST", "/Patient", `{"resourceType":"Patient","birthDate":"`+phiName+`","name":[{"family":"Smithson"}]}`, "X-Test-Grant", "backend")
		e.must(400, "PUT", "/Patient/p9", `{"resourceType":"Patient","id":"p9","name":"Smithson MRN-778899"}`)
		e.must(422, "PATCH", "/Patient/p9", `[{"op":"test","path":"/name/0/family","value":"`+phiName+`"}]`, "Content-Type", "application/json-patch+json")
		e.must(400, "GET", "/Patient?birthdate=ge"+phiName, "", "X-Test-Grant", "backend")
		e.must(404, "GET", "/Patient/"+phiName, "")
		e.must(403, "GET", "/Patient/p9", "", "X-Test-Grant", "backend", "X-Test-Deny", "1")
		e.must(500, "GET", "/Patient?name=Smithson", "", "X-Test-Panic", "1")
		e.must(405, "PUT", "/AuditEvent/x", `{"resourceType":"AuditEvent","id":"x","outcomeDesc":"`+phiName+`"}`)
		ctx := access.WithGrant(t.Context(), grants["backend"])
		for _, ev := range []audit.Event{
			{Kind: audit.TokenRefresh, Outcome: audit.MinorFailure, Reason: "invalid_grant", TokenID: audit.TokenRef("rt." + "secret-refresh-token-value")},
			{Kind: audit.TokenIssue, TokenID: grants["backend"].TokenID, Patients: []string{"p9"}},
			{Kind: audit.SubscriptionDelivery, Endpoint: "https://ops:s3cr3t-pw@hooks.example.org/notify?patient=" + phiName, Patients: []string{"p9"}},
		} {
			if err := e.trail.Record(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		e.seal()
		es := e.chain(0)
		if len(es) < 15 {
			t.Fatalf("only %d AuditEvents", len(es))
		}
		sawQuery := false
		for _, en := range es {
			body := string(en.Body)
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("AuditEvent/%s contains %q: %s", en.ID, s, body)
				}
			}
			var m map[string]any
			if err := json.Unmarshal(en.Body, &m); err != nil {
				t.Fatal(err)
			}
			var texts []string
			freeText(m, "", &texts)
			for _, s := range texts {
				for _, p := range secrets {
					if strings.Contains(strings.ToLower(s), strings.ToLower(p)) {
						t.Errorf("AuditEvent/%s has PHI in free text %q", en.ID, s)
					}
				}
			}
			sawQuery = sawQuery || strings.Contains(body, `"query":"`)
		}
		if !sawQuery {
			t.Errorf("no search recorded its query")
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "test panic") {
			t.Fatalf("the logs were not captured: %q", logs)
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the logs contain %q:\n%s", s, logs)
			}
		}
	})
}

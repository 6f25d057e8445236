package audit_test

import (
	"testing"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/smart/access"
)

// recorderCases are the events other packages record through Record, one
// per kind, each compared whole with testdata/events/<name>.json.
var recorderCases = []struct {
	name  string
	grant string // the caller on the context, if any
	event audit.Event
}{
	{"login", "", audit.Event{Kind: audit.Login, ClientID: "ehr-app", Subject: "u-123", FHIRUser: "Practitioner/d1", Role: "practitioner", Address: "10.1.2.3", RequestID: "req-login"}},
	{"login-failed", "", audit.Event{Kind: audit.Login, Outcome: audit.MinorFailure, Reason: "invalid_credentials", ClientID: "ehr-app", Subject: "u-123", Address: "10.1.2.3"}},
	{"logout", "practitioner", audit.Event{Kind: audit.Logout, Address: "10.1.2.3"}},
	{"token-issue", "", audit.Event{Kind: audit.TokenIssue, ClientID: "ehr-app", Subject: "u-123", FHIRUser: "Practitioner/d1", Role: "practitioner", TokenID: "jti-0a1b2c", Address: "10.1.2.3", Patients: []string{"p1"}}},
	{"token-refresh", "", audit.Event{Kind: audit.TokenRefresh, ClientID: "ehr-app", Subject: "u-123", TokenID: "jti-0a1b2d", Address: "10.1.2.3"}},
	{"token-refresh-refused", "", audit.Event{Kind: audit.TokenRefresh, Outcome: audit.MinorFailure, Reason: "invalid_grant", ClientID: "ehr-app", Address: "10.1.2.3",
		TokenID: audit.TokenRef("rt.eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.secret-refresh-token-value-98765")}},
	{"token-introspect", "", audit.Event{Kind: audit.TokenIntrospect, ClientID: "resource-server", TokenID: "jti-0a1b2c", Address: "10.1.2.4"}},
	{"token-revoke", "", audit.Event{Kind: audit.TokenRevoke, ClientID: "ehr-app", TokenID: "jti-0a1b2c", Address: "10.1.2.3"}},
	{"consent-decision", "practitioner", audit.Event{Kind: audit.ConsentDecision, Decision: "deny", Reason: "patient opted out of research use", Resources: []string{"Consent/c1"}, Patients: []string{"p1"}}},
	{"access-denied", "practitioner", audit.Event{Kind: audit.AccessDenied, Reason: "not a participant of the encounter", Resources: []string{"Encounter/e1"}, Patients: []string{"p1"}, Address: "10.1.2.3", RequestID: "req-9"}},
	{"subscription-delivery", "", audit.Event{Kind: audit.SubscriptionDelivery, Endpoint: "https://user:secret@hooks.example.org/fhir/notify?token=abc123#x",
		Resources: []string{"Subscription/s1"}, Patients: []string{"p2", "p1", "p2"}, Count: 3}},
	{"subscription-delivery-failed", "", audit.Event{Kind: audit.SubscriptionDelivery, Outcome: audit.SeriousFailure, Reason: "HTTP 503 from endpoint",
		Endpoint: "https://hooks.example.org/fhir/notify", Resources: []string{"Subscription/s1"}, Patients: []string{"p1"}, Count: 1}},
	{"device-ingest", "backend", audit.Event{Kind: audit.DeviceIngest, Resources: []string{"Device/dev-7"}, Patients: []string{"p1"}, Count: 120, Address: "10.9.8.7"}},
	{"video-join", "practitioner", audit.Event{Kind: audit.VideoJoin, Resources: []string{"Encounter/e1"}, Patients: []string{"p1"}, Address: "10.1.2.3"}},
	{"video-leave", "practitioner", audit.Event{Kind: audit.VideoLeave, Resources: []string{"Encounter/e1"}, Patients: []string{"p1"}, Address: "10.1.2.3"}},
}

// TestRecord checks the exact AuditEvent Record writes for every kind of
// event, on both stores.
func TestRecord(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			for _, tc := range recorderCases {
				t.Run(tc.name, func(t *testing.T) {
					from := e.head()
					ctx := t.Context()
					if g := grants[tc.grant]; g != nil {
						ctx = access.WithGrant(ctx, g)
					}
					if err := e.trail.Record(ctx, tc.event); err != nil {
						t.Fatalf("Record: %v", err)
					}
					evs := e.eventsAfter(from)
					if len(evs) != 1 {
						t.Fatalf("Record wrote %d AuditEvents, want 1", len(evs))
					}
					golden(t, "events/record-"+tc.name, evs)
				})
			}
		})
	}
}

func TestRecordRefusesUnknownKind(t *testing.T) {
	e := newEnv(t, "sqlite")
	if err := e.trail.Record(t.Context(), audit.Event{}); err == nil {
		t.Fatal("Record of an event without kind succeeded")
	}
	if err := e.trail.Record(t.Context(), audit.Event{Kind: audit.Kind(99)}); err == nil {
		t.Fatal("Record of an unknown kind succeeded")
	}
	if n := e.head(); n != 0 {
		t.Fatalf("refused events were recorded: chain head %d", n)
	}
}

func TestTokenRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "…"}, {"abc", "…"}, {"abcdef", "…"}, {"abcdefg", "…bcdefg"},
		{"eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiIxIn0.sig-xyz123", "…xyz123"},
	} {
		if got := audit.TokenRef(tc.in); got != tc.want {
			t.Errorf("TokenRef(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

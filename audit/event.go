package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Outcome is AuditEvent.outcome.
type Outcome int

// The R4 AuditEventOutcome codes.
const (
	// Success: the action completed (with or without warnings).
	Success Outcome = 0
	// MinorFailure: the action failed, often an HTTP 4xx.
	MinorFailure Outcome = 4
	// SeriousFailure: an unexpected error, often an HTTP 5xx.
	SeriousFailure Outcome = 8
	// MajorFailure: the system is no longer available.
	MajorFailure Outcome = 12
)

// Kind is what happened, for events other than FHIR interactions.
type Kind int

// The kinds of event other packages record through Recorder.Record.
const (
	Login Kind = iota + 1
	Logout
	TokenIssue
	TokenRefresh
	TokenIntrospect
	TokenRevoke
	ConsentDecision
	AccessDenied
	SubscriptionDelivery
	DeviceIngest
	VideoJoin
	VideoLeave
)

// Event is one event another package records: a login, a token issued, a
// consent decision, a denial, a subscription notification delivered to an
// external endpoint, a device ingestion batch, a video join or leave.
//
// Nothing in an Event may carry protected health information or a whole
// token: patients and resources are named by id, tokens by their id (jti)
// or a short suffix (see TokenRef), and Reason is a short code-like text.
type Event struct {
	Kind Kind
	// Outcome of the action; AccessDenied defaults to MinorFailure.
	Outcome Outcome
	// Reason says why on failure, denial or decision: a fixed, short text
	// such as "invalid_grant" or "scope not granted". Characters outside
	// letters, digits, space and _ . : / - are dropped, and it is cut at
	// 120 characters.
	Reason string

	// Who acted. Empty fields are taken from the Grant on the context
	// (smart/access): ClientID, the user's FHIRUser reference and Subject,
	// Role and TokenID.
	ClientID, FHIRUser, Subject, Role, TokenID string
	// Address is the client's network address (an IP address).
	Address string
	// Endpoint is where a subscription notification went (its query and
	// any user info are not recorded).
	Endpoint string

	// Resources are the resources the event is about, as "Type/id" or
	// "Type/id/_history/version": the Subscription, Device, Encounter,
	// Consent.
	Resources []string
	// Patients are the ids of the Patients whose data the event touched.
	Patients []string
	// Count is how many items the event carried: readings in an ingestion
	// batch, notifications in a delivery (0: not recorded).
	Count int
	// Decision is a consent decision's result ("permit", "deny").
	Decision string
	// RequestID is the HTTP request id, when there is one.
	RequestID string
}

// TokenRef is how the audit trail names a token it only has whole: "…"
// and its last six characters. Tokens with an id (jti) are named by it.
func TokenRef(token string) string {
	if len(token) <= 6 {
		return "…"
	}
	return "…" + token[len(token)-6:]
}

// Terminology.
const (
	sysEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysInteraction = "http://hl7.org/fhir/restful-interaction"
	sysDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	sysEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	sysSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	sysBALPEntity  = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	sysBALPAgent   = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes"
	sysURI         = "urn:ietf:rfc:3986"

	// The server's own code systems and identifier systems.
	sysSubtype   = "urn:telefhir:audit-event-subtype"
	sysOperation = "urn:telefhir:operation"
	sysRole      = "urn:telefhir:role"
	sysClient    = "urn:telefhir:client-id"
	sysUser      = "urn:telefhir:user"
	// ChainExtension is the URL of the extension each sealed AuditEvent
	// carries: its chain position and the previous link's hash.
	ChainExtension = "urn:telefhir:audit-chain"
)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

var (
	typeREST          = coding{sysEventType, "rest", "Restful Operation"}
	typeAuth          = coding{sysDICOM, "110114", "User Authentication"}
	typeSecurityAlert = coding{sysDICOM, "110113", "Security Alert"}
	typeActivity      = coding{sysDICOM, "110100", "Application Activity"}
	typeExport        = coding{sysDICOM, "110106", "Export"}
	typeImport        = coding{sysDICOM, "110107", "Import"}

	agentClient = concept{[]coding{{sysDICOM, "110153", "Source Role ID"}}}
	agentServer = concept{[]coding{{sysDICOM, "110152", "Destination Role ID"}}}
	agentUser   = concept{[]coding{{sysBALPAgent, "UserOauthAgent", "User OAuth Agent participant"}}}

	sourceServer = []coding{{sysSourceType, "4", "Application Server"}}

	entitySystemObject = &coding{sysEntityType, "2", "System Object"}
	entityPerson       = &coding{sysEntityType, "1", "Person"}
	roleResource       = &coding{sysObjectRole, "4", "Domain Resource"}
	rolePatient        = &coding{sysObjectRole, "1", "Patient"}
	roleQuery          = &coding{sysObjectRole, "24", "Query"}
	entityRequestID    = &coding{sysBALPEntity, "XrequestId", "transport specific unique identifier where http X-Request-Id is used"}
)

// kindNames are the queue names of the event kinds.
var kindNames = map[Kind]string{
	Login: "login", Logout: "logout",
	TokenIssue: "token-issue", TokenRefresh: "token-refresh", TokenIntrospect: "token-introspect", TokenRevoke: "token-revoke",
	ConsentDecision: "consent-decision", AccessDenied: "access-denied", SubscriptionDelivery: "subscription-delivery",
	DeviceIngest: "device-ingest", VideoJoin: "video-join", VideoLeave: "video-leave",
}

// Kinds of record the trail writes itself, besides FHIR interactions.
const (
	kindREST      = "rest"
	kindPurge     = "purge"
	kindMalformed = "malformed-audit-record"
)

// kindCodes is how each kind of record is coded: type, subtype, and the
// action when it is fixed. FHIR interactions ("rest") are coded by
// interaction instead.
var kindCodes = map[string]struct {
	typ     coding
	subtype coding
	action  string
}{
	"login":                 {typeAuth, coding{sysDICOM, "110122", "Login"}, "E"},
	"logout":                {typeAuth, coding{sysDICOM, "110123", "Logout"}, "E"},
	"token-issue":           {typeAuth, coding{sysSubtype, "token-issue", "Access token issued"}, "E"},
	"token-refresh":         {typeAuth, coding{sysSubtype, "token-refresh", "Access token refreshed"}, "E"},
	"token-introspect":      {typeAuth, coding{sysSubtype, "token-introspect", "Token introspected"}, "E"},
	"token-revoke":          {typeAuth, coding{sysSubtype, "token-revoke", "Token revoked"}, "E"},
	"consent-decision":      {typeActivity, coding{sysSubtype, "consent-decision", "Consent decision"}, "E"},
	"access-denied":         {typeSecurityAlert, coding{sysSubtype, "access-denied", "Access denied"}, "E"},
	"subscription-delivery": {typeExport, coding{sysSubtype, "subscription-delivery", "Subscription notification delivered"}, "R"},
	"device-ingest":         {typeImport, coding{sysSubtype, "device-ingest", "Device readings ingested"}, "C"},
	"video-join":            {typeActivity, coding{sysSubtype, "video-join", "Joined a video visit"}, "E"},
	"video-leave":           {typeActivity, coding{sysSubtype, "video-leave", "Left a video visit"}, "E"},
	kindPurge:               {typeActivity, coding{"http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "destroy", "Destroy/Delete Record Lifecycle Event"}, "D"},
	kindMalformed:           {typeSecurityAlert, coding{sysSubtype, kindMalformed, "Malformed audit record"}, "E"},
}

// interactionAction is the action code of each restful interaction.
var interactionAction = map[string]string{
	"read": "R", "vread": "R", "history-instance": "R", "history-type": "R", "history-system": "R",
	"capabilities": "R",
	"search-type":  "E", "search-system": "E", "operation": "E", "transaction": "E", "batch": "E",
	"create": "C", "update": "U", "patch": "U", "delete": "D",
}

// actor is who acted.
type actor struct {
	clientID, fhirUser, subject, role, token, address string
}

// record is one audit record: what is queued (in the compact form of
// queue.go) and, when sealed, rendered as an AuditEvent.
type record struct {
	id       string
	recorded time.Time
	// kind is kindREST, a kindNames value, kindPurge or kindMalformed.
	kind string
	// interaction and operation code a FHIR interaction ("" for a request
	// no FHIR route matched).
	interaction, operation string
	action                 string
	outcome                Outcome
	desc                   string
	actor                  actor
	// endpoint, when set, is the destination of data leaving the server
	// (the server is then the source).
	endpoint  string
	resources []resourceEntity
	patients  []string
	query     []byte
	requestID string
	// others are entities of other kinds (a purge's chain positions).
	others []jsonEntity
}

// codes returns rec's type and subtypes.
func (rec *record) codes() (coding, []coding) {
	if rec.kind == kindREST {
		if rec.interaction == "" {
			return typeREST, nil
		}
		sub := []coding{{sysInteraction, rec.interaction, rec.interaction}}
		if rec.operation != "" {
			sub = append(sub, coding{System: sysOperation, Code: rec.operation})
		}
		return typeREST, sub
	}
	c := kindCodes[rec.kind]
	return c.typ, []coding{c.subtype}
}

// resourceEntity is one resource the event is about, with details.
type resourceEntity struct {
	ref     string
	details []detail
}

type detail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

// server describes this server in every record.
type server struct {
	baseURL  string
	site     string // host of the base URL
	software string
}

// JSON shapes of AuditEvent elements (R4).
type (
	jsonEvent struct {
		ResourceType string       `json:"resourceType"`
		ID           string       `json:"id"`
		Type         coding       `json:"type"`
		Subtype      []coding     `json:"subtype,omitempty"`
		Action       string       `json:"action,omitempty"`
		Recorded     string       `json:"recorded"`
		Outcome      string       `json:"outcome"`
		OutcomeDesc  string       `json:"outcomeDesc,omitempty"`
		Agent        []jsonAgent  `json:"agent"`
		Source       jsonSource   `json:"source"`
		Entity       []jsonEntity `json:"entity,omitempty"`
	}
	jsonAgent struct {
		Type      *concept   `json:"type,omitempty"`
		Role      []concept  `json:"role,omitempty"`
		Who       *reference `json:"who,omitempty"`
		Requestor bool       `json:"requestor"`
		Policy    []string   `json:"policy,omitempty"`
		Network   *network   `json:"network,omitempty"`
	}
	reference struct {
		Reference  string      `json:"reference,omitempty"`
		Identifier *identifier `json:"identifier,omitempty"`
		Display    string      `json:"display,omitempty"`
	}
	identifier struct {
		System string `json:"system,omitempty"`
		Value  string `json:"value"`
	}
	network struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	}
	jsonSource struct {
		Site     string    `json:"site,omitempty"`
		Observer reference `json:"observer"`
		Type     []coding  `json:"type"`
	}
	jsonEntity struct {
		What   *reference `json:"what,omitempty"`
		Type   *coding    `json:"type,omitempty"`
		Role   *coding    `json:"role,omitempty"`
		Query  string     `json:"query,omitempty"`
		Detail []detail   `json:"detail,omitempty"`
	}
)

// instantLayout is how recorded is written: UTC, milliseconds.
const instantLayout = "2006-01-02T15:04:05.000Z"

// render returns the queued form of rec: an AuditEvent whose first members
// are resourceType and id (sealBody relies on it).
func (s *server) render(rec *record) ([]byte, error) {
	typ, subtypes := rec.codes()
	ev := jsonEvent{
		ResourceType: "AuditEvent",
		ID:           rec.id,
		Type:         typ,
		Subtype:      subtypes,
		Action:       rec.action,
		Recorded:     rec.recorded.UTC().Format(instantLayout),
		Outcome:      strconv.Itoa(int(rec.outcome)),
		OutcomeDesc:  rec.desc,
		Agent:        s.agents(rec),
		Source: jsonSource{
			Site:     s.site,
			Observer: reference{Identifier: &identifier{System: sysURI, Value: s.baseURL}, Display: s.software},
			Type:     sourceServer,
		},
		Entity: entities(rec),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *server) agents(rec *record) []jsonAgent {
	a := rec.actor
	hasUser := a.subject != "" || a.fhirUser != ""
	client := jsonAgent{Type: &agentClient, Requestor: !hasUser}
	if a.clientID != "" {
		client.Who = &reference{Identifier: &identifier{System: sysClient, Value: a.clientID}}
	}
	if a.address != "" {
		client.Network = &network{Address: a.address, Type: "2"} // IP address
	}
	if a.token != "" && !hasUser {
		client.Policy = []string{a.token} // the token the client acted with
	}
	srv := jsonAgent{
		Type: &agentServer,
		Who:  &reference{Identifier: &identifier{System: sysURI, Value: s.baseURL}, Display: s.software},
		Network: &network{
			Address: s.baseURL, Type: "5", // URI
		},
	}
	if rec.endpoint != "" {
		// Data leaving the server: the server is the source, the endpoint
		// the destination.
		client.Type, srv.Type = &agentServer, &agentClient
		client.Who, client.Network = nil, &network{Address: rec.endpoint, Type: "5"}
		client.Requestor = false
		srv.Requestor = !hasUser
	}
	out := []jsonAgent{client}
	if hasUser {
		u := jsonAgent{Type: &agentUser, Requestor: true}
		u.Who = &reference{Reference: a.fhirUser}
		if a.subject != "" {
			u.Who.Identifier = &identifier{System: sysUser, Value: a.subject}
		}
		if a.role != "" {
			u.Role = []concept{{[]coding{{System: sysRole, Code: a.role}}}}
		}
		if a.token != "" {
			u.Policy = []string{a.token}
		}
		out = append(out, u)
	}
	return append(out, srv)
}

func entities(rec *record) []jsonEntity {
	var out []jsonEntity
	for _, r := range rec.resources {
		out = append(out, jsonEntity{What: &reference{Reference: r.ref}, Type: entitySystemObject, Role: roleResource, Detail: r.details})
	}
	for _, p := range rec.patients {
		out = append(out, jsonEntity{What: &reference{Reference: "Patient/" + p}, Type: entityPerson, Role: rolePatient})
	}
	if rec.query != nil {
		out = append(out, jsonEntity{Type: entitySystemObject, Role: roleQuery, Query: base64.StdEncoding.EncodeToString(rec.query)})
	}
	if rec.requestID != "" {
		out = append(out, jsonEntity{What: &reference{Identifier: &identifier{Value: rec.requestID}}, Type: entityRequestID})
	}
	return append(out, rec.others...)
}

// outcomeOf maps an HTTP status to an outcome.
func outcomeOf(status int) Outcome {
	switch {
	case status < 400:
		return Success
	case status == 503:
		return MajorFailure
	case status >= 500:
		return SeriousFailure
	}
	return MinorFailure
}

// sanitize keeps the characters a reason may have and cuts it short.
func sanitize(s string) string {
	const maxLen = 120
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= maxLen {
			break
		}
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.ContainsRune(" _.:/-", c):
			b.WriteRune(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// endpointOf is an endpoint URL without user info, query or fragment.
func endpointOf(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// tokenName is how a token id is recorded: ids as given when short and
// not a JWT, anything else by its suffix only.
func tokenName(id string) string {
	if id == "" || (len(id) <= 64 && !strings.Contains(id, ".")) {
		return id
	}
	return TokenRef(id)
}

package subscriptions

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
)

// Extension URLs of the Subscriptions Backport IG, and ours.
const (
	backport            = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	extFilterCriteria   = backport + "backport-filter-criteria"
	extPayloadContent   = backport + "backport-payload-content"
	extHeartbeatPeriod  = backport + "backport-heartbeat-period"
	extTimeout          = backport + "backport-timeout"
	extMaxCount         = backport + "backport-max-count"
	profileStatus       = backport + "backport-subscription-status-r4"
	profileSubscription = backport + "backport-subscription"
	// ExtGrant holds the snapshot of the creator's authorization that
	// deliveries are checked against. The server sets it; whatever a
	// client sends under this URL is replaced.
	ExtGrant = "http://telefhir.dev/StructureDefinition/subscription-grant"
)

// Subscription statuses.
const (
	StatusRequested = "requested"
	StatusActive    = "active"
	StatusError     = "error"
	StatusOff       = "off"
)

// Payload content levels (backport-payload-content).
const (
	ContentEmpty  = "empty"
	ContentIDOnly = "id-only"
	ContentFull   = "full-resource"
)

// Channel types supported.
const (
	ChannelRestHook  = "rest-hook"
	ChannelWebsocket = "websocket"
)

// Subscription is a parsed Subscription resource.
type Subscription struct {
	ID      string
	Version int64
	Status  string
	Error   string
	// End, when not zero, is when the subscription stops (status off).
	End time.Time
	// Criteria is Subscription.criteria as written.
	Criteria string
	// Topic is the topic of a Backport-IG subscription; nil for an R4
	// criteria subscription.
	Topic *Topic
	// Queries must all match: the criteria search of an R4 subscription,
	// the backport-filter-criteria of a topic subscription.
	Queries []search.Query
	// Channel.
	Channel   string
	Endpoint  string
	Payload   string // MIME type; "" for no payload
	Content   string
	Headers   []string
	Heartbeat time.Duration
	Timeout   time.Duration
	MaxCount  int
	// Grant is the snapshot of the creator's authorization; nil when the
	// subscription was created without one (authorization off).
	Grant *access.Grant

	keys map[string][]string // index keys by resource type (see index)
}

// Matchable reports whether changes are matched against s at t: requested
// (events wait behind the handshake), active, or in error (events are
// numbered and dead-lettered), and not past its end.
func (s *Subscription) Matchable(t time.Time) bool {
	if !s.End.IsZero() && !t.Before(s.End) {
		return false
	}
	return s.Status == StatusRequested || s.Status == StatusActive || s.Status == StatusError
}

// TopicURL is the topic canonical, or "" for an R4 criteria subscription.
func (s *Subscription) TopicURL() string {
	if s.Topic == nil {
		return ""
	}
	return s.Topic.URL
}

// The JSON shape of the parts of Subscription read here.
type extJSON struct {
	URL              string  `json:"url"`
	ValueString      *string `json:"valueString,omitempty"`
	ValueCode        *string `json:"valueCode,omitempty"`
	ValueUnsignedInt *int64  `json:"valueUnsignedInt,omitempty"`
	ValuePositiveInt *int64  `json:"valuePositiveInt,omitempty"`
}

type primitiveExt struct {
	Extension []extJSON `json:"extension"`
}

type subscriptionJSON struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         *struct{}     `json:"meta"`
	Status       string        `json:"status"`
	End          string        `json:"end"`
	Criteria     string        `json:"criteria"`
	CriteriaExt  *primitiveExt `json:"_criteria"`
	Error        string        `json:"error"`
	Extension    []extJSON     `json:"extension"`
	Channel      struct {
		Type       string        `json:"type"`
		Endpoint   string        `json:"endpoint"`
		Payload    string        `json:"payload"`
		PayloadExt *primitiveExt `json:"_payload"`
		Header     []string      `json:"header"`
		Extension  []extJSON     `json:"extension"`
	} `json:"channel"`
}

// grantJSON is the stored snapshot of a Grant (no token id: the snapshot
// outlives the token).
type grantJSON struct {
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	FHIRUser  string `json:"fhirUser,omitempty"`
	Role      string `json:"role,omitempty"`
	Scope     string `json:"scope,omitempty"`
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
}

func snapshot(g *access.Grant) string {
	b, _ := json.Marshal(grantJSON{
		ClientID: g.ClientID, Subject: g.Subject, FHIRUser: g.FHIRUser, Role: string(g.Role),
		Scope: g.Scopes.String(), Patient: g.Patient, Encounter: g.Encounter,
	})
	return string(b)
}

func restoreGrant(s string) (*access.Grant, error) {
	var j grantJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return nil, err
	}
	set, err := scope.ParseSet(j.Scope)
	if err != nil {
		return nil, err
	}
	return &access.Grant{
		ClientID: j.ClientID, Subject: j.Subject, FHIRUser: j.FHIRUser, Role: access.Role(j.Role),
		Scopes: set, Patient: j.Patient, Encounter: j.Encounter,
	}, nil
}

// parser turns Subscription JSON into a Subscription, reporting the first
// problem as an OperationOutcome naming its location.
type parser struct {
	reg    *search.Registry
	topics map[string]*Topic
	// allowLoopbackHTTP permits http:// rest-hook endpoints on loopback
	// addresses (development only).
	allowLoopbackHTTP bool
}

func invalid(loc, format string, args ...any) error {
	return outcome.Invalid(loc, format, args...)
}

func (p *parser) parse(body []byte) (*Subscription, error) {
	var j subscriptionJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, outcome.Wrap(outcome.KindStructure, err, "the Subscription is not valid JSON")
	}
	s := &Subscription{ID: j.ID, Status: j.Status, Error: j.Error, Criteria: strings.TrimSpace(j.Criteria)}
	switch s.Status {
	case StatusRequested, StatusActive, StatusError, StatusOff:
	default:
		return nil, invalid("Subscription.status", "status must be requested, active, error or off, not %q", s.Status)
	}
	if j.End != "" {
		t, err := parseDateTime(j.End)
		if err != nil {
			return nil, invalid("Subscription.end", "end %q is not a FHIR instant or dateTime", j.End)
		}
		s.End = t
	}
	if err := p.criteria(s, &j); err != nil {
		return nil, err
	}
	if err := p.channel(s, &j); err != nil {
		return nil, err
	}
	for i, e := range j.Extension {
		if e.URL == ExtGrant && e.ValueString != nil {
			g, err := restoreGrant(*e.ValueString)
			if err != nil {
				return nil, invalid(fmt.Sprintf("Subscription.extension[%d]", i), "the authorization snapshot is unreadable")
			}
			s.Grant = g
		}
	}
	return s, nil
}

func (p *parser) criteria(s *Subscription, j *subscriptionJSON) error {
	if s.Criteria == "" {
		return invalid("Subscription.criteria", "criteria is required: a search (Observation?code=...) or a topic canonical URL")
	}
	var filters []string
	if j.CriteriaExt != nil {
		for _, e := range j.CriteriaExt.Extension {
			if e.URL == extFilterCriteria && e.ValueString != nil {
				filters = append(filters, *e.ValueString)
			}
		}
	}
	if strings.HasPrefix(s.Criteria, "http://") || strings.HasPrefix(s.Criteria, "https://") {
		t := p.topics[strings.SplitN(s.Criteria, "|", 2)[0]]
		if t == nil {
			return invalid("Subscription.criteria", "topic %q is not supported; this server supports %s", s.Criteria, strings.Join(topicURLs(p.topics), ", "))
		}
		s.Topic = t
		for i, f := range filters {
			loc := fmt.Sprintf("Subscription.criteria.extension[%d].value", i)
			q, err := p.query(f, loc, t.Types)
			if err != nil {
				return err
			}
			s.Queries = append(s.Queries, q)
		}
		return nil
	}
	if len(filters) > 0 {
		return invalid("Subscription.criteria.extension", "backport-filter-criteria apply to topic subscriptions; criteria %q is a search", s.Criteria)
	}
	q, err := p.query(s.Criteria, "Subscription.criteria", nil)
	if err != nil {
		return err
	}
	s.Queries = []search.Query{q}
	return nil
}

// query parses "Type?params" strictly: an ignored parameter would widen
// what the subscription receives.
func (p *parser) query(s, loc string, types []string) (search.Query, error) {
	typ, raw, _ := strings.Cut(s, "?")
	if !slices.Contains(p.reg.Types(), typ) {
		return search.Query{}, invalid(loc, "%q does not start with a resource type followed by ?", s)
	}
	if len(types) > 0 && !slices.Contains(types, typ) {
		return search.Query{}, invalid(loc, "filter %q is on %s, but the topic's resources are %s", s, typ, strings.Join(types, ", "))
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return search.Query{}, invalid(loc, "%q is not a valid search string: %v", s, err)
	}
	for k := range vals {
		if strings.HasPrefix(k, "_") && k != "_id" && k != "_lastUpdated" && !strings.HasPrefix(k, "_has") && k != "_tag" && k != "_profile" && k != "_security" && k != "_source" {
			return search.Query{}, invalid(loc, "parameter %s cannot select notifications", k)
		}
	}
	q, _, err := p.reg.Parse(typ, vals, search.ParseOptions{Strict: true})
	if err != nil {
		return search.Query{}, invalid(loc, "%v", err)
	}
	return q, nil
}

func (p *parser) channel(s *Subscription, j *subscriptionJSON) error {
	c := &j.Channel
	s.Channel, s.Endpoint, s.Payload, s.Headers = c.Type, c.Endpoint, c.Payload, c.Header
	switch s.Channel {
	case ChannelRestHook:
		if err := p.endpoint(s.Endpoint); err != nil {
			return err
		}
	case ChannelWebsocket:
	default:
		return invalid("Subscription.channel.type", "channel type %q is not supported; use rest-hook or websocket", s.Channel)
	}
	for i, h := range s.Headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") {
			return invalid(fmt.Sprintf("Subscription.channel.header[%d]", i), "a header must be written \"Name: value\" on one line")
		}
	}
	s.Content = ContentEmpty
	if s.Payload != "" {
		s.Content = ContentIDOnly
		switch strings.TrimSpace(strings.SplitN(s.Payload, ";", 2)[0]) {
		case "application/fhir+json", "application/json":
		default:
			return invalid("Subscription.channel.payload", "payload %q is not supported; use application/fhir+json", s.Payload)
		}
	}
	if c.PayloadExt != nil {
		for _, e := range c.PayloadExt.Extension {
			if e.URL != extPayloadContent {
				continue
			}
			v := ""
			if e.ValueCode != nil {
				v = *e.ValueCode
			}
			switch v {
			case ContentEmpty, ContentIDOnly, ContentFull:
				s.Content = v
			default:
				return invalid("Subscription.channel.payload.extension", "payload content must be empty, id-only or full-resource, not %q", v)
			}
		}
	}
	s.MaxCount = 1
	for i, e := range c.Extension {
		loc := fmt.Sprintf("Subscription.channel.extension[%d]", i)
		switch e.URL {
		case extHeartbeatPeriod, extTimeout:
			if e.ValueUnsignedInt == nil || *e.ValueUnsignedInt < 0 || *e.ValueUnsignedInt > 86400 {
				return invalid(loc, "%s must be a valueUnsignedInt of seconds up to 86400", e.URL)
			}
			d := time.Duration(*e.ValueUnsignedInt) * time.Second
			if e.URL == extTimeout {
				s.Timeout = d
			} else {
				s.Heartbeat = d
			}
		case extMaxCount:
			if e.ValuePositiveInt == nil || *e.ValuePositiveInt < 1 || *e.ValuePositiveInt > 1000 {
				return invalid(loc, "backport-max-count must be a valuePositiveInt from 1 to 1000")
			}
			s.MaxCount = int(*e.ValuePositiveInt)
		}
	}
	return nil
}

// endpoint checks a rest-hook endpoint: an absolute https URL, or http on
// a loopback address when allowed (development).
func (p *parser) endpoint(e string) error {
	const loc = "Subscription.channel.endpoint"
	if e == "" {
		return invalid(loc, "a rest-hook channel needs an endpoint")
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || u.User != nil {
		return invalid(loc, "endpoint %q is not an absolute URL without credentials", e)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if p.allowLoopbackHTTP && isLoopback(u.Hostname()) {
			return nil
		}
		return invalid(loc, "endpoint %q must use https (plain http is accepted only for loopback addresses in development mode)", e)
	}
	return invalid(loc, "endpoint %q must be an https URL", e)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseDateTime parses a FHIR instant or dateTime (a date alone is its
// first moment, UTC).
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a dateTime: %q", s)
}

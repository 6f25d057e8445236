package subscriptions

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/rest"
)

// Notification types (Parameters "type").
const (
	TypeHandshake   = "handshake"
	TypeHeartbeat   = "heartbeat"
	TypeEvent       = "event-notification"
	TypeQueryStatus = "query-status"
	TypeQueryEvent  = "query-event"
)

type reference struct {
	Reference string `json:"reference"`
}

type param struct {
	Name           string     `json:"name"`
	ValueReference *reference `json:"valueReference,omitempty"`
	ValueCanonical string     `json:"valueCanonical,omitempty"`
	ValueCode      string     `json:"valueCode,omitempty"`
	ValueString    string     `json:"valueString,omitempty"`
	ValueInstant   string     `json:"valueInstant,omitempty"`
	Part           []param    `json:"part,omitempty"`
}

type parameters struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Profile []string `json:"profile"`
	} `json:"meta"`
	Parameter []param `json:"parameter"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status string `json:"status"`
}

type entry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type bundle struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp"`
	Total        *int    `json:"total,omitempty"`
	Entry        []entry `json:"entry"`
}

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// status is what a SubscriptionStatus Parameters says.
type statusInfo struct {
	Sub         *Subscription
	Status      string
	Type        string
	EventsSince int64
	Error       string
}

// statusParameters builds the backport-subscription-status-r4 Parameters.
func (m *Manager) statusParameters(st statusInfo, events []logEvent, content string) parameters {
	p := parameters{ResourceType: "Parameters", ID: newID()}
	p.Meta.Profile = []string{profileStatus}
	p.Parameter = append(p.Parameter, param{Name: "subscription", ValueReference: &reference{m.cfg.BaseURL + "/Subscription/" + st.Sub.ID}})
	if u := st.Sub.TopicURL(); u != "" {
		p.Parameter = append(p.Parameter, param{Name: "topic", ValueCanonical: u})
	}
	p.Parameter = append(p.Parameter,
		param{Name: "status", ValueCode: st.Status},
		param{Name: "type", ValueCode: st.Type},
		param{Name: "events-since-subscription-start", ValueString: strconv.FormatInt(st.EventsSince, 10)},
	)
	for _, e := range events {
		parts := []param{
			{Name: "event-number", ValueString: strconv.FormatInt(e.Number, 10)},
			{Name: "timestamp", ValueInstant: instant(e.Timestamp)},
		}
		if content != ContentEmpty {
			parts = append(parts, param{Name: "focus", ValueReference: &reference{m.cfg.BaseURL + "/" + e.focus()}})
			for _, c := range e.Context {
				parts = append(parts, param{Name: "additional-context", ValueReference: &reference{m.cfg.BaseURL + "/" + c}})
			}
		}
		p.Parameter = append(p.Parameter, param{Name: "notification-event", Part: parts})
	}
	if st.Error != "" {
		p.Parameter = append(p.Parameter, param{Name: "error", ValueString: st.Error})
	}
	return p
}

// notification builds a history Bundle: the status Parameters first, then,
// unless content is empty, one entry per event focus (and additional
// context), with the resource when content is full-resource (bodies maps
// "Type/id/_history/v" and "Type/id" of context to their JSON; a missing
// one is sent without resource).
func (m *Manager) notification(st statusInfo, events []logEvent, content string, bodies map[string][]byte) ([]byte, error) {
	params := m.statusParameters(st, events, content)
	pb, err := marshal(params)
	if err != nil {
		return nil, err
	}
	b := bundle{ResourceType: "Bundle", ID: newID(), Type: "history", Timestamp: instant(m.clock.Now())}
	b.Entry = append(b.Entry, entry{
		FullURL:  "urn:uuid:" + params.ID,
		Resource: pb,
		Request:  &entryRequest{Method: "GET", URL: m.cfg.BaseURL + "/Subscription/" + st.Sub.ID + "/$status"},
		Response: &entryResponse{Status: "200"},
	})
	if content != ContentEmpty {
		for _, e := range events {
			b.Entry = append(b.Entry, m.eventEntry(e, content, bodies))
			for _, c := range e.Context {
				en := entry{FullURL: m.cfg.BaseURL + "/" + c, Request: &entryRequest{Method: "GET", URL: c}, Response: &entryResponse{Status: "200"}}
				if content == ContentFull {
					en.Resource = bodies[c]
				}
				b.Entry = append(b.Entry, en)
			}
		}
	}
	return marshal(b)
}

func (m *Manager) eventEntry(e logEvent, content string, bodies map[string][]byte) entry {
	en := entry{FullURL: m.cfg.BaseURL + "/" + e.focus(), Response: &entryResponse{Status: "200"}}
	switch {
	case e.VersionID == 1 || e.Method == "POST":
		en.Request = &entryRequest{Method: "POST", URL: e.Type}
		en.Response.Status = "201"
	case e.Method == "DELETE":
		en.Request = &entryRequest{Method: "DELETE", URL: e.focus()}
	default:
		en.Request = &entryRequest{Method: "PUT", URL: e.focus()}
	}
	if content == ContentFull {
		en.Resource = bodies[e.identity()]
	}
	return en
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) { return rest.Marshal(v) }

func newID() string { return resource.NewID() }

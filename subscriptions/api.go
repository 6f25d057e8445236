package subscriptions

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/smart/access"
)

// Operation definitions of the Backport IG.
var (
	opStatus = conformance.Operation{Name: "status", Definition: "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"}
	opEvents = conformance.Operation{Name: "events", Definition: "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events"}
	opToken  = conformance.Operation{Name: "get-ws-binding-token", Definition: "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token"}
)

// MaxEventsPerQuery caps the events one $events answer returns.
const MaxEventsPerQuery = 1000

// Operations are the subscription operations, to pass to rest.Config.
func (m *Manager) Operations() []rest.Operation {
	var ops []rest.Operation
	for _, o := range []struct {
		name    string
		def     conformance.Operation
		handler echo.HandlerFunc
	}{
		{"$status", opStatus, m.status},
		{"$events", opEvents, m.events},
		{"$get-ws-binding-token", opToken, m.bindingToken},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			ops = append(ops, rest.Operation{Method: method, Path: "/Subscription/:id/" + o.name, Type: "Subscription", Def: o.def, Handler: o.handler})
			if o.name != "$events" {
				ops = append(ops, rest.Operation{Method: method, Path: "/Subscription/" + o.name, Type: "Subscription", Def: o.def, Handler: o.handler})
			}
		}
	}
	return ops
}

// params reads an operation's parameters from the query string, and from
// a form body on POST.
func params(c echo.Context) (url.Values, error) {
	v := c.QueryParams()
	if c.Request().Method == http.MethodPost && strings.HasPrefix(c.Request().Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f, err := c.FormParams()
		if err != nil {
			return nil, outcome.Invalid("", "the form body cannot be read")
		}
		for k, vs := range f {
			v[k] = append(v[k], vs...)
		}
	}
	return v, nil
}

// ids are the subscriptions an operation is about: the instance, or the
// id parameters at type level.
func ids(c echo.Context, v url.Values) ([]string, error) {
	if id := c.Param("id"); id != "" {
		return []string{id}, nil
	}
	var out []string
	for _, s := range v["id"] {
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				out = append(out, id)
			}
		}
	}
	if len(out) == 0 {
		return nil, outcome.Invalid("id", "name at least one subscription with the id parameter")
	}
	return out, nil
}

// subscription reads id for the caller: 404 when it does not exist, 403
// when the caller's grant is not the one that created it.
func (m *Manager) subscription(ctx context.Context, id string) (*Subscription, error) {
	if err := fhir.CheckID(id); err != nil {
		return nil, err
	}
	s, err := m.fresh(ctx, id)
	if err != nil {
		return nil, outcome.Internal(err)
	}
	if s == nil {
		return nil, outcome.New(outcome.KindNotFound, "Subscription/%s is not known", id)
	}
	if g, ok := access.FromContext(ctx); ok && s.Grant != nil && (g.ClientID != s.Grant.ClientID || g.Subject != s.Grant.Subject) {
		return nil, outcome.New(outcome.KindForbidden, "Subscription/%s belongs to another client or user", id)
	}
	return s, nil
}

// status is $status: a searchset of SubscriptionStatus Parameters.
func (m *Manager) status(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := params(c)
	if err != nil {
		return err
	}
	list, err := ids(c, v)
	if err != nil {
		return err
	}
	wantStatus := map[string]bool{}
	for _, s := range v["status"] {
		for _, st := range strings.Split(s, ",") {
			wantStatus[strings.TrimSpace(st)] = true
		}
	}
	b := bundle{ResourceType: "Bundle", ID: newID(), Type: "searchset", Timestamp: instant(m.clock.Now())}
	for _, id := range list {
		s, err := m.subscription(ctx, id)
		if err != nil {
			return err
		}
		if len(wantStatus) > 0 && !wantStatus[s.Status] {
			continue
		}
		n, err := m.log.count(ctx, id)
		if err != nil {
			return outcome.Internal(err)
		}
		p, err := marshal(m.statusParameters(statusInfo{Sub: s, Status: s.Status, Type: TypeQueryStatus, EventsSince: n, Error: s.Error}, nil, ContentEmpty))
		if err != nil {
			return outcome.Internal(err)
		}
		b.Entry = append(b.Entry, entry{FullURL: "urn:uuid:" + newID(), Resource: p})
	}
	total := len(b.Entry)
	b.Total = &total
	if b.Entry == nil {
		b.Entry = []entry{}
	}
	out, err := marshal(b)
	if err != nil {
		return outcome.Internal(err)
	}
	return rest.WriteJSON(c, http.StatusOK, out)
}

func number(v url.Values, name string) (int64, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, outcome.Invalid(name, "%s must be a positive event number, not %q", name, s)
	}
	return n, nil
}

// events is $events: the logged events eventsSinceNumber..eventsUntilNumber
// as a history Bundle (type query-event), at the subscription's payload
// content or the content parameter's.
func (m *Manager) events(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := params(c)
	if err != nil {
		return err
	}
	s, err := m.subscription(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	from, err := number(v, "eventsSinceNumber")
	if err != nil {
		return err
	}
	to, err := number(v, "eventsUntilNumber")
	if err != nil {
		return err
	}
	if from == 0 {
		from = 1
	}
	if to > 0 && to < from {
		return outcome.Invalid("eventsUntilNumber", "eventsUntilNumber %d is before eventsSinceNumber %d", to, from)
	}
	content := s.Content
	if cv := v.Get("content"); cv != "" {
		switch cv {
		case ContentEmpty, ContentIDOnly, ContentFull:
			content = cv
		default:
			return outcome.Invalid("content", "content must be empty, id-only or full-resource, not %q", cv)
		}
	}
	events, err := m.log.read(ctx, s.ID, from, to, MaxEventsPerQuery)
	if err != nil {
		return outcome.Internal(err)
	}
	n, err := m.log.count(ctx, s.ID)
	if err != nil {
		return outcome.Internal(err)
	}
	copyS := *s
	copyS.Content = content
	bodies, allowed, _, err := (&deliverer{m: m}).resources(ctx, &copyS, events)
	if err != nil {
		return outcome.Internal(err)
	}
	out, err := m.notification(statusInfo{Sub: s, Status: s.Status, Type: TypeQueryEvent, EventsSince: n, Error: s.Error}, allowed, content, bodies)
	if err != nil {
		return outcome.Internal(err)
	}
	return rest.WriteJSON(c, http.StatusOK, out)
}

// bindingToken is $get-ws-binding-token.
func (m *Manager) bindingToken(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := params(c)
	if err != nil {
		return err
	}
	list, err := ids(c, v)
	if err != nil {
		return err
	}
	for _, id := range list {
		s, err := m.subscription(ctx, id)
		if err != nil {
			return err
		}
		if s.Channel != ChannelWebsocket {
			return outcome.Invalid("id", "Subscription/%s uses channel %s, not websocket", id, s.Channel)
		}
	}
	tok, exp, err := m.issueToken(ctx, list)
	if err != nil {
		return outcome.Internal(err)
	}
	out, err := marshal(map[string]any{
		"resourceType": "Parameters",
		"parameter": []map[string]string{
			{"name": "token", "valueString": tok},
			{"name": "expiration", "valueDateTime": exp.UTC().Format("2006-01-02T15:04:05Z07:00")},
			{"name": "websocket-url", "valueUrl": m.cfg.WebsocketURL},
		},
	})
	if err != nil {
		return outcome.Internal(err)
	}
	return rest.WriteJSON(c, http.StatusOK, out)
}

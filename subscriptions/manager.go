package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

// Authorizer decides whether a subscriber's grant may read a resource.
// smart/access satisfies it once SMART enforcement lands; with none
// configured (authorization off) every resource is visible.
type Authorizer interface {
	MayRead(ctx context.Context, g *access.Grant, r store.Resource) (bool, error)
}

// Clock is the time source of retries, heartbeats and Subscription.end;
// tests inject one that runs faster than the wall clock.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Retry is the rest-hook retry policy: jittered exponential backoff from
// Initial, doubling up to Max, until GiveUpAfter has passed since the
// first attempt; then the subscription goes to status error and the
// notification is dead-lettered.
type Retry struct {
	Initial, Max, GiveUpAfter time.Duration
	// HandshakeAttempts bounds the handshake's tries (default 3).
	HandshakeAttempts int
}

// Config wires a Manager.
type Config struct {
	// Service stores Subscriptions (status write-back) and reads the
	// resources notifications carry. Its Store and Registry are used.
	Service *fhir.Service
	JS      jetstream.JetStream
	// BaseURL is the public FHIR base, for references in notifications.
	BaseURL string
	// WebsocketURL is the public ws:// or wss:// URL of the websocket
	// endpoint (default: BaseURL with ws scheme + WebsocketPath).
	WebsocketURL string
	// Authorizer checks deliveries against the subscriber's grant; nil
	// means authorization is off.
	Authorizer Authorizer
	// AllowLoopbackHTTP accepts http:// rest-hook endpoints on loopback
	// addresses (development).
	AllowLoopbackHTTP bool
	// HTTPClient sends rest-hook notifications (default: a client that
	// does not follow redirects).
	HTTPClient *http.Client
	Clock      Clock
	Retry      Retry
	// DefaultTimeout bounds one rest-hook request when the subscription
	// sets no backport-timeout (default 10s).
	DefaultTimeout time.Duration
	// Changes configures the change stream the matcher consumes.
	Changes outbox.StreamConfig
	Log     LogConfig
	// Concurrency bounds the deliveries in flight per node (default 64).
	Concurrency int
	// Scan is how often heartbeats and Subscription.end are checked
	// (default 1s).
	Scan time.Duration
	// AckWait is how long a node may hold a message of a shared consumer
	// without acknowledging it (or saying it is still working on it)
	// before JetStream gives it to another node (default 30s).
	AckWait time.Duration
	// PinnedTTL is how long a node that stopped pulling keeps a shared
	// consumer before another node takes it over (default 10s).
	PinnedTTL time.Duration
	Logger    *slog.Logger
}

// WebsocketPath is where the websocket channel is served, under the FHIR
// base.
const WebsocketPath = "/subscriptions/websocket"

// Manager runs subscriptions: it validates Subscription writes (a
// fhir.WriteHook), matches change events, keeps the event logs, delivers
// notifications and serves the subscription operations.
type Manager struct {
	cfg    Config
	svc    *fhir.Service
	reg    *search.Registry
	topics map[string]*Topic
	parse  *parser
	idx    *index
	log    *eventLog
	logger *slog.Logger
	hub    *hub
	clock  Clock
	client *http.Client

	semOnce sync.Once
	sendSem chan struct{}
}

// New checks cfg and opens the JetStream streams, buckets and consumers.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	var errs []error
	if cfg.Service == nil || cfg.Service.Store == nil || cfg.Service.Registry == nil {
		errs = append(errs, errors.New("subscriptions: a Service with a Store and a Registry is required"))
	}
	if cfg.JS == nil {
		errs = append(errs, errors.New("subscriptions: JetStream is required"))
	}
	u, err := url.Parse(cfg.BaseURL)
	if cfg.BaseURL == "" || err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("subscriptions: BaseURL %q is not an absolute URL", cfg.BaseURL))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.WebsocketURL == "" {
		ws := *u
		ws.Scheme = map[string]string{"https": "wss"}[u.Scheme]
		if ws.Scheme == "" {
			ws.Scheme = "ws"
		}
		ws.Path = strings.TrimRight(u.Path, "/") + WebsocketPath
		cfg.WebsocketURL = ws.String()
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	r := &cfg.Retry
	if r.Initial <= 0 {
		r.Initial = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = time.Minute
	}
	if r.GiveUpAfter <= 0 {
		r.GiveUpAfter = 30 * time.Minute
	}
	if r.HandshakeAttempts <= 0 {
		r.HandshakeAttempts = 3
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 10 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Scan <= 0 {
		cfg.Scan = time.Second
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.PinnedTTL <= 0 {
		cfg.PinnedTTL = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	topics := map[string]*Topic{}
	for _, t := range Topics() {
		topics[t.URL] = t
	}
	m := &Manager{
		cfg: cfg, svc: cfg.Service, reg: cfg.Service.Registry, topics: topics,
		parse:  &parser{reg: cfg.Service.Registry, topics: topics, allowLoopbackHTTP: cfg.AllowLoopbackHTTP},
		idx:    newIndex(),
		logger: cfg.Logger.With("component", "subscriptions"),
		clock:  cfg.Clock,
		client: client,
	}
	if err := outbox.EnsureStream(ctx, cfg.JS, cfg.Changes); err != nil {
		return nil, err
	}
	if m.log, err = openLog(ctx, cfg.JS, cfg.Log); err != nil {
		return nil, err
	}
	m.hub = newHub(m)
	return m, nil
}

// Hook returns the write hook to install as Service.Hooks["Subscription"].
func (m *Manager) Hook() fhir.WriteHook { return m }

// TopicURLs are the canonical URLs of the topics, for the
// CapabilityStatement.
func (m *Manager) TopicURLs() []string { return topicURLs(m.topics) }

// Run matches, delivers and schedules until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	err := m.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (m *Manager) run(ctx context.Context) error {
	if err := m.ensureTopics(ctx); err != nil {
		return err
	}
	follow, err := m.cfg.JS.OrderedConsumer(ctx, outbox.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{outbox.Subject("Subscription")},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("subscriptions: follow Subscription changes: %w", err)
	}
	if err := m.load(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.follow(gctx, follow) })
	g.Go(func() error { return m.match(gctx) })
	for p := range Partitions {
		g.Go(func() error { return m.deliver(gctx, p) })
	}
	g.Go(func() error { return m.schedule(gctx) })
	g.Go(func() error { return m.hub.run(gctx) })
	return g.Wait()
}

// ensureTopics stores each topic as a Basic resource, when missing.
func (m *Manager) ensureTopics(ctx context.Context) error {
	for _, t := range m.topics {
		if _, err := m.svc.Store.Read(ctx, "Basic", t.ID); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("subscriptions: topic %s: %w", t.ID, err)
		}
		if _, err := m.svc.Update(internal(ctx), "Basic", t.ID, t.Basic(), fhir.Preconditions{}); err != nil {
			var oe *outcome.Error
			if errors.As(err, &oe) && oe.Kind == outcome.KindConflict {
				continue // another node stored it
			}
			return fmt.Errorf("subscriptions: store topic %s: %w", t.ID, err)
		}
	}
	return nil
}

// load reads every stored Subscription into the index.
func (m *Manager) load(ctx context.Context) error {
	q, _, err := m.reg.Parse("Subscription", url.Values{}, search.ParseOptions{})
	if err != nil {
		return err
	}
	q.Count = 500
	for {
		page, err := m.svc.Store.Search(ctx, q)
		if err != nil {
			return fmt.Errorf("subscriptions: load: %w", err)
		}
		for _, r := range page.Matches {
			m.apply(r.ID, r.VersionID, r.Body, false)
		}
		if page.Next == nil {
			return nil
		}
		q.After = page.Next
	}
}

// apply puts one Subscription version into the index; it reports whether
// it was news.
func (m *Manager) apply(id string, version int64, body []byte, deleted bool) (*Subscription, bool) {
	if deleted {
		return nil, m.idx.put(id, version, nil)
	}
	s, err := m.parse.parse(body)
	if err != nil {
		// Validated on write; a stored one that no longer parses (a topic
		// removed, a parameter retired) stops matching.
		var where []string
		var oe *outcome.Error
		if errors.As(err, &oe) && len(oe.Issues) > 0 {
			where = oe.Issues[0].Expression // not the message: it may quote criteria values
		}
		m.logger.Warn("stored Subscription no longer valid; it is not matched", "subscription", id, "location", where)
		return nil, m.idx.put(id, version, nil)
	}
	s.ID, s.Version = id, version
	return s, m.idx.put(id, version, s)
}

// follow keeps this node's index up to date with Subscription changes.
func (m *Manager) follow(ctx context.Context, c jetstream.Consumer) error {
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("subscriptions: follow: %w", err)
	}
	return each(ctx, it, m.logger, func(msg jetstream.Msg) error {
		ev, err := outbox.Decode(msg.Data())
		if err != nil {
			m.logger.Error("undecodable change event", "error", err)
			return nil
		}
		body, err := m.body(ctx, ev)
		if err != nil {
			m.logger.Error("read Subscription version", "subscription", ev.ID, "error", err)
			return nil
		}
		m.apply(ev.ID, ev.VersionID, body, ev.Deleted)
		return nil
	})
}

// body returns the event's resource body, reading the version from the
// store when the event did not carry it.
func (m *Manager) body(ctx context.Context, ev *outbox.Event) ([]byte, error) {
	if ev.Deleted || len(ev.Body) > 0 {
		return ev.Body, nil
	}
	r, err := m.svc.Store.VRead(ctx, ev.Type, ev.ID, ev.VersionID)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

type internalKey struct{}

// internal marks ctx as the server's own write (status changes), which
// the hook passes through without the rules for client writes.
func internal(ctx context.Context) context.Context {
	return access.WithGrant(context.WithValue(ctx, internalKey{}, true), internalGrant)
}

// internalGrant is who the subscriptions manager is when it writes its
// own resources through the FHIR Service (topics as Basic, status changes
// of Subscriptions): a system caller limited to those two types.
var internalGrant = func() *access.Grant {
	set, err := scope.ParseSet("system/Subscription.cruds system/Basic.cruds")
	if err != nil {
		panic(err)
	}
	return &access.Grant{ClientID: "telefhir-subscriptions", Subject: "telefhir-subscriptions", Role: access.RoleSystem, Scopes: set}
}()

func isInternal(ctx context.Context) bool {
	v, _ := ctx.Value(internalKey{}).(bool)
	return v
}

// BeforeWrite implements fhir.WriteHook for Subscription: it validates
// criteria and channel, sets the status a client may ask for (requested,
// or off; an unchanged active subscription stays active), and records the
// creator's grant.
func (m *Manager) BeforeWrite(ctx context.Context, w fhir.HookWrite) ([]byte, error) {
	if w.Type != "Subscription" {
		return w.Body, nil
	}
	s, err := m.parse.parse(w.Body)
	if err != nil {
		return nil, err
	}
	if isInternal(ctx) {
		return w.Body, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(w.Body, &doc); err != nil {
		return nil, outcome.Wrap(outcome.KindStructure, err, "the Subscription is not a JSON object")
	}
	status := s.Status
	if status != StatusOff {
		status = StatusRequested
		if w.Previous != nil {
			if prev, err := m.parse.parse(w.Previous.Body); err == nil && prev.Status == StatusActive && sameDelivery(prev, s) {
				status = StatusActive
			}
		}
	}
	doc["status"], _ = json.Marshal(status)
	delete(doc, "error")
	var exts []json.RawMessage
	if raw, ok := doc["extension"]; ok {
		var all []json.RawMessage
		if err := json.Unmarshal(raw, &all); err != nil {
			return nil, outcome.Invalid("Subscription.extension", "extension must be an array")
		}
		for _, e := range all {
			var u struct{ URL string }
			_ = json.Unmarshal(e, &u)
			if u.URL != ExtGrant {
				exts = append(exts, e)
			}
		}
	}
	if g, ok := access.FromContext(ctx); ok {
		e, _ := json.Marshal(map[string]string{"url": ExtGrant, "valueString": snapshot(g)})
		exts = append(exts, e)
	}
	if len(exts) > 0 {
		doc["extension"], _ = json.Marshal(exts)
	} else {
		delete(doc, "extension")
	}
	return json.Marshal(doc)
}

// sameDelivery reports whether two versions deliver the same events the
// same way (no new handshake needed).
func sameDelivery(a, b *Subscription) bool {
	return a.Criteria == b.Criteria && a.Channel == b.Channel && a.Endpoint == b.Endpoint &&
		a.Payload == b.Payload && a.Content == b.Content && slices.Equal(a.Headers, b.Headers) &&
		len(a.Queries) == len(b.Queries)
}

// setStatus writes status to (and errText to Subscription.error) as a new
// version of subscription id when its current status is one of from. It
// reports whether it wrote.
func (m *Manager) setStatus(ctx context.Context, id string, from []string, to, errText string) (bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := m.svc.Read(internal(ctx), "Subscription", id)
		if err != nil {
			var oe *outcome.Error
			if errors.As(err, &oe) && (oe.Kind == outcome.KindNotFound || oe.Kind == outcome.KindGone) {
				return false, nil
			}
			return false, err
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(cur.Body, &doc); err != nil {
			return false, err
		}
		var status string
		_ = json.Unmarshal(doc["status"], &status)
		if !slices.Contains(from, status) {
			return false, nil
		}
		doc["status"], _ = json.Marshal(to)
		if errText != "" {
			doc["error"], _ = json.Marshal(errText)
		} else {
			delete(doc, "error")
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return false, err
		}
		_, err = m.svc.Update(internal(ctx), "Subscription", id, body, fhir.Preconditions{IfMatch: cur.VersionID})
		var oe *outcome.Error
		if errors.As(err, &oe) && (oe.Kind == outcome.KindPreconditionFailed || oe.Kind == outcome.KindConflict) {
			continue // changed meanwhile: look again
		}
		if err != nil {
			return false, err
		}
		m.logger.Info("subscription status changed", "subscription", id, "from", status, "to", to)
		return true, nil
	}
	return false, fmt.Errorf("subscriptions: status of %s: the subscription keeps changing", id)
}

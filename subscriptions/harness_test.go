package subscriptions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/events/eventstest"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlite/sqlitetest"
	"github.com/telefhir/telefhir/internal/server"
	"github.com/telefhir/telefhir/subscriptions"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

// quiet logs warnings and errors only: the access log of every request
// would bury them.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// openSQLite is the embedded store, the fast store of these tests.
func openSQLite(t testing.TB) store.Store { return sqlitetest.Open(t) }

// node is one telefhir server: the HTTP API over a store, its outbox
// relay and its subscriptions manager, sharing NATS with other nodes.
type node struct {
	t       testing.TB
	base    string
	svc     *fhir.Service
	m       *subscriptions.Manager
	relay   *outbox.Relay
	handler http.Handler
	stop    func()
}

// statusAs calls $status of id in-process with ctx (carrying a grant) and
// returns the HTTP status.
func (n *node) statusAs(ctx context.Context, id string) int {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/Subscription/"+id+"/$status", nil)
	rec := httptest.NewRecorder()
	n.handler.ServeHTTP(rec, req)
	return rec.Code
}

type nodeOptions struct {
	mutate func(*subscriptions.Config)
	// noRelay leaves the relay stopped (a crash between commit and
	// publish).
	noRelay bool
}

func startNode(t testing.TB, st store.Store, js jetstream.JetStream, o nodeOptions) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: t}
	srv := httptest.NewUnstartedServer(nil)
	n.base = "http://" + srv.Listener.Addr().String()
	reg, err := search.NewRegistry(search.Options{BaseURL: n.base})
	if err != nil {
		t.Fatal(err)
	}
	n.relay = &outbox.Relay{Store: st, JS: js, Poll: 20 * time.Millisecond}
	n.svc = &fhir.Service{Store: outbox.Notify(st, n.relay), Registry: reg}
	cfg := subscriptions.Config{
		Service: n.svc, JS: js, BaseURL: n.base, AllowLoopbackHTTP: true,
		Retry:  subscriptions.Retry{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, GiveUpAfter: time.Minute},
		Scan:   50 * time.Millisecond,
		Logger: quiet,
	}
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	n.m, err = subscriptions.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.svc.Hooks = map[string]fhir.WriteHook{"Subscription": n.m.Hook()}
	e, err := server.New(server.Options{
		Service: n.svc,
		Logger:  quiet,
		REST:    rest.Config{BaseURL: n.base, Operations: n.m.Operations(), SubscriptionTopics: n.m.TopicURLs()},
		Routes:  []server.Route{{Method: http.MethodGet, Path: subscriptions.WebsocketPath, Handler: http.HandlerFunc(n.m.ServeWebsocket)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = e
	n.handler = e
	srv.Start()
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	if !o.noRelay {
		run("relay", n.relay.Run)
	}
	run("subscriptions", n.m.Run)
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			srv.Close()
		})
	}
	t.Cleanup(n.stop)
	return n
}

// startRelay starts a relay for n after the fact (a restarted server).
func (n *node) startRelay(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
}

func newNATS(t testing.TB) jetstream.JetStream {
	t.Helper()
	return eventstest.Start(t).Connect(t).JetStream()
}

// do sends a FHIR request to n and decodes the JSON answer.
func (n *node) do(method, path string, body any) (int, map[string]any) {
	n.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, n.base+path, r)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return res.StatusCode, out
}

func (n *node) create(typ string, body string) string {
	n.t.Helper()
	code, out := n.do(http.MethodPost, "/"+typ, body)
	if code != http.StatusCreated {
		n.t.Fatalf("POST /%s: %d %v", typ, code, out)
	}
	return out["id"].(string)
}

func (n *node) status(id string) string {
	n.t.Helper()
	code, out := n.do(http.MethodGet, "/Subscription/"+id, nil)
	if code != http.StatusOK {
		n.t.Fatalf("GET Subscription/%s: %d %v", id, code, out)
	}
	s, _ := out["status"].(string)
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (n *node) waitStatus(id, want string) {
	n.t.Helper()
	waitFor(n.t, "Subscription/"+id+" status "+want, 15*time.Second, func() bool { return n.status(id) == want })
}

// notification is one received notification Bundle.
type notification struct {
	Header http.Header
	Bundle map[string]any
}

// param returns the status Parameters' value of name (as written).
func (nt notification) param(name string) string {
	for _, p := range nt.params() {
		if p["name"] == name {
			for k, v := range p {
				if strings.HasPrefix(k, "value") {
					switch x := v.(type) {
					case string:
						return x
					case map[string]any:
						s, _ := x["reference"].(string)
						return s
					}
				}
			}
		}
	}
	return ""
}

func (nt notification) params() []map[string]any {
	entries, _ := nt.Bundle["entry"].([]any)
	if len(entries) == 0 {
		return nil
	}
	res, _ := entries[0].(map[string]any)["resource"].(map[string]any)
	ps, _ := res["parameter"].([]any)
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.(map[string]any))
	}
	return out
}

func (nt notification) kind() string { return nt.param("type") }

// events returns the notification events' numbers and focus references.
func (nt notification) events() (numbers []int64, focus []string) {
	for _, p := range nt.params() {
		if p["name"] != "notification-event" {
			continue
		}
		parts, _ := p["part"].([]any)
		for _, part := range parts {
			pm := part.(map[string]any)
			switch pm["name"] {
			case "event-number":
				n, _ := strconv.ParseInt(pm["valueString"].(string), 10, 64)
				numbers = append(numbers, n)
			case "focus":
				focus = append(focus, pm["valueReference"].(map[string]any)["reference"].(string))
			}
		}
	}
	return numbers, focus
}

// entries returns the Bundle entries after the status Parameters.
func (nt notification) entries() []map[string]any {
	es, _ := nt.Bundle["entry"].([]any)
	var out []map[string]any
	for _, e := range es[1:] {
		out = append(out, e.(map[string]any))
	}
	return out
}

// receiver is a rest-hook endpoint that records what it receives; fail,
// when set, decides per request whether to answer 503.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []notification
	fail func(n int) bool
	hits int
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits++
		if r.fail != nil && r.fail(r.hits) {
			r.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var b map[string]any
		if err := json.Unmarshal(data, &b); err != nil {
			t.Errorf("receiver: body is not JSON: %v", err)
		}
		r.got = append(r.got, notification{Header: req.Header.Clone(), Bundle: b})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setFail(f func(n int) bool) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

// of returns what was received of one kind (handshake, heartbeat,
// event-notification) for one subscription.
func (r *receiver) of(kind, sub string) []notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notification
	for _, n := range r.got {
		if n.kind() == kind && strings.HasSuffix(n.param("subscription"), "/Subscription/"+sub) {
			out = append(out, n)
		}
	}
	return out
}

// numbers returns the event numbers received for sub, in arrival order.
func (r *receiver) numbers(sub string) []int64 {
	var out []int64
	for _, n := range r.of(subscriptions.TypeEvent, sub) {
		ns, _ := n.events()
		out = append(out, ns...)
	}
	return out
}

func (r *receiver) waitEvents(t testing.TB, sub string, n int) []int64 {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d events for %s", n, sub), 20*time.Second, func() bool { return len(r.numbers(sub)) >= n })
	return r.numbers(sub)
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func wantNumbers(t testing.TB, what string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: event numbers %v, want %v", what, got, want)
	}
}

// subscription builds a Subscription resource.
type subSpec struct {
	criteria  string
	filters   []string
	channel   string
	endpoint  string
	content   string
	headers   []string
	heartbeat int
	maxCount  int
	end       string
	status    string
	// payload sets channel.payload without the Backport content extension
	// (an R4 subscription).
	payload bool
}

func (s subSpec) json() string {
	sub := map[string]any{
		"resourceType": "Subscription",
		"status":       cmpOr(s.status, "requested"),
		"reason":       "test",
		"criteria":     s.criteria,
	}
	if len(s.filters) > 0 {
		var exts []map[string]any
		for _, f := range s.filters {
			exts = append(exts, map[string]any{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria", "valueString": f})
		}
		sub["_criteria"] = map[string]any{"extension": exts}
	}
	ch := map[string]any{"type": cmpOr(s.channel, "rest-hook")}
	if s.endpoint != "" {
		ch["endpoint"] = s.endpoint
	}
	if s.content != "" {
		ch["payload"] = "application/fhir+json"
		ch["_payload"] = map[string]any{"extension": []map[string]any{{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content", "valueCode": s.content}}}
	}
	if s.payload {
		ch["payload"] = "application/fhir+json"
	}
	if len(s.headers) > 0 {
		ch["header"] = s.headers
	}
	var exts []map[string]any
	if s.heartbeat > 0 {
		exts = append(exts, map[string]any{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period", "valueUnsignedInt": s.heartbeat})
	}
	if s.maxCount > 0 {
		exts = append(exts, map[string]any{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count", "valuePositiveInt": s.maxCount})
	}
	if len(exts) > 0 {
		ch["extension"] = exts
	}
	sub["channel"] = ch
	if s.end != "" {
		sub["end"] = s.end
	}
	b, _ := json.Marshal(sub)
	return string(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func observation(patient, code string, value float64) string {
	return fmt.Sprintf(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-11-26T08:30:00Z","valueQuantity":{"value":%g,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, code, patient, value)
}

const (
	heartRate   = "8867-4"
	respRate    = "9279-1"
	topicObsNew = subscriptions.TopicBase + "observation-created"
)

// fastClock runs scale times faster than the wall clock, so that retries
// spanning minutes take milliseconds.
type fastClock struct {
	start time.Time
	scale time.Duration
}

func newFastClock(scale time.Duration) *fastClock {
	return &fastClock{start: time.Now(), scale: scale}
}

func (c *fastClock) Now() time.Time {
	return c.start.Add(time.Since(c.start) * c.scale)
}

func (c *fastClock) After(d time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	time.AfterFunc(d/c.scale, func() { out <- c.Now() })
	return out
}

// eventsSince reads events-since-subscription-start from $status.
func (n *node) eventsSince(id string) int {
	n.t.Helper()
	code, st := n.do(http.MethodGet, "/Subscription/"+id+"/$status", nil)
	if code != http.StatusOK {
		n.t.Fatalf("$status: %d %v", code, st)
	}
	v, _ := strconv.Atoi(notification{Bundle: st}.param("events-since-subscription-start"))
	return v
}

package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/fhir/store"
)

// The stream of change events.
const (
	// Stream is the JetStream stream name.
	Stream = "FHIR_CHANGES"
	// SubjectPrefix precedes the resource type in each event's subject:
	// fhir.change.Observation.
	SubjectPrefix = "fhir.change."
)

// MaxInlineBody is the largest resource body carried in an event; larger
// ones are left out (Event.Body empty, Event.Deleted false) and consumers
// read the version from the store.
const MaxInlineBody = 256 << 10

// Event is the message body of one change event.
type Event struct {
	// Seq is the store's sequence number of the version.
	Seq         int64     `json:"seq"`
	Type        string    `json:"type"`
	ID          string    `json:"id"`
	VersionID   int64     `json:"versionId"`
	LastUpdated time.Time `json:"lastUpdated"`
	Deleted     bool      `json:"deleted,omitempty"`
	// Method is the interaction: POST, PUT, PATCH or DELETE.
	Method string `json:"method"`
	// Body is the version's JSON; empty for a delete and for bodies over
	// MaxInlineBody.
	Body json.RawMessage `json:"body,omitempty"`
}

// Identity is "Type/id/_history/vid", the event's Nats-Msg-Id.
func (e *Event) Identity() string {
	return store.Change{Resource: store.Resource{Type: e.Type, ID: e.ID, VersionID: e.VersionID}}.Identity()
}

// Subject is the subject events of resource type typ are published on.
func Subject(typ string) string { return SubjectPrefix + typ }

// Decode parses an event message.
func Decode(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("outbox: decode event: %w", err)
	}
	if e.Type == "" || e.ID == "" || e.VersionID <= 0 {
		return nil, errors.New("outbox: decode event: type, id and versionId are required")
	}
	return &e, nil
}

func encode(c store.Change) ([]byte, error) {
	e := Event{
		Seq: c.Seq, Type: c.Type, ID: c.ID, VersionID: c.VersionID,
		LastUpdated: c.LastUpdated, Deleted: c.Deleted, Method: c.Method,
	}
	if len(c.Body) <= MaxInlineBody {
		e.Body = c.Body
	}
	return json.Marshal(&e)
}

// StreamConfig tunes the change stream.
type StreamConfig struct {
	// Replicas is the stream's replication factor on a NATS cluster
	// (default 1).
	Replicas int
	// MaxAge is how long events are kept (default 7 days).
	MaxAge time.Duration
	// Duplicates is the window within which a republished event is
	// dropped (default 10 minutes).
	Duplicates time.Duration
}

// EnsureStream creates the change stream, or updates its settings.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) error {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 10 * time.Minute
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "telefhir change events: one per committed resource version",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      c.MaxAge,
		Duplicates:  c.Duplicates,
		Replicas:    c.Replicas,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("outbox: ensure stream %s: %w", Stream, err)
	}
	return nil
}

// Relay publishes the store's outbox to the change stream.
type Relay struct {
	Store store.Outbox
	JS    jetstream.JetStream
	// Batch is the most changes published per round trip (default 256).
	Batch int
	// Poll is how often the outbox is checked without a Kick (default
	// 250ms): it picks up writes of other nodes and retries after errors.
	Poll time.Duration
	// AckTimeout bounds the wait for JetStream's acknowledgements of one
	// batch (default 5s).
	AckTimeout time.Duration
	// MaxBackoff caps the pause after consecutive failures (default 5s).
	MaxBackoff time.Duration
	Logger     *slog.Logger

	initOnce sync.Once
	kick     chan struct{}
}

func (r *Relay) defaults() {
	if r.Batch <= 0 {
		r.Batch = 256
	}
	if r.Poll <= 0 {
		r.Poll = 250 * time.Millisecond
	}
	if r.AckTimeout <= 0 {
		r.AckTimeout = 5 * time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 5 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}

// Init prepares r for Kick; Run calls it. Call it before sharing r when
// writes may Kick before Run starts.
func (r *Relay) Init() {
	r.initOnce.Do(func() { r.kick = make(chan struct{}, 1) })
}

// Kick wakes the relay: a write committed. It never blocks.
func (r *Relay) Kick() {
	r.Init()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends. It returns nil on cancellation.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	r.Init()
	poll := time.NewTicker(r.Poll)
	defer poll.Stop()
	failures := 0
	for {
		n, err := r.Drain(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			d := backoff(failures, r.MaxBackoff)
			r.Logger.Warn("outbox relay: publish failed; retrying", "error", err, "attempt", failures, "retry_in", d)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		case n > 0:
			failures = 0
			continue // more may be waiting
		}
		failures = 0
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
			// Another node's relay may hold the outbox and have finished
			// its last batch just before this write committed: look again
			// shortly rather than at the next poll.
			if n, err := r.Drain(ctx); err == nil && n == 0 {
				t := time.NewTimer(10 * time.Millisecond)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		case <-poll.C:
		}
	}
}

// Drain publishes one batch and returns how many changes it published.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	r.defaults()
	return r.Store.DrainOutbox(ctx, r.Batch, r.publish)
}

// publish sends every change asynchronously, then waits until JetStream
// has acknowledged all of them (a duplicate counts as acknowledged).
func (r *Relay) publish(ctx context.Context, cs []store.Change) error {
	futures := make([]jetstream.PubAckFuture, 0, len(cs))
	for _, c := range cs {
		data, err := encode(c)
		if err != nil {
			return fmt.Errorf("outbox: encode %s: %w", c.Identity(), err)
		}
		msg := &nats.Msg{Subject: Subject(c.Type), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, c.Identity())
		f, err := r.JS.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("outbox: publish %s: %w", c.Identity(), err)
		}
		futures = append(futures, f)
	}
	t := time.NewTimer(r.AckTimeout)
	defer t.Stop()
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("outbox: publish %s: %w", cs[i].Identity(), err)
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("outbox: no acknowledgement from JetStream within %s", r.AckTimeout)
		}
	}
	return nil
}

// backoff is the jittered exponential pause after n consecutive failures:
// 50ms, 100ms, 200ms, ... capped at max, each between half and all of it.
func backoff(n int, max time.Duration) time.Duration {
	d := min(50*time.Millisecond<<min(n-1, 16), max)
	return d/2 + rand.N(d/2+1)
}

// Notify returns st with Write wrapped: after each successful write it
// kicks the relay, so changes are published without waiting for a poll.
func Notify(st store.Store, r *Relay) store.Store {
	r.Init()
	return &notifying{Store: st, r: r}
}

type notifying struct {
	store.Store
	r *Relay
}

func (n *notifying) Write(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	err := n.Store.Write(ctx, fn)
	if err == nil {
		n.r.Kick()
	}
	return err
}

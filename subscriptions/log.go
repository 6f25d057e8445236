package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream names used by subscriptions.
const (
	// EventsStream holds each subscription's event log on its own subject
	// (subs.ev.<partition>.<id>) and the control messages of its channel
	// (handshake and heartbeat requests, subs.ctl.<partition>.<id>).
	EventsStream = "SUB_EVENTS"
	// DeadLetterStream keeps a record of every notification given up on.
	DeadLetterStream = "SUB_DEADLETTER"
	// CursorBucket is a KV bucket of how far each channel has delivered.
	CursorBucket = "SUB_CURSORS"
	// ConfigBucket is a KV bucket of shared settings (the websocket
	// binding-token key).
	ConfigBucket = "SUB_CONFIG"
	// Partitions spreads delivery work: each partition has one durable
	// consumer, served by one node at a time. Fixed, because it is part of
	// every subject.
	Partitions = 8
)

// token is a subscription id as a subject token: FHIR ids may hold '.',
// subjects may not; '_' is not allowed in FHIR ids, so this is reversible.
func token(id string) string { return strings.ReplaceAll(id, ".", "_") }

func untoken(t string) string { return strings.ReplaceAll(t, "_", ".") }

func partition(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % Partitions)
}

func eventSubject(id string) string {
	return "subs.ev." + strconv.Itoa(partition(id)) + "." + token(id)
}

func controlSubject(id string) string {
	return "subs.ctl." + strconv.Itoa(partition(id)) + "." + token(id)
}

// logEvent is one numbered event in a subscription's log.
type logEvent struct {
	Number    int64     `json:"n"`
	Timestamp time.Time `json:"ts"`
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	VersionID int64     `json:"vid"`
	Method    string    `json:"method"`
	// Context are additional-context references (Type/id).
	Context []string `json:"ctx,omitempty"`
}

func (e *logEvent) focus() string { return e.Type + "/" + e.ID }

func (e *logEvent) identity() string {
	return e.Type + "/" + e.ID + "/_history/" + strconv.FormatInt(e.VersionID, 10)
}

// control is a request to a channel's deliverer.
type control struct {
	Kind string `json:"kind"` // handshake | heartbeat
	// Version is the Subscription version a handshake is for.
	Version int64 `json:"version,omitempty"`
}

// eventLog appends to and reads subscription event logs.
type eventLog struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	dead   jetstream.Stream
	cursor jetstream.KeyValue
	config jetstream.KeyValue

	mu   sync.Mutex
	last map[string]lastEvent // by subscription id
}

type lastEvent struct {
	seq    uint64 // stream sequence of the last event
	number int64
}

// LogConfig tunes the event log streams.
type LogConfig struct {
	// Replicas on a NATS cluster (default 1).
	Replicas int
	// MaxAge is how long events are kept for $events and replay
	// (default 7 days).
	MaxAge time.Duration
	// MaxPerSubscription caps the events kept per subscription
	// (default 100,000; the oldest go first).
	MaxPerSubscription int64
}

func openLog(ctx context.Context, js jetstream.JetStream, c LogConfig) (*eventLog, error) {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.MaxPerSubscription <= 0 {
		c.MaxPerSubscription = 100_000
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              EventsStream,
		Description:       "telefhir subscription event logs and channel control messages",
		Subjects:          []string{"subs.ev.*.*", "subs.ctl.*.*"},
		Storage:           jetstream.FileStorage,
		MaxAge:            c.MaxAge,
		MaxMsgsPerSubject: c.MaxPerSubscription,
		Duplicates:        10 * time.Minute,
		Replicas:          c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: stream %s: %w", EventsStream, err)
	}
	dead, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "telefhir notifications given up on, with the reason",
		Subjects:    []string{"subs.dlq.*"},
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		Replicas:    c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: stream %s: %w", DeadLetterStream, err)
	}
	cursor, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: CursorBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: bucket %s: %w", CursorBucket, err)
	}
	config, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ConfigBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: bucket %s: %w", ConfigBucket, err)
	}
	return &eventLog{js: js, stream: st, dead: dead, cursor: cursor, config: config, last: map[string]lastEvent{}}, nil
}

// lastOf returns the last event of a subscription's log (zero when empty).
func (l *eventLog) lastOf(ctx context.Context, id string) (lastEvent, error) {
	l.mu.Lock()
	le, ok := l.last[id]
	l.mu.Unlock()
	if ok {
		return le, nil
	}
	m, err := l.stream.GetLastMsgForSubject(ctx, eventSubject(id))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		le = lastEvent{}
	case err != nil:
		return lastEvent{}, fmt.Errorf("subscriptions: last event of %s: %w", id, err)
	default:
		var e logEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return lastEvent{}, fmt.Errorf("subscriptions: last event of %s: %w", id, err)
		}
		le = lastEvent{seq: m.Sequence, number: e.Number}
	}
	l.mu.Lock()
	l.last[id] = le
	l.mu.Unlock()
	return le, nil
}

// count is the number of events ever logged for id, read from the
// stream (not the appender's cache, which may be another node's).
func (l *eventLog) count(ctx context.Context, id string) (int64, error) {
	m, err := l.stream.GetLastMsgForSubject(ctx, eventSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("subscriptions: last event of %s: %w", id, err)
	}
	var e logEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return 0, fmt.Errorf("subscriptions: last event of %s: %w", id, err)
	}
	return e.Number, nil
}

func (l *eventLog) forget(id string) {
	l.mu.Lock()
	delete(l.last, id)
	l.mu.Unlock()
}

// append adds e to the log of subscription id with the next event number,
// and returns it. The stream's per-subject sequence check makes numbers
// gap-free and unique even if two appenders race, and the message id
// (subscription and version) drops a change appended twice.
func (l *eventLog) append(ctx context.Context, id string, e logEvent) (int64, error) {
	for attempt := 0; attempt < 8; attempt++ {
		le, err := l.lastOf(ctx, id)
		if err != nil {
			return 0, err
		}
		e.Number = le.number + 1
		data, err := json.Marshal(&e)
		if err != nil {
			return 0, err
		}
		msg := &nats.Msg{Subject: eventSubject(id), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, id+"|"+e.identity())
		ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(le.seq))
		var apiErr *jetstream.APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			l.forget(id) // another appender won: re-read the last number
			continue
		case err != nil:
			l.forget(id)
			return 0, fmt.Errorf("subscriptions: append to the log of %s: %w", id, err)
		case ack.Duplicate:
			l.forget(id) // appended before (a redelivered change)
			return 0, nil
		}
		l.mu.Lock()
		l.last[id] = lastEvent{seq: ack.Sequence, number: e.Number}
		l.mu.Unlock()
		return e.Number, nil
	}
	return 0, fmt.Errorf("subscriptions: append to the log of %s: too much contention", id)
}

// publishControl asks the channel deliverer of id to act; msgID makes a
// request from several nodes count once.
func (l *eventLog) publishControl(ctx context.Context, id string, c control, msgID string) error {
	data, _ := json.Marshal(&c)
	msg := &nats.Msg{Subject: controlSubject(id), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := l.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("subscriptions: %s request for %s: %w", c.Kind, id, err)
	}
	return nil
}

// read returns the events of id numbered from..to (to 0: to the end), at
// most max of them, in order.
func (l *eventLog) read(ctx context.Context, id string, from, to int64, max int) ([]logEvent, error) {
	lastN, err := l.count(ctx, id)
	if err != nil || lastN == 0 || (to > 0 && to < from) || from > lastN {
		return nil, err
	}
	c, err := l.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{eventSubject(id)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: read the log of %s: %w", id, err)
	}
	var out []logEvent
	for {
		batch, err := c.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("subscriptions: read the log of %s: %w", id, err)
		}
		n := 0
		pending := uint64(0)
		for m := range batch.Messages() {
			n++
			var e logEvent
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				return nil, fmt.Errorf("subscriptions: read the log of %s: %w", id, err)
			}
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
			if e.Number >= from && (to == 0 || e.Number <= to) && len(out) < max {
				out = append(out, e)
			}
			if (to > 0 && e.Number >= to) || len(out) >= max || e.Number >= lastN {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("subscriptions: read the log of %s: %w", id, err)
		}
		if n == 0 || pending == 0 {
			return out, nil
		}
	}
}

// Cursor keys: how far a channel has delivered a subscription's log.
func cursorKey(channel, id string) string { return channel + "." + token(id) }

func (l *eventLog) loadCursor(ctx context.Context, channel, id string) (int64, error) {
	e, err := l.cursor.Get(ctx, cursorKey(channel, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("subscriptions: cursor of %s: %w", id, err)
	}
	return strconv.ParseInt(string(e.Value()), 10, 64)
}

func (l *eventLog) saveCursor(ctx context.Context, channel, id string, n int64) error {
	if _, err := l.cursor.Put(ctx, cursorKey(channel, id), []byte(strconv.FormatInt(n, 10))); err != nil {
		return fmt.Errorf("subscriptions: save the cursor of %s: %w", id, err)
	}
	return nil
}

// DeadLetter is the record of a notification given up on.
type DeadLetter struct {
	Subscription string    `json:"subscription"`
	Events       []int64   `json:"events,omitempty"`
	Kind         string    `json:"kind"` // event-notification | handshake
	Reason       string    `json:"reason"`
	Attempts     int       `json:"attempts"`
	At           time.Time `json:"at"`
}

func (l *eventLog) deadLetter(ctx context.Context, d DeadLetter) error {
	data, _ := json.Marshal(&d)
	if _, err := l.js.Publish(ctx, "subs.dlq."+token(d.Subscription), data); err != nil {
		return fmt.Errorf("subscriptions: dead-letter for %s: %w", d.Subscription, err)
	}
	return nil
}

// deadLetters returns the dead-letter records of subscription id.
func (l *eventLog) deadLetters(ctx context.Context, id string) ([]DeadLetter, error) {
	c, err := l.js.OrderedConsumer(ctx, DeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"subs.dlq." + token(id)},
	})
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for {
		batch, err := c.FetchNoWait(256)
		if err != nil {
			return nil, err
		}
		n := 0
		var pending uint64
		for m := range batch.Messages() {
			n++
			var d DeadLetter
			if err := json.Unmarshal(m.Data(), &d); err != nil {
				return nil, err
			}
			out = append(out, d)
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if n == 0 || pending == 0 {
			return out, batch.Error()
		}
	}
}

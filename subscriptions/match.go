package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

// priorityGroup is the group every node pulls the shared consumers with;
// the pinned-client policy lets one node at a time consume each, and
// moves it to another when that node stops pulling.
const priorityGroup = "telefhir"

// matcherConsumer is the durable consumer of the change stream that the
// matcher reads: one node at a time, in stream order.
const matcherConsumer = "subscriptions-matcher"

// change is one change event being matched.
type change struct {
	*outbox.Event
	body  []byte
	index *search.Index
	m     *Manager
}

// previous returns the body of the version before this one, and false
// when there is none (or it is a delete).
func (c *change) previous(ctx context.Context) ([]byte, bool, error) {
	if c.VersionID <= 1 {
		return nil, false, nil
	}
	r, err := c.m.svc.Store.VRead(ctx, c.Type, c.ID, c.VersionID-1)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r.Body, true, nil
}

func (c *change) resource() store.Resource {
	return store.Resource{Type: c.Type, ID: c.ID, VersionID: c.VersionID, LastUpdated: c.LastUpdated, Deleted: c.Deleted, Method: c.Method, Body: c.body}
}

// match consumes the change stream and appends each change to the logs of
// the subscriptions it matches.
func (m *Manager) match(ctx context.Context) error {
	cons, err := m.cfg.JS.CreateOrUpdateConsumer(ctx, outbox.Stream, jetstream.ConsumerConfig{
		Durable:        matcherConsumer,
		Description:    "telefhir: match change events against subscriptions",
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        m.cfg.AckWait,
		MaxAckPending:  1024,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      m.cfg.PinnedTTL,
	})
	if err != nil {
		return fmt.Errorf("subscriptions: matcher consumer: %w", err)
	}
	return consume(ctx, cons, m.logger, func(ctx context.Context, msg jetstream.Msg) error {
		ev, err := outbox.Decode(msg.Data())
		if err != nil {
			m.logger.Error("undecodable change event dropped", "error", err)
			return nil
		}
		return m.matchChange(ctx, ev)
	})
}

// consume runs handle on each message of cons, in order, as the pinned
// client of the priority group. A failing message is retried in place
// (with backoff, keeping its ack deadline alive) so that order holds.
func consume(ctx context.Context, cons jetstream.Consumer, log interface {
	Warn(string, ...any)
}, handle func(context.Context, jetstream.Msg) error,
) error {
	it, err := cons.Messages(jetstream.PullPriorityGroup(priorityGroup), jetstream.PullMaxMessages(256))
	if err != nil {
		return fmt.Errorf("subscriptions: consume: %w", err)
	}
	return each(ctx, it, log, func(msg jetstream.Msg) error {
		for attempt := 1; ; attempt++ {
			err := handle(ctx, msg)
			if err == nil {
				_ = msg.Ack()
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("handling a message failed; retrying", "error", err, "attempt", attempt)
			_ = msg.InProgress()
			d := min(50*time.Millisecond<<min(attempt-1, 10), 5*time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d/2 + rand.N(d/2+1)):
			}
		}
	})
}

// each runs fn on every message of it until ctx ends or fn fails. The
// iterator's transient errors (a missed heartbeat, a reconnect) are logged
// and the loop goes on; the client library resumes the consumer.
func each(ctx context.Context, it jetstream.MessagesContext, log interface {
	Warn(string, ...any)
}, fn func(jetstream.Msg) error,
) error {
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.Warn("consumer interrupted; resuming", "error", err)
			continue
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
}

// matchChange handles one change: a Subscription change updates the index
// (and asks for a handshake); every change is matched.
func (m *Manager) matchChange(ctx context.Context, ev *outbox.Event) error {
	body, err := m.body(ctx, ev)
	if err != nil {
		return err
	}
	if ev.Type == "Subscription" {
		if err := m.subscriptionChanged(ctx, ev, body); err != nil {
			return err
		}
	}
	if !m.idx.watched(ev.Type) {
		return nil // no subscription could match: skip the index extraction
	}
	c := &change{Event: ev, body: body, m: m}
	if !ev.Deleted {
		if c.index, err = m.reg.ExtractJSON(ev.Type, body); err != nil {
			return fmt.Errorf("index %s: %w", ev.Identity(), err)
		}
	}
	for _, s := range m.idx.candidates(ev.Type, c.index, m.clock.Now()) {
		ok, err := m.matches(ctx, s, c)
		if err != nil {
			// One subscription's failure must not hold up the others: the
			// change is recorded as not evaluated for it.
			m.logger.Warn("evaluating a subscription failed", "subscription", s.ID, "error", err)
			if err := m.log.deadLetter(ctx, DeadLetter{Subscription: s.ID, Kind: TypeEvent, At: m.clock.Now().UTC(),
				Reason: "the criteria could not be evaluated for " + ev.Identity() + ": " + err.Error()}); err != nil {
				return err
			}
			continue
		}
		if !ok {
			continue
		}
		e := logEvent{Timestamp: ev.LastUpdated, Type: ev.Type, ID: ev.ID, VersionID: ev.VersionID, Method: ev.Method}
		if s.Topic != nil && s.Topic.context != nil {
			e.Context = s.Topic.context(c)
		}
		if _, err := m.log.append(ctx, s.ID, e); err != nil {
			return err
		}
	}
	return nil
}

// subscriptionChanged applies a Subscription change to this node's index
// and starts the channel: a handshake for a requested rest-hook, status
// active for a websocket (whose handshake is sent on bind).
func (m *Manager) subscriptionChanged(ctx context.Context, ev *outbox.Event, body []byte) error {
	s, _ := m.apply(ev.ID, ev.VersionID, body, ev.Deleted)
	if s == nil || s.Status != StatusRequested || !s.Matchable(m.clock.Now()) {
		return nil
	}
	switch s.Channel {
	case ChannelRestHook:
		return m.log.publishControl(ctx, s.ID, control{Kind: "handshake", Version: s.Version},
			fmt.Sprintf("hs|%s|%d", s.ID, s.Version))
	case ChannelWebsocket:
		_, err := m.setStatus(ctx, s.ID, []string{StatusRequested}, StatusActive, "")
		return err
	}
	return nil
}

// matches reports whether change c is an event of subscription s: the
// topic's trigger (or, for criteria, any create or update) and every
// query, and the subscriber may read the resource.
func (m *Manager) matches(ctx context.Context, s *Subscription, c *change) (bool, error) {
	if s.Topic != nil {
		ok, err := s.Topic.trigger(ctx, c)
		if err != nil || !ok {
			return false, err
		}
	} else if c.Deleted {
		return false, nil
	}
	t := &search.Target{Type: c.Type, ID: c.ID, LastUpdated: c.LastUpdated, Index: c.index}
	for _, q := range s.Queries {
		ok, err := search.Matches(&q, t)
		if errors.Is(err, search.ErrNeedsStore) {
			ok, err = m.matchesInStore(ctx, q, c)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return m.mayRead(ctx, s, c.resource())
}

// matchesInStore evaluates criteria that follow references (chains,
// _has) with a store search restricted to the changed resource.
func (m *Manager) matchesInStore(ctx context.Context, q search.Query, c *change) (bool, error) {
	q.Where = append(q.Where, search.Clause{Or: []search.Predicate{{
		Param: search.ParamID, Type: search.TypeToken, Token: &search.TokenMatch{Code: c.ID},
	}}})
	q.Types, q.Count, q.Sort, q.Include, q.RevInclude, q.After, q.Total = []string{c.Type}, 1, nil, nil, nil, nil, search.TotalNone
	page, err := m.svc.Store.Search(ctx, q)
	if err != nil {
		return false, err
	}
	for _, r := range page.Matches {
		if r.VersionID == c.VersionID {
			return true, nil
		}
	}
	return false, nil
}

// mayRead applies the subscriber's grant: without an authorizer or a
// grant (authorization off when the subscription was made) everything is
// visible.
func (m *Manager) mayRead(ctx context.Context, s *Subscription, r store.Resource) (bool, error) {
	if m.cfg.Authorizer == nil || s.Grant == nil {
		return true, nil
	}
	return m.cfg.Authorizer.MayRead(ctx, s.Grant, r)
}

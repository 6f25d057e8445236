package subscriptions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/fhir/store"
)

// deliveryConsumer names the durable consumer of partition p.
func deliveryConsumer(p int) string { return fmt.Sprintf("subscriptions-delivery-%d", p) }

// deliverer serves one partition's rest-hook channels on this node while
// it holds the partition's consumer: a worker per subscription sends that
// subscription's messages in log order, while other subscriptions of the
// partition go on.
type deliverer struct {
	m       *Manager
	mu      sync.Mutex
	workers map[string]*worker
	sem     chan struct{}
	running sync.WaitGroup // the workers' goroutines
}

type worker struct {
	id      string
	mu      sync.Mutex
	queue   []jetstream.Msg
	running bool
	// cursor is the highest event number handled (delivered or
	// dead-lettered); loaded from the cursor bucket on first use.
	cursor    int64
	loaded    bool
	lastSent  time.Time
	handshook int64 // version whose handshake this worker delivered
	// gapSince is when the worker began waiting for events before its
	// first queued one.
	gapSince time.Time
}

// deliver consumes partition p until ctx ends.
func (m *Manager) deliver(ctx context.Context, p int) error {
	cons, err := m.cfg.JS.CreateOrUpdateConsumer(ctx, EventsStream, jetstream.ConsumerConfig{
		Durable:        deliveryConsumer(p),
		Description:    "telefhir: deliver subscription notifications",
		FilterSubjects: []string{fmt.Sprintf("subs.ev.%d.*", p), fmt.Sprintf("subs.ctl.%d.*", p)},
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        m.cfg.AckWait,
		MaxAckPending:  20_000,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      m.cfg.PinnedTTL,
	})
	if err != nil {
		return fmt.Errorf("subscriptions: delivery consumer %d: %w", p, err)
	}
	d := &deliverer{m: m, workers: map[string]*worker{}, sem: m.sem()}
	it, err := cons.Messages(jetstream.PullPriorityGroup(priorityGroup), jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("subscriptions: delivery consumer %d: %w", p, err)
	}
	go d.keepAlive(ctx)
	err = each(ctx, it, m.logger, func(msg jetstream.Msg) error {
		d.enqueue(ctx, subjectID(msg.Subject()), msg)
		return nil
	})
	d.running.Wait() // let notifications in flight finish and be acknowledged
	return err
}

// subjectID is the subscription id a log or control subject is about.
func subjectID(subj string) string { return untoken(subj[strings.LastIndexByte(subj, '.')+1:]) }

// sem is the node-wide bound on deliveries in flight.
func (m *Manager) sem() chan struct{} {
	m.semOnce.Do(func() { m.sendSem = make(chan struct{}, m.cfg.Concurrency) })
	return m.sendSem
}

func (d *deliverer) enqueue(ctx context.Context, id string, msg jetstream.Msg) {
	d.mu.Lock()
	w := d.workers[id]
	if w == nil {
		w = &worker{id: id}
		d.workers[id] = w
	}
	d.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	// The queue is kept in stream order, which is log order: a
	// redelivery goes back to its place (replacing its earlier delivery,
	// if still queued).
	seq := streamSeq(msg)
	i := len(w.queue)
	for i > 0 && streamSeq(w.queue[i-1]) > seq {
		i--
	}
	switch {
	case i > 0 && streamSeq(w.queue[i-1]) == seq:
		w.queue[i-1] = msg
	default:
		w.queue = slices.Insert(w.queue, i, msg)
	}
	if !w.running {
		w.running = true
		d.running.Add(1)
		go func() {
			defer d.running.Done()
			d.run(ctx, w)
		}()
	}
}

func streamSeq(msg jetstream.Msg) uint64 {
	md, err := msg.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// keepAlive tells JetStream that queued messages are being worked on, so
// that a subscription waiting out a long retry does not get them
// redelivered.
func (d *deliverer) keepAlive(ctx context.Context) {
	t := time.NewTicker(d.m.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		ws := make([]*worker, 0, len(d.workers))
		for _, w := range d.workers {
			ws = append(ws, w)
		}
		d.mu.Unlock()
		for _, w := range ws {
			w.mu.Lock()
			q := append([]jetstream.Msg(nil), w.queue...)
			w.mu.Unlock()
			for _, msg := range q {
				_ = msg.InProgress()
			}
		}
	}
}

// run works through w's queue until it is empty.
func (d *deliverer) run(ctx context.Context, w *worker) {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || ctx.Err() != nil {
			w.running = false
			w.mu.Unlock()
			return
		}
		head := append([]jetstream.Msg(nil), w.queue...)
		w.mu.Unlock()
		n := d.process(ctx, w, head)
		if n == 0 {
			continue // not handled: try again (or stop, when ctx ended)
		}
		done := map[uint64]bool{}
		for _, msg := range head[:n] {
			_ = msg.Ack()
			done[streamSeq(msg)] = true
		}
		w.mu.Lock()
		w.queue = slices.DeleteFunc(w.queue, func(m jetstream.Msg) bool { return done[streamSeq(m)] })
		w.mu.Unlock()
	}
}

func isControl(msg jetstream.Msg) bool { return strings.HasPrefix(msg.Subject(), "subs.ctl.") }

// process handles the first message(s) of q and returns how many it is
// done with; 0 when they must be tried again (after a pause it took) or
// ctx ended.
func (d *deliverer) process(ctx context.Context, w *worker, q []jetstream.Msg) int {
	m := d.m
	if !w.loaded {
		c, err := m.log.loadCursor(ctx, ChannelRestHook, w.id)
		if err != nil {
			m.logger.Warn("load delivery cursor", "subscription", w.id, "error", err)
			d.wait(ctx, time.Second)
			return 0
		}
		w.cursor, w.loaded = c, true
	}
	if isControl(q[0]) {
		var c control
		if err := json.Unmarshal(q[0].Data(), &c); err != nil {
			return 1
		}
		switch c.Kind {
		case "handshake":
			if !d.handshake(ctx, w, c.Version) {
				return 0
			}
		case "heartbeat":
			d.heartbeat(ctx, w)
		}
		return 1
	}
	// A run of consecutive events after the cursor; those at or below it
	// were handled already (redeliveries).
	var events []logEvent
	n := 0
	s, err := d.current(ctx, w)
	if err != nil {
		m.logger.Warn("read subscription", "subscription", w.id, "error", err)
		d.wait(ctx, time.Second)
		return 0
	}
	max := 1
	if s != nil {
		max = s.MaxCount
	}
	for _, msg := range q {
		if isControl(msg) || len(events) == max {
			break
		}
		var e logEvent
		if err := json.Unmarshal(msg.Data(), &e); err != nil || e.Number <= w.cursor {
			if len(events) > 0 {
				break
			}
			n++
			continue
		}
		if e.Number != w.cursor+int64(len(events))+1 {
			break // a gap: the missing events are elsewhere
		}
		n++
		events = append(events, e)
	}
	if len(events) == 0 && n > 0 {
		return n
	}
	if len(events) == 0 {
		return d.gap(ctx, w, q[0])
	}
	w.gapSince = time.Time{}
	if !d.send(ctx, w, s, events) {
		return 0
	}
	return n
}

// gap handles a first event that does not follow the cursor: another node
// that held the partition before may still be delivering the events in
// between, or died with them unacknowledged (JetStream gives them to this
// node after AckWait). The worker re-reads the shared cursor and waits;
// after twice AckWait without them it goes on (at-least-once: an event
// handled but whose cursor was not saved must not block the rest).
func (d *deliverer) gap(ctx context.Context, w *worker, head jetstream.Msg) int {
	m := d.m
	if c, err := m.log.loadCursor(ctx, ChannelRestHook, w.id); err == nil && c > w.cursor {
		w.cursor = c
		return 0 // look again with the other node's progress
	}
	if w.gapSince.IsZero() {
		w.gapSince = time.Now()
	}
	if time.Since(w.gapSince) > 2*m.cfg.AckWait {
		var e logEvent
		_ = json.Unmarshal(head.Data(), &e)
		m.logger.Warn("events before the next one never came; going on", "subscription", w.id, "cursor", w.cursor, "next", e.Number)
		w.cursor = e.Number - 1
		w.gapSince = time.Time{}
		return 0
	}
	d.wait(ctx, 50*time.Millisecond)
	return 0
}

// wait pauses before a retry of a failed read.
func (d *deliverer) wait(ctx context.Context, dur time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(dur):
	}
}

// current returns the subscription as it is now: the index, or the store
// when the index has not yet seen the status this worker set.
func (d *deliverer) current(ctx context.Context, w *worker) (*Subscription, error) {
	s, ok := d.m.idx.get(w.id)
	if ok && (s.Status == StatusActive || s.Status == StatusOff) {
		return s, nil
	}
	r, err := d.m.svc.Store.Read(ctx, "Subscription", w.id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err = d.m.parse.parse(r.Body)
	if err != nil {
		return nil, nil
	}
	s.ID, s.Version = w.id, r.VersionID
	return s, nil
}

// send delivers events to s (or records why not) and reports whether the
// events are handled; false when they must be tried again.
func (d *deliverer) send(ctx context.Context, w *worker, s *Subscription, events []logEvent) bool {
	m := d.m
	last := events[len(events)-1].Number
	// A notification under way is finished, and its cursor saved, even
	// when the node is shutting down: stopping in between would have the
	// node that takes over send it again.
	detached := context.WithoutCancel(ctx)
	advance := func() bool {
		w.cursor = last
		if err := m.log.saveCursor(detached, ChannelRestHook, w.id, last); err != nil {
			m.logger.Warn("save delivery cursor", "subscription", w.id, "error", err)
		}
		return true
	}
	numbers := func(es []logEvent) []int64 {
		out := make([]int64, len(es))
		for i, e := range es {
			out[i] = e.Number
		}
		return out
	}
	switch {
	case s == nil, s.Channel != ChannelRestHook, s.Status == StatusOff:
		// Deleted, websocket (served from the log), or switched off: the
		// events stay in the log for $events.
		return advance()
	case s.Status == StatusError || (s.Status == StatusRequested && w.handshook < s.Version):
		d.deadLetter(ctx, DeadLetter{Subscription: s.ID, Events: numbers(events), Kind: TypeEvent,
			Reason: "the subscription is in status " + s.Status + ": " + s.Error})
		return advance()
	}
	start := m.clock.Now()
	pending := events
	for attempt := 1; ; attempt++ {
		// The grant is checked before every attempt: access withdrawn
		// during an outage stops the notification.
		bodies, allowed, denied, err := d.resources(ctx, s, pending)
		if err != nil {
			m.logger.Warn("read notification resources", "subscription", s.ID, "error", err)
			d.wait(ctx, time.Second)
			return false
		}
		if len(denied) > 0 {
			d.deadLetter(ctx, DeadLetter{Subscription: s.ID, Events: numbers(denied), Kind: TypeEvent,
				Reason: "the subscriber's grant does not allow reading the resource at send time"})
		}
		if len(allowed) == 0 {
			return advance()
		}
		pending = allowed
		body, err := m.notification(statusInfo{Sub: s, Status: StatusActive, Type: TypeEvent, EventsSince: last}, allowed, s.Content, bodies)
		if err != nil {
			m.logger.Error("build notification", "subscription", s.ID, "error", err)
			return advance()
		}
		if ctx.Err() != nil {
			return false
		}
		err = d.post(detached, s, body)
		if err == nil {
			w.lastSent = m.clock.Now()
			return advance()
		}
		if ctx.Err() != nil {
			return false
		}
		wait := backoff(m.cfg.Retry, attempt)
		if m.clock.Now().Add(wait).Sub(start) > m.cfg.Retry.GiveUpAfter {
			reason := fmt.Sprintf("delivery failed %d times over %s: %v", attempt, m.clock.Now().Sub(start).Round(time.Second), err)
			d.deadLetter(ctx, DeadLetter{Subscription: s.ID, Events: numbers(allowed), Kind: TypeEvent, Reason: reason, Attempts: attempt})
			if _, err := m.setStatus(ctx, s.ID, []string{StatusActive, StatusRequested}, StatusError, reason); err != nil {
				m.logger.Error("set subscription status error", "subscription", s.ID, "error", err)
			}
			return advance()
		}
		m.logger.Info("rest-hook delivery failed; retrying", "subscription", s.ID, "attempt", attempt, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-m.clock.After(wait):
		}
	}
}

// backoff is the pause before retry attempt+1: Initial doubling per
// attempt up to Max, jittered to between half and all of it.
func backoff(r Retry, attempt int) time.Duration {
	d := min(r.Initial<<min(attempt-1, 30), r.Max)
	if d <= 0 {
		d = r.Max
	}
	return d/2 + rand.N(d/2+1)
}

// resources reads the events' resources (for full-resource payloads and
// for the send-time authorization check) and splits the events into those
// the subscriber may read and those it may not.
func (d *deliverer) resources(ctx context.Context, s *Subscription, events []logEvent) (bodies map[string][]byte, allowed, denied []logEvent, err error) {
	m := d.m
	bodies = map[string][]byte{}
	if s.Content != ContentFull && (m.cfg.Authorizer == nil || s.Grant == nil) {
		return bodies, events, nil, nil // nothing to read: everything is visible
	}
	for _, e := range events {
		r, err := m.svc.Store.VRead(ctx, e.Type, e.ID, e.VersionID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil, err
		}
		ok := true
		if err == nil {
			if ok, err = m.mayRead(ctx, s, r); err != nil {
				return nil, nil, nil, err
			}
		}
		if !ok {
			denied = append(denied, e)
			continue
		}
		allowed = append(allowed, e)
		if s.Content == ContentFull && r.Body != nil {
			bodies[e.identity()] = r.Body
		}
		if s.Content == ContentFull {
			for _, c := range e.Context {
				typ, id, _ := strings.Cut(c, "/")
				if cr, err := m.svc.Store.Read(ctx, typ, id); err == nil && !cr.Deleted {
					if ok, _ := m.mayRead(ctx, s, cr); ok {
						bodies[c] = cr.Body
					}
				}
			}
		}
	}
	return bodies, allowed, denied, nil
}

// post sends one notification and returns nil on a 2xx answer.
func (d *deliverer) post(ctx context.Context, s *Subscription, body []byte) error {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.sem }()
	timeout := d.m.cfg.DefaultTimeout
	if s.Timeout > 0 {
		timeout = s.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ct := s.Payload
	if ct == "" {
		ct = "application/fhir+json"
	}
	req.Header.Set("Content-Type", ct)
	for _, h := range s.Headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := d.m.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST to the endpoint: %w", errors.Unwrap(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// handshake sends the handshake of version v and activates the
// subscription (or puts it in error). It returns false when it must be
// tried again.
func (d *deliverer) handshake(ctx context.Context, w *worker, v int64) bool {
	m := d.m
	s, err := d.current(ctx, w)
	if err != nil {
		d.wait(ctx, time.Second)
		return false
	}
	if s == nil || s.Version != v || s.Status != StatusRequested || s.Channel != ChannelRestHook {
		return true // superseded: a newer version has its own handshake
	}
	since, err := m.log.count(ctx, s.ID)
	if err != nil {
		d.wait(ctx, time.Second)
		return false
	}
	body, err := m.notification(statusInfo{Sub: s, Status: StatusRequested, Type: TypeHandshake, EventsSince: since}, nil, ContentEmpty, nil)
	if err != nil {
		return true
	}
	var last error
	for attempt := 1; attempt <= m.cfg.Retry.HandshakeAttempts; attempt++ {
		if last = d.post(ctx, s, body); last == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt < m.cfg.Retry.HandshakeAttempts {
			select {
			case <-ctx.Done():
				return false
			case <-m.clock.After(backoff(m.cfg.Retry, attempt)):
			}
		}
	}
	if last != nil {
		reason := "handshake failed: " + last.Error()
		d.deadLetter(ctx, DeadLetter{Subscription: s.ID, Kind: TypeHandshake, Reason: reason, Attempts: m.cfg.Retry.HandshakeAttempts})
		if _, err := m.setStatus(ctx, s.ID, []string{StatusRequested}, StatusError, reason); err != nil {
			m.logger.Error("set subscription status error", "subscription", s.ID, "error", err)
		}
		return true
	}
	w.handshook, w.lastSent = v, m.clock.Now()
	if _, err := m.setStatus(ctx, s.ID, []string{StatusRequested}, StatusActive, ""); err != nil {
		m.logger.Error("activate subscription", "subscription", s.ID, "error", err)
	}
	return true
}

// heartbeat sends a heartbeat unless something was sent within the
// period. One try: a missed heartbeat is not an error.
func (d *deliverer) heartbeat(ctx context.Context, w *worker) {
	m := d.m
	s, ok := m.idx.get(w.id)
	if !ok || s.Status != StatusActive || s.Heartbeat <= 0 || s.Channel != ChannelRestHook {
		return
	}
	if m.clock.Now().Sub(w.lastSent) < s.Heartbeat*9/10 {
		return
	}
	since, err := m.log.count(ctx, s.ID)
	if err != nil {
		return
	}
	body, err := m.notification(statusInfo{Sub: s, Status: StatusActive, Type: TypeHeartbeat, EventsSince: since}, nil, ContentEmpty, nil)
	if err != nil {
		return
	}
	if err := d.post(ctx, s, body); err != nil {
		m.logger.Info("heartbeat not delivered", "subscription", s.ID, "error", err)
		return
	}
	w.lastSent = m.clock.Now()
}

func (d *deliverer) deadLetter(ctx context.Context, dl DeadLetter) {
	dl.At = d.m.clock.Now().UTC()
	if err := d.m.log.deadLetter(ctx, dl); err != nil {
		d.m.logger.Error("dead-letter record not written", "subscription", dl.Subscription, "error", err)
		return
	}
	d.m.logger.Warn("notification dead-lettered", "subscription", dl.Subscription, "events", len(dl.Events), "reason", dl.Reason)
}

// schedule requests heartbeats and switches off subscriptions whose end
// has passed. Every node runs it; the control messages' ids make a
// heartbeat request count once whichever nodes send it.
func (m *Manager) schedule(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Scan)
	defer t.Stop()
	requested := map[string]int64{} // the heartbeat slot last requested, per subscription
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := m.clock.Now()
		all := m.idx.all()
		if len(requested) > len(all) {
			clear(requested) // subscriptions went away; a repeated request is dropped as a duplicate
		}
		for _, s := range all {
			switch {
			case !s.End.IsZero() && !now.Before(s.End) && s.Status != StatusOff:
				if _, err := m.setStatus(ctx, s.ID, []string{StatusRequested, StatusActive, StatusError}, StatusOff, ""); err != nil {
					m.logger.Warn("end subscription", "subscription", s.ID, "error", err)
				}
			case s.Status == StatusActive && s.Channel == ChannelRestHook && s.Heartbeat > 0:
				slot := now.UnixNano() / int64(s.Heartbeat)
				if requested[s.ID] == slot {
					continue
				}
				if err := m.log.publishControl(ctx, s.ID, control{Kind: "heartbeat"}, fmt.Sprintf("hb|%s|%d", s.ID, slot)); err != nil {
					m.logger.Warn("request heartbeat", "subscription", s.ID, "error", err)
					continue
				}
				requested[s.ID] = slot
			}
		}
	}
}

// DeadLetters returns the dead-letter records of a subscription.
func (m *Manager) DeadLetters(ctx context.Context, id string) ([]DeadLetter, error) {
	return m.log.deadLetters(ctx, id)
}

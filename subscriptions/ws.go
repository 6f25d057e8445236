package subscriptions

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/fhir/store"
)

// Websocket channel: a client binds subscriptions on a connection, with
// the Backport IG's "bind-with-token <token>" (a token from
// $get-ws-binding-token; the server answers each subscription with a
// handshake Bundle, then sends event-notification and heartbeat Bundles)
// or R4's "bind <id>" (answered "bound <id>", then "ping <id>" per event;
// only for subscriptions made without authorization). On binding, the
// events the subscription's websocket clients have not been sent yet are
// replayed first. There are no client acknowledgements.

// wsSendBuffer bounds what one connection may fall behind the live feed;
// a client slower than that is disconnected and catches up by replay when
// it reconnects.
const wsSendBuffer = 1024

// hub fans the live event feed out to this node's websocket connections.
type hub struct {
	m     *Manager
	mu    sync.Mutex
	conns map[string]map[*wsConn]bool // by subscription id
	// saved is the highest event number recorded as sent per
	// subscription, to write the cursor once per event.
	saved map[string]int64
	ready chan struct{}
	// built caches the notification of one event for the many clients
	// bound to its subscription (bounded: see notificationFor).
	built map[builtKey][]byte
}

type builtKey struct {
	id     string
	number int64
}

func newHub(m *Manager) *hub {
	return &hub{m: m, conns: map[string]map[*wsConn]bool{}, saved: map[string]int64{}, ready: make(chan struct{}), built: map[builtKey][]byte{}}
}

// run follows every subscription's new events and hands them to the
// connections bound to it.
func (h *hub) run(ctx context.Context) error {
	c, err := h.m.cfg.JS.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"subs.ev.*.*"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("subscriptions: websocket feed: %w", err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("subscriptions: websocket feed: %w", err)
	}
	close(h.ready)
	return each(ctx, it, h.m.logger, func(msg jetstream.Msg) error {
		id := subjectID(msg.Subject())
		var e logEvent
		if json.Unmarshal(msg.Data(), &e) != nil {
			return nil
		}
		h.mu.Lock()
		for c := range h.conns[id] {
			select {
			case c.live <- liveEvent{id: id, e: e}:
			default:
				c.overflow()
			}
		}
		h.mu.Unlock()
		return nil
	})
}

func (h *hub) add(id string, c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[id] == nil {
		h.conns[id] = map[*wsConn]bool{}
	}
	h.conns[id][c] = true
}

func (h *hub) remove(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, cs := range h.conns {
		delete(cs, c)
		if len(cs) == 0 {
			delete(h.conns, id)
		}
	}
}

// sent records that event n of id went out on a websocket, saving the
// replay cursor when it moves forward.
func (h *hub) sent(ctx context.Context, id string, n int64) {
	h.mu.Lock()
	if n <= h.saved[id] {
		h.mu.Unlock()
		return
	}
	h.saved[id] = n
	h.mu.Unlock()
	if err := h.m.log.saveCursor(ctx, ChannelWebsocket, id, n); err != nil {
		h.m.logger.Warn("save websocket cursor", "subscription", id, "error", err)
	}
}

// notificationFor returns the event-notification of one event of s,
// building it once for all the clients bound to s.
func (h *hub) notificationFor(s *Subscription, e logEvent, bodies map[string][]byte) ([]byte, error) {
	k := builtKey{s.ID, e.Number}
	h.mu.Lock()
	b, ok := h.built[k]
	h.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := h.m.notification(statusInfo{Sub: s, Status: StatusActive, Type: TypeEvent, EventsSince: e.Number}, []logEvent{e}, s.Content, bodies)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if len(h.built) >= 256 {
		clear(h.built)
	}
	h.built[k] = b
	h.mu.Unlock()
	return b, nil
}

type liveEvent struct {
	id string
	e  logEvent
}

type binding struct {
	sub      *Subscription
	r4       bool // bound with "bind <id>": pings, not Bundles
	last     int64
	lastSent time.Time
}

type wsConn struct {
	m        *Manager
	c        *websocket.Conn
	live     chan liveEvent
	commands chan string
	once     sync.Once
	dead     chan struct{}
	bound    map[string]*binding
}

func (c *wsConn) overflow() {
	c.once.Do(func() { close(c.dead) })
}

// ServeWebsocket is the websocket channel endpoint.
func (m *Manager) ServeWebsocket(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	c := &wsConn{m: m, c: conn, live: make(chan liveEvent, wsSendBuffer), commands: make(chan string, 16), dead: make(chan struct{}), bound: map[string]*binding{}}
	defer m.hub.remove(c)
	go func() {
		defer cancel()
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			select {
			case c.commands <- strings.TrimSpace(string(data)):
			case <-ctx.Done():
				return
			}
		}
	}()
	err = c.serve(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		m.logger.Info("websocket closed", "error", err)
		_ = conn.Close(websocket.StatusPolicyViolation, "closing: "+truncateReason(err.Error()))
		return
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
}

func truncateReason(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

func (c *wsConn) serve(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.dead:
			return errors.New("the client fell too far behind; reconnect to replay")
		case cmd := <-c.commands:
			if err := c.command(ctx, cmd); err != nil {
				return err
			}
		case le := <-c.live:
			if b := c.bound[le.id]; b != nil && le.e.Number > b.last {
				if err := c.send(ctx, b, []logEvent{le.e}); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := c.heartbeats(ctx); err != nil {
				return err
			}
		}
	}
}

func (c *wsConn) write(ctx context.Context, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.c.Write(wctx, websocket.MessageText, data)
}

func (c *wsConn) command(ctx context.Context, cmd string) error {
	verb, arg, _ := strings.Cut(cmd, " ")
	arg = strings.TrimSpace(arg)
	var ids []string
	r4 := false
	switch verb {
	case "bind-with-token":
		var err error
		if ids, err = c.m.verifyToken(ctx, arg); err != nil {
			return c.write(ctx, []byte("error "+err.Error()))
		}
	case "bind":
		ids, r4 = []string{arg}, true
	default:
		return c.write(ctx, []byte("error unknown command; send bind-with-token <token> or bind <id>"))
	}
	for _, id := range ids {
		if err := c.bind(ctx, id, r4); err != nil {
			return err
		}
	}
	return nil
}

// bind answers the binding of one subscription, then replays what its
// websocket clients have not been sent.
func (c *wsConn) bind(ctx context.Context, id string, r4 bool) error {
	m := c.m
	s, err := m.fresh(ctx, id)
	switch {
	case err != nil:
		return err
	case s == nil || s.Channel != ChannelWebsocket:
		return c.write(ctx, []byte("error "+id+" is not a websocket subscription on this server"))
	case r4 && s.Grant != nil && m.cfg.Authorizer != nil:
		return c.write(ctx, []byte("error "+id+" needs bind-with-token"))
	case s.Status == StatusOff || s.Status == StatusError:
		return c.write(ctx, []byte("error "+id+" is "+s.Status))
	}
	cursor, err := m.log.loadCursor(ctx, ChannelWebsocket, id)
	if err != nil {
		return err
	}
	b := &binding{sub: s, r4: r4, last: cursor, lastSent: m.clock.Now()}
	c.bound[id] = b
	<-m.hub.ready
	m.hub.add(id, c) // live events queue while the replay runs
	if r4 {
		if err := c.write(ctx, []byte("bound "+id)); err != nil {
			return err
		}
	} else {
		since, err := m.log.count(ctx, id)
		if err != nil {
			return err
		}
		hs, err := m.notification(statusInfo{Sub: s, Status: StatusActive, Type: TypeHandshake, EventsSince: since}, nil, ContentEmpty, nil)
		if err != nil {
			return err
		}
		if err := c.write(ctx, hs); err != nil {
			return err
		}
	}
	for {
		events, err := m.log.read(ctx, id, b.last+1, 0, max(s.MaxCount, 100))
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		for i := 0; i < len(events); i += s.MaxCount {
			if err := c.send(ctx, b, events[i:min(i+s.MaxCount, len(events))]); err != nil {
				return err
			}
		}
	}
}

// send delivers events of one binding (authorized at send time).
func (c *wsConn) send(ctx context.Context, b *binding, events []logEvent) error {
	m := c.m
	s := b.sub
	last := events[len(events)-1].Number
	bodies, allowed, _, err := (&deliverer{m: m}).resources(ctx, s, events)
	if err != nil {
		return err
	}
	b.last = last
	if len(allowed) > 0 {
		var data []byte
		switch {
		case b.r4:
			data = []byte("ping " + s.ID)
		case len(allowed) == 1 && (m.cfg.Authorizer == nil || s.Grant == nil):
			// Every client of s sees the same: build it once.
			if data, err = m.hub.notificationFor(s, allowed[0], bodies); err != nil {
				return err
			}
		default:
			if data, err = m.notification(statusInfo{Sub: s, Status: StatusActive, Type: TypeEvent, EventsSince: last}, allowed, s.Content, bodies); err != nil {
				return err
			}
		}
		if err := c.write(ctx, data); err != nil {
			return err
		}
		b.lastSent = m.clock.Now()
	}
	m.hub.sent(ctx, s.ID, last)
	return nil
}

func (c *wsConn) heartbeats(ctx context.Context) error {
	now := c.m.clock.Now()
	for _, b := range c.bound {
		if b.r4 || b.sub.Heartbeat <= 0 || now.Sub(b.lastSent) < b.sub.Heartbeat {
			continue
		}
		hb, err := c.m.notification(statusInfo{Sub: b.sub, Status: StatusActive, Type: TypeHeartbeat, EventsSince: b.last}, nil, ContentEmpty, nil)
		if err != nil {
			return err
		}
		if err := c.write(ctx, hb); err != nil {
			return err
		}
		b.lastSent = now
	}
	return nil
}

// fresh reads subscription id from the store; nil when it does not exist.
func (m *Manager) fresh(ctx context.Context, id string) (*Subscription, error) {
	r, err := m.svc.Store.Read(ctx, "Subscription", id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := m.parse.parse(r.Body)
	if err != nil {
		return nil, nil
	}
	s.ID, s.Version = id, r.VersionID
	return s, nil
}

// Binding tokens: base64url(JSON claims) "." base64url(HMAC-SHA256), with
// a key shared by every node through the config bucket.

// TokenLifetime is how long a websocket binding token is valid.
const TokenLifetime = 5 * time.Minute

type tokenClaims struct {
	IDs []string `json:"ids"`
	Exp int64    `json:"exp"`
}

func (m *Manager) tokenKey(ctx context.Context) ([]byte, error) {
	const k = "ws-binding-key"
	if e, err := m.log.config.Get(ctx, k); err == nil {
		return e.Value(), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := m.log.config.Create(ctx, k, key); err != nil {
		if e, gerr := m.log.config.Get(ctx, k); gerr == nil {
			return e.Value(), nil // another node made it first
		}
		return nil, err
	}
	return key, nil
}

func (m *Manager) issueToken(ctx context.Context, ids []string) (string, time.Time, error) {
	key, err := m.tokenKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := m.clock.Now().Add(TokenLifetime).Truncate(time.Second)
	return signToken(key, ids, exp), exp, nil
}

func (m *Manager) verifyToken(ctx context.Context, tok string) ([]string, error) {
	key, err := m.tokenKey(ctx)
	if err != nil {
		return nil, errors.New("binding tokens are unavailable")
	}
	return checkToken(key, tok, m.clock.Now())
}

func signToken(key []byte, ids []string, exp time.Time) string {
	claims, _ := json.Marshal(tokenClaims{IDs: ids, Exp: exp.Unix()})
	mac := hmac.New(sha256.New, key)
	mac.Write(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(claims) + "." + enc.EncodeToString(mac.Sum(nil))
}

// checkToken returns the subscription ids of a token signed with key and
// not expired at now.
func checkToken(key []byte, tok string, now time.Time) ([]string, error) {
	enc := base64.RawURLEncoding
	c, sig, ok := strings.Cut(tok, ".")
	claims, err1 := enc.DecodeString(c)
	got, err2 := enc.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return nil, errors.New("malformed binding token")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(claims)
	if !hmac.Equal(mac.Sum(nil), got) {
		return nil, errors.New("invalid binding token")
	}
	var tc tokenClaims
	if json.Unmarshal(claims, &tc) != nil || len(tc.IDs) == 0 || slices.Contains(tc.IDs, "") {
		return nil, errors.New("invalid binding token")
	}
	if now.Unix() > tc.Exp {
		return nil, errors.New("the binding token has expired; ask $get-ws-binding-token for a new one")
	}
	return tc.IDs, nil
}

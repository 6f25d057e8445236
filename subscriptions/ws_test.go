package subscriptions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telefhir/telefhir/subscriptions"
)

// wsClient is a websocket channel client.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func (n *node) bindingToken(id string) (token, wsURL string) {
	n.t.Helper()
	code, out := n.do(http.MethodPost, "/Subscription/"+id+"/$get-ws-binding-token", nil)
	if code != http.StatusOK {
		n.t.Fatalf("$get-ws-binding-token: %d %v", code, out)
	}
	for _, p := range out["parameter"].([]any) {
		pm := p.(map[string]any)
		switch pm["name"] {
		case "token":
			token = pm["valueString"].(string)
		case "websocket-url":
			wsURL = pm["valueUrl"].(string)
		}
	}
	if token == "" || !strings.HasPrefix(wsURL, "ws://") {
		n.t.Fatalf("$get-ws-binding-token answered %v", out)
	}
	return token, wsURL
}

func dial(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(msg string) {
	w.t.Helper()
	if err := w.c.Write(w.t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

func (w *wsClient) read() string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 15*time.Second)
	defer cancel()
	_, data, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	return string(data)
}

// readBundle reads the next notification Bundle, skipping heartbeats.
func (w *wsClient) readBundle() notification {
	w.t.Helper()
	for {
		msg := w.read()
		var b map[string]any
		if err := json.Unmarshal([]byte(msg), &b); err != nil {
			w.t.Fatalf("websocket message %q is not a Bundle", msg)
		}
		if nt := (notification{Bundle: b}); nt.kind() != subscriptions.TypeHeartbeat {
			return nt
		}
	}
}

// readEvents reads notifications until it has n event numbers.
func (w *wsClient) readEvents(n int) []int64 {
	w.t.Helper()
	var out []int64
	for len(out) < n {
		nt := w.readBundle()
		if nt.kind() != subscriptions.TypeEvent {
			w.t.Fatalf("got a %s notification, want event-notification", nt.kind())
		}
		nums, _ := nt.events()
		out = append(out, nums...)
	}
	return out
}

// TestWebsocketBindReconnectReplay: a client binds with a token, gets the
// handshake and live events; what it misses while disconnected is replayed
// when it binds again, before live events resume.
func TestWebsocketBindReconnectReplay(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	id := n.create("Subscription", subSpec{criteria: topicObsNew, channel: "websocket", content: subscriptions.ContentIDOnly}.json())
	n.waitStatus(id, subscriptions.StatusActive)

	tok, url := n.bindingToken(id)
	c := dial(t, url)
	c.send("bind-with-token " + tok)
	if hs := c.readBundle(); hs.kind() != subscriptions.TypeHandshake || !strings.HasSuffix(hs.param("subscription"), "/Subscription/"+id) {
		t.Fatalf("first message: %s for %s, want the handshake", hs.kind(), hs.param("subscription"))
	}
	n.create("Observation", observation("p1", heartRate, 70))
	wantNumbers(t, "live", c.readEvents(1), []int64{1})
	_ = c.c.Close(websocket.StatusNormalClosure, "")

	for i := range 3 {
		n.create("Observation", observation("p1", heartRate, float64(71+i)))
	}
	waitFor(t, "4 events logged", 10*time.Second, func() bool { return n.eventsSince(id) == 4 })
	tok, url = n.bindingToken(id)
	c = dial(t, url)
	c.send("bind-with-token " + tok)
	if hs := c.readBundle(); hs.kind() != subscriptions.TypeHandshake || hs.param("events-since-subscription-start") != "4" {
		t.Fatalf("handshake on reconnect: %s, events-since %s", hs.kind(), hs.param("events-since-subscription-start"))
	}
	wantNumbers(t, "replayed", c.readEvents(3), []int64{2, 3, 4})
	n.create("Observation", observation("p1", heartRate, 80))
	wantNumbers(t, "live after replay", c.readEvents(1), []int64{5})

	// R4 binding: bound, then a ping per event.
	r4 := dial(t, url)
	r4.send("bind " + id)
	if got := r4.read(); got != "bound "+id {
		t.Fatalf("R4 bind answered %q", got)
	}
	n.create("Observation", observation("p1", heartRate, 81))
	if got := r4.read(); got != "ping "+id {
		t.Errorf("R4 event message %q, want ping %s", got, id)
	}
	wantNumbers(t, "second client", c.readEvents(1), []int64{6})

	bad := dial(t, url)
	bad.send("bind-with-token " + tok[:len(tok)-4] + "AAAA")
	if got := bad.read(); !strings.HasPrefix(got, "error ") {
		t.Errorf("a forged token was answered %q", got)
	}
}

// TestBindingTokenRefusedForRestHook: tokens are only for websocket
// subscriptions.
func TestBindingTokenRefusedForRestHook(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL}.json())
	if code, out := n.do(http.MethodPost, "/Subscription/"+id+"/$get-ws-binding-token", nil); code != http.StatusBadRequest {
		t.Errorf("$get-ws-binding-token on a rest-hook subscription: %d %v", code, out)
	}
	if code, _ := n.do(http.MethodGet, "/Subscription/nope/$status", nil); code != http.StatusNotFound {
		t.Errorf("$status of an unknown subscription: %d, want 404", code)
	}
}

package subscriptions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/subscriptions"
)

// latencyReceiver records when each focus arrives.
type latencyReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	arrived map[string]time.Time
}

func newLatencyReceiver(b *testing.B) *latencyReceiver {
	r := &latencyReceiver{arrived: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		data, _ := io.ReadAll(req.Body)
		var nt notification
		_ = json.Unmarshal(data, &nt.Bundle)
		_, focus := nt.events()
		r.mu.Lock()
		for _, f := range focus {
			r.arrived[f[strings.LastIndexByte(f, '/')+1:]] = now
		}
		r.mu.Unlock()
	}))
	b.Cleanup(r.srv.Close)
	return r
}

// BenchmarkRestHookLatency measures commit → rest-hook receipt with 100
// active subscriptions (one per patient) while 1,000 matching changes a
// second commit, for 3 seconds: each iteration runs the
// whole scenario, so use -benchtime 1x. BENCH_SUBS_RATE and
// BENCH_SUBS_SECONDS change the rate and the duration. Changes are committed straight
// through the store (the resources prepared beforehand) so that the
// measured path is the one subscriptions own: outbox, relay, change
// stream, matcher, event log, delivery, HTTP.
func BenchmarkRestHookLatency(b *testing.B) {
	rate, secs := 1000, 3
	if v, err := strconv.Atoi(os.Getenv("BENCH_SUBS_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_SUBS_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for range b.N {
		runLatency(b, rate, time.Duration(secs)*time.Second)
	}
}

func runLatency(b *testing.B, rate int, dur time.Duration) {
	n := startNode(b, openSQLite(b), newNATS(b), nodeOptions{})
	r := newLatencyReceiver(b)
	const subs = 100
	var ids []string
	for p := range subs {
		ids = append(ids, n.create("Subscription", subSpec{
			criteria: topicObsNew, filters: []string{fmt.Sprintf("Observation?patient=Patient/p%d", p)},
			endpoint: r.srv.URL, content: subscriptions.ContentIDOnly, maxCount: 10,
		}.json()))
	}
	for _, id := range ids {
		n.waitStatus(id, subscriptions.StatusActive)
	}
	total := int(dur.Seconds() * float64(rate))
	versions := make([]store.Resource, total)
	for i := range versions {
		id := fmt.Sprintf("o%06d", i)
		body := strings.Replace(observation(fmt.Sprintf("p%d", i%subs), heartRate, 72), `{"resourceType":"Observation",`, `{"resourceType":"Observation","id":"`+id+`",`, 1)
		x, err := n.svc.Registry.ExtractJSON("Observation", []byte(body))
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = store.Resource{Type: "Observation", ID: id, VersionID: 1, Method: "POST", Body: []byte(body), Index: x}
	}
	committed := make([]time.Time, total)
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	var next atomic.Int64
	// Writers commit on the ticker; several, so that one slow commit does
	// not hold the rate down.
	work := make(chan struct{}, rate)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				i := next.Add(1) - 1
				v := versions[i]
				v.LastUpdated = time.Now().UTC()
				if err := n.svc.Store.Write(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, v) }); err != nil {
					b.Error(err)
					return
				}
				committed[i] = time.Now()
			}
		}()
	}
	for range total {
		<-tick.C
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.arrived)
		r.mu.Unlock()
		if got >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := make([]float64, 0, total)
	for i, v := range versions {
		if a, ok := r.arrived[v.ID]; ok {
			lat = append(lat, float64(a.Sub(committed[i]).Microseconds())/1000)
		}
	}
	if len(lat) != total {
		b.Fatalf("%d of %d events delivered", len(lat), total)
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "commits/s")
}

// BenchmarkWebsocketFanout measures one event reaching 1,000 websocket
// clients bound to one subscription: from the commit to the last client's
// receipt.
func BenchmarkWebsocketFanout(b *testing.B) {
	n := startNode(b, openSQLite(b), newNATS(b), nodeOptions{})
	id := n.create("Subscription", subSpec{criteria: topicObsNew, channel: "websocket", content: subscriptions.ContentIDOnly}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	tok, url := n.bindingToken(id)
	const clients = 1000
	var received sync.WaitGroup
	var failed atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{}})
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		c.SetReadLimit(1 << 20)
		conns[i] = c
		if err := c.Write(ctx, websocket.MessageText, []byte("bind-with-token "+tok)); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil { // the handshake
			b.Fatal(err)
		}
	}
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}()
	events := make(chan struct{}, clients)
	for _, c := range conns {
		go func() {
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				if !strings.Contains(string(data), `"event-notification"`) {
					failed.Add(1)
				}
				events <- struct{}{}
			}
		}()
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		received.Add(clients)
		start := time.Now()
		n.create("Observation", observation("p1", heartRate, float64(i)))
		for range clients {
			<-events
			received.Done()
		}
		total += time.Since(start)
	}
	received.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d messages were not event notifications", failed.Load())
	}
}

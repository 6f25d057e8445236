package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/telefhir/telefhir/events/eventstest"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite/sqlitetest"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

func write(t *testing.T, s store.Store, id string) {
	t.Helper()
	r := store.Resource{
		Type: "Observation", ID: id, VersionID: 1, Method: "POST",
		LastUpdated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Body:        fmt.Appendf(nil, `{"resourceType":"Observation","id":%q}`, id),
	}
	if err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, r) }); err != nil {
		t.Errorf("write %s: %v", id, err)
	}
}

func ensure(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	if err := outbox.EnsureStream(t.Context(), js, outbox.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
}

// published reads the whole change stream and returns the count of each
// message id, failing on messages that do not decode.
func published(t *testing.T, js jetstream.JetStream) (map[string]int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, outbox.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	total := 0
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		e, err := outbox.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != e.Identity() {
			t.Errorf("message %d: Nats-Msg-Id %q, event %q", seq, got, e.Identity())
		}
		if m.Subject != outbox.Subject(e.Type) {
			t.Errorf("message %d: subject %q, want %q", seq, m.Subject, outbox.Subject(e.Type))
		}
		ids[e.Identity()]++
		total++
	}
	return ids, total
}

// waitPublished polls until the stream holds want messages.
func waitPublished(t *testing.T, js jetstream.JetStream, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := js.Stream(t.Context(), outbox.Stream)
		if err == nil {
			if info, err := st.Info(t.Context()); err == nil && info.State.Msgs >= uint64(want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reach %d messages within 30s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkExactlyOnce(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ids, total := published(t, js)
	if total != n || len(ids) != n {
		t.Errorf("stream holds %d messages with %d distinct ids, want %d of each", total, len(ids), n)
	}
	for i := range n {
		if id := fmt.Sprintf("Observation/o%d/_history/1", i); ids[id] != 1 {
			t.Errorf("%s published %d times", id, ids[id])
		}
	}
}

func startRelay(t *testing.T, r *outbox.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// TestCommitWhileRelayDown is the crash between commit and publish: writes
// commit while no relay runs (the server died before publishing); a new
// relay publishes every one of them.
func TestCommitWhileRelayDown(t *testing.T) {
	st := sqlitetest.Open(t)
	js := eventstest.Start(t).Connect(t).JetStream()
	ensure(t, js)
	const n = 60
	for i := range n {
		write(t, st, fmt.Sprintf("o%d", i))
	}
	stop := startRelay(t, &outbox.Relay{Store: st, JS: js, Batch: 16})
	defer stop()
	waitPublished(t, js, n)
	checkExactlyOnce(t, js, n)
	if n, err := st.DrainOutbox(t.Context(), 10, func(context.Context, []store.Change) error { return nil }); err != nil || n != 0 {
		t.Errorf("outbox after relaying: %d left, %v", n, err)
	}
}

// crashAfterPublish publishes a batch and then fails as if the process
// died before deleting the rows.
type crashAfterPublish struct{ store.Outbox }

var errCrash = errors.New("crashed before delete")

func (c crashAfterPublish) DrainOutbox(ctx context.Context, max int, publish func(context.Context, []store.Change) error) (int, error) {
	return c.Outbox.DrainOutbox(ctx, max, func(ctx context.Context, cs []store.Change) error {
		if err := publish(ctx, cs); err != nil {
			return err
		}
		return errCrash
	})
}

// TestRepublishIsDropped: a relay that published but died before deleting
// the rows leaves them to the next relay, whose messages JetStream drops
// as duplicates.
func TestRepublishIsDropped(t *testing.T) {
	st := sqlitetest.Open(t)
	js := eventstest.Start(t).Connect(t).JetStream()
	ensure(t, js)
	const n = 20
	for i := range n {
		write(t, st, fmt.Sprintf("o%d", i))
	}
	crashing := &outbox.Relay{Store: crashAfterPublish{st}, JS: js}
	if _, err := crashing.Drain(t.Context()); !errors.Is(err, errCrash) {
		t.Fatalf("Drain = %v, want the simulated crash", err)
	}
	waitPublished(t, js, n)
	stop := startRelay(t, &outbox.Relay{Store: st, JS: js})
	defer stop()
	waitEmpty(t, st)
	checkExactlyOnce(t, js, n)
}

func waitEmpty(t *testing.T, st store.Outbox) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := 0
		_, err := st.DrainOutbox(t.Context(), 1, func(_ context.Context, cs []store.Change) error {
			left = len(cs)
			return errors.New("only looking")
		})
		if err == nil && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox did not empty within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNATSRestartDuringBurst restarts NATS while writes commit and the
// relay publishes: every change reaches the stream exactly once.
func TestNATSRestartDuringBurst(t *testing.T) {
	st := sqlitetest.Open(t)
	ns := eventstest.Start(t)
	js := ns.Connect(t).JetStream()
	ensure(t, js)
	r := &outbox.Relay{Store: st, JS: js, Batch: 8, Poll: 20 * time.Millisecond, AckTimeout: time.Second, MaxBackoff: 200 * time.Millisecond}
	stop := startRelay(t, r)
	defer stop()
	notify := outbox.Notify(st, r)

	const n = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			write(t, notify, fmt.Sprintf("o%d", i))
			if i%10 == 0 {
				time.Sleep(time.Millisecond) // a burst spread over the restart
			}
		}
	}()
	waitPublished(t, js, n/4)
	ns.Stop()
	time.Sleep(200 * time.Millisecond) // the outage: writes go on committing meanwhile
	ns.Restart(t)
	wg.Wait()
	waitPublished(t, js, n)
	waitEmpty(t, st)
	checkExactlyOnce(t, js, n)
}

// countingOutbox counts the changes handed to successful publishes.
type countingOutbox struct {
	store.Outbox
	handed *sync.Map
}

func (c countingOutbox) DrainOutbox(ctx context.Context, max int, publish func(context.Context, []store.Change) error) (int, error) {
	return c.Outbox.DrainOutbox(ctx, max, func(ctx context.Context, cs []store.Change) error {
		if err := publish(ctx, cs); err != nil {
			return err
		}
		for _, ch := range cs {
			v, _ := c.handed.LoadOrStore(ch.Identity(), new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		}
		return nil
	})
}

// TestRelaysOnSeveralNodes runs three relays (three nodes' pools) on one
// Postgres database while writes commit through all of them: each change
// is published once, by one relay, and none is lost.
func TestRelaysOnSeveralNodes(t *testing.T) {
	url := pgtest.URL(t)
	js := eventstest.Start(t).Connect(t).JetStream()
	ensure(t, js)
	handed := &sync.Map{}
	var nodes []store.Store
	for range 3 {
		s := pgtest.OpenAt(t, url)
		r := &outbox.Relay{Store: countingOutbox{s, handed}, JS: js, Batch: 8, Poll: 20 * time.Millisecond}
		stop := startRelay(t, r)
		defer stop()
		nodes = append(nodes, outbox.Notify(s, r))
	}
	const n = 150
	var wg sync.WaitGroup
	for w, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += len(nodes) {
				write(t, node, fmt.Sprintf("o%d", i))
			}
		}()
	}
	wg.Wait()
	waitPublished(t, js, n)
	checkExactlyOnce(t, js, n)
	count := 0
	handed.Range(func(k, v any) bool {
		count++
		if got := v.(*atomic.Int32).Load(); got != 1 {
			t.Errorf("%s published by %d relays", k, got)
		}
		return true
	})
	if count != n {
		t.Errorf("%d changes published, want %d", count, n)
	}
}

// FuzzDecode: an event message decodes or is refused; nothing panics, and
// what decodes names a version.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"seq":1,"type":"Observation","id":"o","versionId":1,"lastUpdated":"2026-01-01T00:00:00Z","method":"POST","body":{"resourceType":"Observation"}}`))
	f.Add([]byte(`{"type":"Patient","id":"p","versionId":0}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := outbox.Decode(data)
		if err != nil {
			return
		}
		if e.Type == "" || e.ID == "" || e.VersionID <= 0 || e.Identity() == "" {
			t.Fatalf("decoded an event without identity: %+v", e)
		}
	})
}

package subscriptions_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/telefhir/telefhir/events/eventstest"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/subscriptions"
)

// fastFailover makes a stopped node's shared consumers move to another
// node within a second or two.
func fastFailover(noRelay bool) nodeOptions {
	return nodeOptions{noRelay: noRelay, mutate: func(c *subscriptions.Config) {
		c.AckWait = 2 * time.Second
		c.PinnedTTL = time.Second
	}}
}

// TestCrashBetweenCommitAndPublish: a server commits writes and dies
// before its relay publishes them; the next server on the same database
// delivers every one.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	st := openSQLite(t)
	js := newNATS(t)
	r := newReceiver(t)
	n := startNode(t, st, js, fastFailover(false))
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	n.stop()

	crashed := startNode(t, st, js, fastFailover(true))
	for i := range 5 {
		crashed.create("Observation", observation("p1", heartRate, float64(60+i)))
	}
	crashed.stop() // committed, never published

	if got := r.numbers(id); len(got) != 0 {
		t.Fatalf("events %v delivered before any relay ran", got)
	}
	restarted := startNode(t, st, js, fastFailover(false))
	wantNumbers(t, "after restart", r.waitEvents(t, id, 5), seq(1, 5))
	if restarted.eventsSince(id) != 5 {
		t.Errorf("events-since-subscription-start %d, want 5", restarted.eventsSince(id))
	}
}

// TestNATSRestartDuringBurst restarts NATS while writes commit and
// notifications go out: every event is delivered, once, in order.
func TestNATSRestartDuringBurst(t *testing.T) {
	ns := eventstest.Start(t)
	js := ns.Connect(t).JetStream()
	n := startNode(t, openSQLite(t), js, nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, maxCount: 10}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	const events = 60
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range events {
			n.create("Observation", observation("p1", heartRate, float64(i)))
		}
	}()
	waitFor(t, "part of the burst delivered", 20*time.Second, func() bool { return len(r.numbers(id)) >= 10 })
	ns.Restart(t)
	wg.Wait()
	wantNumbers(t, "after the NATS restart", r.waitEvents(t, id, events), seq(1, events))
}

// TestTwoNodes runs two servers on one Postgres and one NATS, writes
// through both, then stops one and goes on writing through the other:
// every event reaches every matching subscription exactly once, in order.
func TestTwoNodes(t *testing.T) {
	url := pgtest.URL(t)
	js := newNATS(t)
	nodes := []*node{startNode(t, pgtest.OpenAt(t, url), js, fastFailover(false)), startNode(t, pgtest.OpenAt(t, url), js, fastFailover(false))}
	r := newReceiver(t)
	const patients = 4
	var perPatient []string
	for p := range patients {
		perPatient = append(perPatient, nodes[p%2].create("Subscription", subSpec{
			criteria: topicObsNew, filters: []string{fmt.Sprintf("Observation?patient=Patient/p%d", p)},
			endpoint: r.srv.URL, maxCount: 3,
		}.json()))
	}
	all := nodes[1].create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, maxCount: 5}.json())
	for _, id := range append(perPatient, all) {
		nodes[0].waitStatus(id, subscriptions.StatusActive)
	}

	write := func(from, to int, through []*node) {
		var wg sync.WaitGroup
		for w, nd := range through {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < to; i += len(through) {
					nd.create("Observation", observation(fmt.Sprintf("p%d", i%patients), heartRate, float64(i)))
				}
			}()
		}
		wg.Wait()
	}
	write(0, 40, nodes)
	for p, id := range perPatient {
		wantNumbers(t, fmt.Sprintf("patient %d", p), r.waitEvents(t, id, 10), seq(1, 10))
	}
	wantNumbers(t, "all patients", r.waitEvents(t, all, 40), seq(1, 40))

	// One node goes away; the other takes over its share of the work.
	nodes[0].stop()
	write(40, 80, nodes[1:])
	for p, id := range perPatient {
		wantNumbers(t, fmt.Sprintf("patient %d after failover", p), r.waitEvents(t, id, 20), seq(1, 20))
	}
	wantNumbers(t, "all patients after failover", r.waitEvents(t, all, 80), seq(1, 80))
	for _, id := range append(perPatient, all) {
		if hs := r.of(subscriptions.TypeHandshake, id); len(hs) != 1 {
			t.Errorf("%s: %d handshakes, want 1", id, len(hs))
		}
	}
}

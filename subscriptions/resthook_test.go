package subscriptions_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/subscriptions"
)

// TestRestHookLifecycle: a topic subscription is handshaken and activated,
// then receives the matching events in order, numbered from 1 without
// gaps, with the channel's headers and the full resources; $status and
// $events agree with what was delivered.
func TestRestHookLifecycle(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{
		criteria: topicObsNew, filters: []string{"Observation?patient=Patient/p1"},
		endpoint: r.srv.URL + "/hook", content: subscriptions.ContentFull,
		headers: []string{"Authorization: Bearer receiver-secret"},
	}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	hs := r.of(subscriptions.TypeHandshake, id)
	if len(hs) != 1 {
		t.Fatalf("%d handshakes, want 1", len(hs))
	}
	if got := hs[0].param("topic"); got != topicObsNew {
		t.Errorf("handshake topic %q", got)
	}
	if got := hs[0].param("events-since-subscription-start"); got != "0" {
		t.Errorf("handshake events-since-subscription-start %q, want 0", got)
	}

	var p1 []string
	for i := range 6 {
		p1 = append(p1, n.create("Observation", observation("p1", heartRate, float64(60+i))))
		n.create("Observation", observation("p2", heartRate, 70)) // not p1's: filtered out
	}
	wantNumbers(t, "delivered", r.waitEvents(t, id, 6), seq(1, 6))
	for i, nt := range r.of(subscriptions.TypeEvent, id) {
		nums, focus := nt.events()
		if len(nums) != 1 || !strings.HasSuffix(focus[0], "/Observation/"+p1[i]) {
			t.Errorf("notification %d: events %v focus %v, want Observation/%s", i, nums, focus, p1[i])
			continue
		}
		if got := nt.param("events-since-subscription-start"); got != strconv.FormatInt(nums[0], 10) {
			t.Errorf("notification %d: events-since-subscription-start %q, want %d", i, got, nums[0])
		}
		if got := nt.Header.Get("Authorization"); got != "Bearer receiver-secret" {
			t.Errorf("notification %d: channel header Authorization = %q", i, got)
		}
		if got := nt.Header.Get("Content-Type"); got != "application/fhir+json" {
			t.Errorf("notification %d: Content-Type %q", i, got)
		}
		if nt.Bundle["type"] != "history" {
			t.Errorf("notification %d: Bundle type %v, want history", i, nt.Bundle["type"])
		}
		es := nt.entries()
		if len(es) != 1 {
			t.Fatalf("notification %d: %d entries after the status, want 1", i, len(es))
		}
		res, _ := es[0]["resource"].(map[string]any)
		if res["id"] != p1[i] || res["resourceType"] != "Observation" {
			t.Errorf("notification %d: full-resource entry %v", i, res)
		}
	}

	code, st := n.do(http.MethodGet, "/Subscription/"+id+"/$status", nil)
	if code != http.StatusOK || st["type"] != "searchset" {
		t.Fatalf("$status: %d %v", code, st)
	}
	sp := notification{Bundle: st}
	if sp.param("events-since-subscription-start") != "6" || sp.param("status") != "active" || sp.kind() != subscriptions.TypeQueryStatus {
		t.Errorf("$status parameters %v", sp.params())
	}

	code, ev := n.do(http.MethodGet, "/Subscription/"+id+"/$events?eventsSinceNumber=2&eventsUntilNumber=4&content=id-only", nil)
	if code != http.StatusOK {
		t.Fatalf("$events: %d %v", code, ev)
	}
	en := notification{Bundle: ev}
	nums, focus := en.events()
	wantNumbers(t, "$events 2..4", nums, seq(2, 4))
	if en.kind() != subscriptions.TypeQueryEvent || len(focus) != 3 || len(en.entries()) != 3 {
		t.Errorf("$events: type %s, %d focus, %d entries", en.kind(), len(focus), len(en.entries()))
	}
	for _, e := range en.entries() {
		if e["resource"] != nil {
			t.Errorf("$events content=id-only carries a resource")
		}
	}
	if code, out := n.do(http.MethodGet, "/Subscription/"+id+"/$events?eventsSinceNumber=zero", nil); code != http.StatusBadRequest {
		t.Errorf("$events with a bad number: %d %v", code, out)
	}
}

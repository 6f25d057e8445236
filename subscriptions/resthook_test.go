package subscriptions_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestPayloadLevels: the same event as empty, id-only and full-resource
// notifications, shaped as the Backport IG says.
func TestPayloadLevels(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	ids := map[string]string{}
	for _, content := range []string{subscriptions.ContentEmpty, subscriptions.ContentIDOnly, subscriptions.ContentFull} {
		ids[content] = n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, content: content}.json())
	}
	for _, id := range ids {
		n.waitStatus(id, subscriptions.StatusActive)
	}
	obs := n.create("Observation", observation("p1", heartRate, 72))
	for content, id := range ids {
		r.waitEvents(t, id, 1)
		nt := r.of(subscriptions.TypeEvent, id)[0]
		nums, focus := nt.events()
		es := nt.entries()
		switch content {
		case subscriptions.ContentEmpty:
			if len(nums) != 1 || len(focus) != 0 || len(es) != 0 {
				t.Errorf("empty: numbers %v, focus %v, %d entries; want one event, no focus, no entries", nums, focus, len(es))
			}
		case subscriptions.ContentIDOnly:
			if len(focus) != 1 || len(es) != 1 || es[0]["resource"] != nil || !strings.HasSuffix(es[0]["fullUrl"].(string), "/Observation/"+obs) {
				t.Errorf("id-only: focus %v, entries %v; want the focus's fullUrl without a resource", focus, es)
			}
			if req, _ := es[0]["request"].(map[string]any); req["method"] != "POST" || req["url"] != "Observation" {
				t.Errorf("id-only: entry request %v, want POST Observation", req)
			}
		case subscriptions.ContentFull:
			if len(es) != 1 || es[0]["resource"] == nil || es[0]["resource"].(map[string]any)["id"] != obs {
				t.Errorf("full-resource: entries %v; want the Observation", es)
			}
		}
		if p := nt.params(); len(p) == 0 || nt.Bundle["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)["url"] != n.base+"/Subscription/"+id+"/$status" {
			t.Errorf("%s: the status entry's request is not GET .../Subscription/%s/$status", content, id)
		}
	}
}

// TestCriteriaSubscription: an R4 criteria subscription receives creates
// and updates matching its search, and nothing else.
func TestCriteriaSubscription(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{
		criteria: "Observation?code=http://loinc.org|" + heartRate + "&value-quantity=gt100",
		endpoint: r.srv.URL, payload: true,
	}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	high := n.create("Observation", observation("p1", heartRate, 120))
	n.create("Observation", observation("p1", heartRate, 80))
	n.create("Observation", observation("p1", respRate, 120))
	body := strings.Replace(observation("p1", heartRate, 130), `{"resourceType":"Observation",`, `{"resourceType":"Observation","id":"`+high+`",`, 1)
	if code, out := n.do(http.MethodPut, "/Observation/"+high, body); code != http.StatusOK {
		t.Fatalf("PUT: %d %v", code, out)
	}
	if code, _ := n.do(http.MethodDelete, "/Observation/"+high, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	marker := n.create("Observation", observation("p1", heartRate, 101)) // the last event
	got := r.waitEvents(t, id, 3)
	wantNumbers(t, "criteria events", got, seq(1, 3))
	var focus []string
	for _, nt := range r.of(subscriptions.TypeEvent, id) {
		_, f := nt.events()
		focus = append(focus, f...)
		if nt.param("topic") != "" {
			t.Errorf("a criteria subscription's notification names a topic")
		}
	}
	want := []string{"/Observation/" + high, "/Observation/" + high, "/Observation/" + marker}
	for i := range want {
		if i >= len(focus) || !strings.HasSuffix(focus[i], want[i]) {
			t.Fatalf("focus %v, want %v (create, update, then the marker; no delete)", focus, want)
		}
	}
	if e := r.of(subscriptions.TypeEvent, id)[1].entries(); e[0]["request"].(map[string]any)["method"] != "PUT" {
		t.Errorf("the update's entry request is %v, want PUT", e[0]["request"])
	}
}

// TestEncounterStatusTopic: encounter-status fires on create and on status
// changes, not on other updates.
func TestEncounterStatusTopic(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: subscriptions.TopicBase + "encounter-status", filters: []string{"Encounter?patient=Patient/p1"}, endpoint: r.srv.URL, content: subscriptions.ContentFull}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	enc := func(id, status, text string) string {
		idPart := ""
		if id != "" {
			idPart = `"id":"` + id + `",`
		}
		return `{"resourceType":"Encounter",` + idPart + `"status":"` + status + `","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"VR"},"subject":{"reference":"Patient/p1"},"reasonCode":[{"text":"` + text + `"}]}`
	}
	e := n.create("Encounter", enc("", "planned", "a"))
	for _, st := range []struct{ status, text string }{{"planned", "b"}, {"arrived", "b"}, {"arrived", "c"}, {"in-progress", "c"}, {"finished", "c"}} {
		if code, out := n.do(http.MethodPut, "/Encounter/"+e, enc(e, st.status, st.text)); code != http.StatusOK {
			t.Fatalf("PUT Encounter: %d %v", code, out)
		}
	}
	wantNumbers(t, "encounter-status", r.waitEvents(t, id, 4), seq(1, 4))
	var statuses []string
	for _, nt := range r.of(subscriptions.TypeEvent, id) {
		statuses = append(statuses, nt.entries()[0]["resource"].(map[string]any)["status"].(string))
	}
	if strings.Join(statuses, ",") != "planned,arrived,in-progress,finished" {
		t.Errorf("statuses notified %v, want planned, arrived, in-progress, finished", statuses)
	}
	if n.eventsSince(id) != 4 {
		t.Errorf("events-since-subscription-start %d, want 4", n.eventsSince(id))
	}
}

// TestVitalSignAlertTopic: an alert is the focus, the Observation it
// implicates the additional context.
func TestVitalSignAlertTopic(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: subscriptions.TopicBase + "vital-sign-alert", filters: []string{"DetectedIssue?patient=Patient/p1"}, endpoint: r.srv.URL, content: subscriptions.ContentFull}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	obs := n.create("Observation", observation("p1", heartRate, 180))
	alert := n.create("DetectedIssue", `{"resourceType":"DetectedIssue","status":"final","code":{"text":"Tachycardia"},"patient":{"reference":"Patient/p1"},"implicated":[{"reference":"Observation/`+obs+`"}]}`)
	r.waitEvents(t, id, 1)
	nt := r.of(subscriptions.TypeEvent, id)[0]
	_, focus := nt.events()
	var ctx string
	for _, p := range nt.params() {
		if p["name"] == "notification-event" {
			for _, part := range p["part"].([]any) {
				if pm := part.(map[string]any); pm["name"] == "additional-context" {
					ctx = pm["valueReference"].(map[string]any)["reference"].(string)
				}
			}
		}
	}
	if len(focus) != 1 || !strings.HasSuffix(focus[0], "/DetectedIssue/"+alert) || !strings.HasSuffix(ctx, "/Observation/"+obs) {
		t.Errorf("focus %v, additional-context %q; want the alert and its Observation", focus, ctx)
	}
	if es := nt.entries(); len(es) != 2 || es[1]["resource"] == nil {
		t.Errorf("full-resource alert notification has entries %v, want the alert and the Observation", es)
	}
}

// TestMaxCountBatching: events queued behind a slow endpoint go out in
// Bundles of at most backport-max-count, in order.
func TestMaxCountBatching(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, content: subscriptions.ContentIDOnly, maxCount: 3}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	var mu sync.Mutex
	open := false
	r.setFail(func(int) bool { mu.Lock(); defer mu.Unlock(); return !open })
	for i := range 7 {
		n.create("Observation", observation("p1", heartRate, float64(60+i)))
	}
	waitFor(t, "7 events logged", 10*time.Second, func() bool { return n.eventsSince(id) == 7 })
	mu.Lock()
	open = true
	mu.Unlock()
	wantNumbers(t, "batched", r.waitEvents(t, id, 7), seq(1, 7))
	var sizes []int
	for _, nt := range r.of(subscriptions.TypeEvent, id) {
		nums, _ := nt.events()
		sizes = append(sizes, len(nums))
		if len(nt.entries()) != len(nums) {
			t.Errorf("a Bundle of %d events has %d entries", len(nums), len(nt.entries()))
		}
	}
	if len(sizes) > 3 || slices.Max(sizes) != 3 {
		t.Errorf("Bundle sizes %v, want at most 3 events each and batches of 3", sizes)
	}
}

// TestRetryThenSuccess: an endpoint failing a few times gets the event
// once it answers, exactly once, and the subscription stays active.
func TestRetryThenSuccess(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	r.setFail(func(hit int) bool { return hit >= 2 && hit <= 4 }) // hit 1 was the handshake
	n.create("Observation", observation("p1", heartRate, 72))
	wantNumbers(t, "after retries", r.waitEvents(t, id, 1), []int64{1})
	r.mu.Lock()
	hits := r.hits
	r.mu.Unlock()
	if hits != 5 {
		t.Errorf("%d requests, want the handshake, 3 failures and 1 success", hits)
	}
	if st := n.status(id); st != subscriptions.StatusActive {
		t.Errorf("status %s after a successful retry, want active", st)
	}
	if dl, err := n.m.DeadLetters(t.Context(), id); err != nil || len(dl) != 0 {
		t.Errorf("dead letters %v, %v; want none", dl, err)
	}
}

// TestRetryThenError: an endpoint that keeps failing puts the subscription
// in status error with the reason, and the notification is dead-lettered,
// as are events after it; re-requesting the subscription resumes delivery.
func TestRetryThenError(t *testing.T) {
	clock := newFastClock(3000) // a minute passes in 20ms
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{mutate: func(c *subscriptions.Config) {
		c.Clock = clock
		c.Retry = subscriptions.Retry{Initial: time.Second, Max: time.Minute, GiveUpAfter: 10 * time.Minute}
	}})
	r := newReceiver(t)
	spec := subSpec{criteria: topicObsNew, endpoint: r.srv.URL}
	id := n.create("Subscription", spec.json())
	n.waitStatus(id, subscriptions.StatusActive)
	r.setFail(func(int) bool { return true })
	n.create("Observation", observation("p1", heartRate, 72))
	n.waitStatus(id, subscriptions.StatusError)
	_, sub := n.do(http.MethodGet, "/Subscription/"+id, nil)
	if e, _ := sub["error"].(string); !strings.Contains(e, "503") {
		t.Errorf("Subscription.error = %q, want the endpoint's answer", e)
	}
	n.create("Observation", observation("p1", heartRate, 73))
	var dl []subscriptions.DeadLetter
	waitFor(t, "two dead letters", 10*time.Second, func() bool {
		dl, _ = n.m.DeadLetters(t.Context(), id)
		return len(dl) == 2
	})
	if !slices.Equal(dl[0].Events, []int64{1}) || dl[0].Attempts < 5 || !slices.Equal(dl[1].Events, []int64{2}) || !strings.Contains(dl[1].Reason, "status error") {
		t.Errorf("dead letters %+v", dl)
	}
	if n.eventsSince(id) != 2 {
		t.Errorf("events-since-subscription-start %d, want 2 (events are counted, delivered or not)", n.eventsSince(id))
	}
	// The client fixes the endpoint and asks again.
	r.setFail(nil)
	body := strings.Replace(spec.json(), `"resourceType":"Subscription",`, `"resourceType":"Subscription","id":"`+id+`",`, 1)
	if code, out := n.do(http.MethodPut, "/Subscription/"+id, body); code != http.StatusOK {
		t.Fatalf("PUT: %d %v", code, out)
	}
	n.waitStatus(id, subscriptions.StatusActive)
	n.create("Observation", observation("p1", heartRate, 74))
	wantNumbers(t, "after reactivation", r.waitEvents(t, id, 1), []int64{3})
}

// TestReceiverDownForMinutes: while the endpoint is down for five
// minutes, events keep coming; afterwards every one is delivered, in
// order, and nothing is dead-lettered.
func TestReceiverDownForMinutes(t *testing.T) {
	clock := newFastClock(600) // a minute passes in 100ms
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{mutate: func(c *subscriptions.Config) {
		c.Clock = clock
		c.Retry = subscriptions.Retry{Initial: time.Second, Max: time.Minute, GiveUpAfter: time.Hour}
	}})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, maxCount: 5}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	var mu sync.Mutex
	var downSince time.Time
	released := false
	r.setFail(func(int) bool {
		mu.Lock()
		defer mu.Unlock()
		if downSince.IsZero() {
			downSince = clock.Now()
		}
		return !released || clock.Now().Sub(downSince) < 5*time.Minute
	})
	const events = 20
	for i := range events {
		n.create("Observation", observation("p1", heartRate, float64(60+i)))
	}
	waitFor(t, "all events logged", 10*time.Second, func() bool { return n.eventsSince(id) == events })
	mu.Lock()
	released = true
	mu.Unlock()
	wantNumbers(t, "after the outage", r.waitEvents(t, id, events), seq(1, events))
	mu.Lock()
	down := clock.Now().Sub(downSince)
	mu.Unlock()
	if down < 5*time.Minute {
		t.Errorf("the endpoint was down for %s of the test clock, want 5 minutes or more", down)
	}
	if st := n.status(id); st != subscriptions.StatusActive {
		t.Errorf("status %s, want active", st)
	}
	if dl, _ := n.m.DeadLetters(t.Context(), id); len(dl) != 0 {
		t.Errorf("dead letters %+v, want none", dl)
	}
}

// TestHeartbeat: an idle subscription with a heartbeat period gets
// heartbeat notifications.
func TestHeartbeat(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, heartbeat: 1}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	waitFor(t, "two heartbeats", 10*time.Second, func() bool { return len(r.of(subscriptions.TypeHeartbeat, id)) >= 2 })
	hb := r.of(subscriptions.TypeHeartbeat, id)[0]
	if hb.param("events-since-subscription-start") != "0" || len(hb.entries()) != 0 {
		t.Errorf("heartbeat parameters %v", hb.params())
	}
}

// TestSubscriptionEnd: at Subscription.end the subscription is switched
// off and receives nothing more.
func TestSubscriptionEnd(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	end := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	id := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, end: end}.json())
	n.waitStatus(id, subscriptions.StatusActive)
	n.waitStatus(id, subscriptions.StatusOff)
	n.create("Observation", observation("p1", heartRate, 72))
	other := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL}.json())
	n.waitStatus(other, subscriptions.StatusActive)
	n.create("Observation", observation("p1", heartRate, 73))
	r.waitEvents(t, other, 1)
	if got := r.numbers(id); len(got) != 0 || n.eventsSince(id) != 0 {
		t.Errorf("a subscription past its end got events %v", got)
	}
}

// TestInvalidSubscriptions: bad Subscriptions are refused with an
// OperationOutcome naming the location, and nothing is stored.
func TestInvalidSubscriptions(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	for _, tc := range []struct {
		name string
		spec subSpec
		loc  string
	}{
		{"unknown parameter", subSpec{criteria: "Observation?nonsense=1", endpoint: "http://127.0.0.1:1/x"}, "Subscription.criteria"},
		{"not a search", subSpec{criteria: "observations please", endpoint: "http://127.0.0.1:1/x"}, "Subscription.criteria"},
		{"unknown topic", subSpec{criteria: "http://example.org/topic/x", endpoint: "http://127.0.0.1:1/x"}, "Subscription.criteria"},
		{"filter on another type", subSpec{criteria: topicObsNew, filters: []string{"Patient?name=x"}, endpoint: "http://127.0.0.1:1/x"}, "Subscription.criteria.extension[0].value"},
		{"bad filter value", subSpec{criteria: topicObsNew, filters: []string{"Observation?date=yesterday"}, endpoint: "http://127.0.0.1:1/x"}, "Subscription.criteria.extension[0].value"},
		{"plain http off loopback", subSpec{criteria: topicObsNew, endpoint: "http://example.org/hook"}, "Subscription.channel.endpoint"},
		{"no endpoint", subSpec{criteria: topicObsNew}, "Subscription.channel.endpoint"},
		{"email", subSpec{criteria: topicObsNew, channel: "email", endpoint: "mailto:a@example.org"}, "Subscription.channel.type"},
		{"bad content", subSpec{criteria: topicObsNew, endpoint: "http://127.0.0.1:1/x", content: "everything"}, "Subscription.channel.payload.extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := n.do(http.MethodPost, "/Subscription", tc.spec.json())
			if code != http.StatusBadRequest {
				t.Fatalf("POST: %d %v, want 400", code, out)
			}
			issues, _ := out["issue"].([]any)
			if len(issues) == 0 {
				t.Fatalf("no issues in %v", out)
			}
			exprs, _ := issues[0].(map[string]any)["expression"].([]any)
			if len(exprs) == 0 || exprs[0] != tc.loc {
				t.Errorf("issue %v, want expression %s", issues[0], tc.loc)
			}
		})
	}
	if code, out := n.do(http.MethodGet, "/Subscription", nil); code != http.StatusOK || out["total"] != nil && out["total"].(float64) != 0 || out["entry"] != nil {
		t.Errorf("refused Subscriptions were stored: %v", out)
	}
}

// TestMetadataAdvertisesTopics: the CapabilityStatement lists the topics
// and the operations, and the topics are readable as Basic resources.
func TestMetadataAdvertisesTopics(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	code, cs := n.do(http.MethodGet, "/metadata", nil)
	if code != http.StatusOK {
		t.Fatalf("/metadata: %d", code)
	}
	var sub map[string]any
	for _, r := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		if rm := r.(map[string]any); rm["type"] == "Subscription" {
			sub = rm
		}
	}
	var topics, ops []string
	for _, e := range sub["extension"].([]any) {
		topics = append(topics, e.(map[string]any)["valueCanonical"].(string))
	}
	for _, o := range sub["operation"].([]any) {
		ops = append(ops, o.(map[string]any)["name"].(string))
	}
	slices.Sort(topics)
	slices.Sort(ops)
	if strings.Join(topics, " ") != n.m.TopicURLs()[0]+" "+n.m.TopicURLs()[1]+" "+n.m.TopicURLs()[2] || len(topics) != 3 {
		t.Errorf("topics advertised %v", topics)
	}
	if strings.Join(ops, ",") != "events,get-ws-binding-token,status,validate" {
		t.Errorf("operations advertised %v", ops)
	}
	waitFor(t, "topics stored as Basic", 10*time.Second, func() bool {
		code, b := n.do(http.MethodGet, "/Basic/observation-created", nil)
		return code == http.StatusOK && b["code"] != nil
	})
}

// TestSubscriptionUpdates: a client cannot set active itself; an update
// that keeps the delivery keeps the subscription active without a new
// handshake, one that changes the endpoint is handshaken again; type-level
// $status reports several subscriptions.
func TestSubscriptionUpdates(t *testing.T) {
	n := startNode(t, openSQLite(t), newNATS(t), nodeOptions{})
	r := newReceiver(t)
	spec := subSpec{criteria: topicObsNew, endpoint: r.srv.URL + "/a", status: "active"}
	code, out := n.do(http.MethodPost, "/Subscription", spec.json())
	if code != http.StatusCreated || out["status"] != subscriptions.StatusRequested {
		t.Fatalf("create asking for active: %d, status %v; want 201 and requested", code, out["status"])
	}
	id := out["id"].(string)
	n.waitStatus(id, subscriptions.StatusActive)
	put := func(s subSpec) {
		t.Helper()
		body := strings.Replace(s.json(), `"resourceType":"Subscription",`, `"resourceType":"Subscription","id":"`+id+`",`, 1)
		if code, out := n.do(http.MethodPut, "/Subscription/"+id, body); code != http.StatusOK {
			t.Fatalf("PUT: %d %v", code, out)
		}
	}
	put(spec) // same delivery
	if st := n.status(id); st != subscriptions.StatusActive {
		t.Errorf("after an update keeping the delivery: status %s, want active", st)
	}
	spec.endpoint = r.srv.URL + "/b"
	put(spec)
	waitFor(t, "a second handshake", 10*time.Second, func() bool { return len(r.of(subscriptions.TypeHandshake, id)) == 2 })
	n.waitStatus(id, subscriptions.StatusActive)

	other := n.create("Subscription", subSpec{criteria: topicObsNew, endpoint: r.srv.URL, status: "off"}.json())
	code, st := n.do(http.MethodGet, "/Subscription/$status?id="+id+","+other, nil)
	if code != http.StatusOK || st["total"] != float64(2) {
		t.Fatalf("type-level $status: %d %v", code, st)
	}
	code, st = n.do(http.MethodGet, "/Subscription/$status?id="+id+","+other+"&status=off", nil)
	if code != http.StatusOK || st["total"] != float64(1) {
		t.Errorf("type-level $status filtered by status off: %d total %v, want 1", code, st["total"])
	}
	if code, _ := n.do(http.MethodGet, "/Subscription/$status", nil); code != http.StatusBadRequest {
		t.Errorf("type-level $status without id: %d, want 400", code)
	}
}

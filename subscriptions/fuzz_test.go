package subscriptions

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
)

// FuzzParse: any Subscription JSON parses or is refused with an
// OperationOutcome; nothing panics, and what parses is usable.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"Observation?code=8867-4","channel":{"type":"rest-hook","endpoint":"https://example.org/h","payload":"application/fhir+json"}}`,
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"` + TopicBase + `observation-created","_criteria":{"extension":[{"url":"` + extFilterCriteria + `","valueString":"Observation?patient=Patient/1"}]},"channel":{"type":"websocket","extension":[{"url":"` + extMaxCount + `","valuePositiveInt":5}],"_payload":{"extension":[{"url":"` + extPayloadContent + `","valueCode":"full-resource"}]}}}`,
		`{"resourceType":"Subscription","status":"off","criteria":"Encounter?status=finished&_has:Observation:encounter:code=1","end":"2026-01-01","channel":{"type":"rest-hook","endpoint":"http://127.0.0.1:9/x","header":["A: b"]}}`,
		`{"status":"active","criteria":"http://example.org/x","channel":{}}`,
		`[]`, `{}`, `{"criteria":7}`,
	} {
		f.Add([]byte(s))
	}
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		f.Fatal(err)
	}
	topics := map[string]*Topic{}
	for _, t := range Topics() {
		topics[t.URL] = t
	}
	p := &parser{reg: reg, topics: topics, allowLoopbackHTTP: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := p.parse(body)
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) || oe.Status() != 400 {
				t.Fatalf("parse error %v is not a 400 OperationOutcome", err)
			}
			return
		}
		if s.Topic == nil && len(s.Queries) != 1 || s.MaxCount < 1 || (s.Channel != ChannelRestHook && s.Channel != ChannelWebsocket) {
			t.Fatalf("parsed an unusable subscription: %+v", s)
		}
		newIndex().put("x", 1, s) // indexing what parses must not panic
	})
}

// FuzzCheckToken: only tokens signed with the key are accepted.
func FuzzCheckToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := signToken(key, []string{"a", "b"}, now.Add(time.Minute))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(signToken([]byte("another key"), []string{"a"}, now.Add(time.Minute)))
	f.Add(signToken(key, []string{"a"}, now.Add(-time.Minute)))
	f.Add("")
	f.Add(".")
	f.Fuzz(func(t *testing.T, tok string) {
		ids, err := checkToken(key, tok, now)
		if err != nil {
			return
		}
		if tok != good && tok != signToken(key, ids, now.Add(time.Minute)) {
			// Base64 without padding can decode the same bytes from a
			// different final character; the claims must still be ours.
			if !slices.Equal(ids, []string{"a", "b"}) {
				t.Fatalf("accepted a token not signed by us: %q → %v", tok, ids)
			}
		}
	})
}

package subscriptions

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

// benchIndex registers n subscriptions on observation-created the way a
// remote-monitoring deployment has them: most per patient, some per
// patient and code, 1% with criteria that no value narrows.
func benchIndex(b testing.TB, n int) (*index, *parser) {
	b.Helper()
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	topics := map[string]*Topic{}
	for _, t := range Topics() {
		topics[t.URL] = t
	}
	p := &parser{reg: reg, topics: topics, allowLoopbackHTTP: true}
	x := newIndex()
	for i := range n {
		var body string
		switch {
		case i%100 == 0:
			body = `{"resourceType":"Subscription","status":"active","reason":"b","criteria":"Observation?value-quantity=gt` + fmt.Sprint(150+i%50) + `","channel":{"type":"rest-hook","endpoint":"https://example.org/hook"}}`
		case i%10 == 0:
			body = `{"resourceType":"Subscription","status":"active","reason":"b","criteria":"` + TopicBase + `observation-created","_criteria":{"extension":[{"url":"` + extFilterCriteria + `","valueString":"Observation?patient=Patient/p` + fmt.Sprint(i) + `&code=http://loinc.org|8867-4"}]},"channel":{"type":"rest-hook","endpoint":"https://example.org/hook"}}`
		default:
			body = `{"resourceType":"Subscription","status":"active","reason":"b","criteria":"` + TopicBase + `observation-created","_criteria":{"extension":[{"url":"` + extFilterCriteria + `","valueString":"Observation?patient=Patient/p` + fmt.Sprint(i) + `"}]},"channel":{"type":"rest-hook","endpoint":"https://example.org/hook"}}`
		}
		s, err := p.parse([]byte(body))
		if err != nil {
			b.Fatal(err)
		}
		s.ID, s.Version = fmt.Sprint("s", i), 1
		x.put(s.ID, 1, s)
	}
	return x, p
}

const benchObservation = `{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p4242"},"effectiveDateTime":"2026-11-26T08:30:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// BenchmarkMatch is the matching cost of one Observation with 10,000
// subscriptions registered: the index's candidates, each evaluated
// (trigger and criteria). Index extraction, done once per change whatever
// the number of subscriptions, is measured separately.
func BenchmarkMatch(b *testing.B) {
	x, p := benchIndex(b, 10_000)
	c := benchChange(b, p, benchObservation)
	m := &Manager{}
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	matched := 0
	for b.Loop() {
		matched = 0
		for _, s := range x.candidates("Observation", c.index, now) {
			ok, err := m.matches(ctx, s, c)
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				matched++
			}
		}
	}
	if matched != 1 {
		b.Fatalf("matched %d subscriptions, want 1 (p4242's)", matched)
	}
	b.ReportMetric(float64(len(x.candidates("Observation", c.index, now))), "candidates")
}

// BenchmarkMatchUnindexed evaluates every one of the 10,000 subscriptions,
// as a matcher without the index would.
func BenchmarkMatchUnindexed(b *testing.B) {
	x, p := benchIndex(b, 10_000)
	c := benchChange(b, p, benchObservation)
	m := &Manager{}
	ctx := context.Background()
	all := x.all()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range all {
			if _, err := m.matches(ctx, s, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkExtract is the once-per-change index extraction of the same
// Observation.
func BenchmarkExtract(b *testing.B) {
	_, p := benchIndex(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.reg.ExtractJSON("Observation", []byte(benchObservation)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchChange(b testing.TB, p *parser, body string) *change {
	b.Helper()
	idx, err := p.reg.ExtractJSON("Observation", []byte(body))
	if err != nil {
		b.Fatal(err)
	}
	return &change{
		Event: &outbox.Event{Type: "Observation", ID: "o1", VersionID: 1, Method: "POST", LastUpdated: time.Now()},
		body:  []byte(body), index: idx,
	}
}

// TestIndexNarrows: the index hands a change only to the subscriptions
// its values could match, and matching through it selects exactly what
// evaluating every subscription selects.
func TestIndexNarrows(t *testing.T) {
	x, p := benchIndex(t, 1000)
	m := &Manager{}
	ctx := context.Background()
	now := time.Now()
	for _, tc := range []struct {
		patient, code string
		value         float64
		want          int
	}{
		{"p42", "8867-4", 72, 1},    // p42's per-patient subscription
		{"p40", "8867-4", 72, 1},    // p40's patient-and-code subscription
		{"p40", "9279-1", 72, 0},    // ... not for another code
		{"p500", "8867-4", 190, 10}, // the ten value-over-150 subscriptions
		{"nobody", "8867-4", 72, 0},
	} {
		body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%g,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, tc.code, tc.patient, tc.value)
		c := benchChange(t, p, body)
		match := func(subs []*Subscription) []string {
			var out []string
			for _, s := range subs {
				ok, err := m.matches(ctx, s, c)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					out = append(out, s.ID)
				}
			}
			slices.Sort(out)
			return out
		}
		cands := x.candidates("Observation", c.index, now)
		viaIndex, viaAll := match(cands), match(x.all())
		if !slices.Equal(viaIndex, viaAll) || len(viaAll) != tc.want {
			t.Errorf("%s %s %g: index selects %v, all %v; want %d", tc.patient, tc.code, tc.value, viaIndex, viaAll, tc.want)
		}
		if len(cands) > 12 {
			t.Errorf("%s: %d candidates of 1000 subscriptions; the index does not narrow", tc.patient, len(cands))
		}
	}
}

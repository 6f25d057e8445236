package fhir_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
)

func TestParseBundleTargets(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		want        fhir.Target
	}{
		{"POST", "Patient", fhir.Target{Type: "Patient"}},
		{"POST", "/Patient", fhir.Target{Type: "Patient"}},
		{"PUT", "Patient/1", fhir.Target{Type: "Patient", ID: "1"}},
		{"PUT", testBase + "/Patient/1", fhir.Target{Type: "Patient", ID: "1"}},
		{"PUT", "Patient?identifier=a|b", fhir.Target{Type: "Patient", Query: map[string][]string{"identifier": {"a|b"}}, Conditional: true}},
		{"DELETE", "Observation?code=x&subject=Patient/1", fhir.Target{Type: "Observation", Query: map[string][]string{"code": {"x"}, "subject": {"Patient/1"}}, Conditional: true}},
		{"PATCH", "Patient/1", fhir.Target{Type: "Patient", ID: "1"}},
		{"GET", "Patient/1/_history/2", fhir.Target{Type: "Patient", ID: "1", Version: "2"}},
		{"GET", "Patient/1/_history", fhir.Target{Type: "Patient", ID: "1", History: true}},
		{"GET", "Patient/_history?_count=2", fhir.Target{Type: "Patient", History: true, Query: map[string][]string{"_count": {"2"}}, Conditional: true}},
		{"GET", "_history", fhir.Target{History: true}},
		{"GET", "?_type=Patient", fhir.Target{Query: map[string][]string{"_type": {"Patient"}}, Conditional: true}},
		{"HEAD", "Patient/1/Observation?code=x", fhir.Target{Type: "Observation", Compartment: &fhir.Reference{Type: "Patient", ID: "1"}, Query: map[string][]string{"code": {"x"}}, Conditional: true}},
		{"GET", "Patient/1/$everything", fhir.Target{Type: "Patient", ID: "1", Operation: "$everything"}},
	} {
		body := bundleJSON(t, "batch", req("", `{"resourceType":"Patient"}`, tc.method, tc.url))
		b, err := fhir.ParseBundle(body, testBase, 0)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.url, err)
			continue
		}
		if got := b.Entries[0].Target; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: target %+v, want %+v", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestParseBundleErrors(t *testing.T) {
	entryOf := func(s string) string { return `{"resourceType":"Bundle","type":"transaction","entry":[` + s + `]}` }
	for _, tc := range []struct {
		name, body string
		kind       outcome.Kind
		where      string // "" for no location
	}{
		{"not JSON", `{"resourceType":`, outcome.KindStructure, ""},
		{"not a Bundle", `{"resourceType":"Patient"}`, outcome.KindInvalid, "Bundle.resourceType"},
		{"no resourceType", `{"type":"batch"}`, outcome.KindInvalid, ""},
		{"searchset", `{"resourceType":"Bundle","type":"searchset"}`, outcome.KindInvalid, "Bundle.type"},
		{"entry not an array", `{"resourceType":"Bundle","type":"batch","entry":{}}`, outcome.KindInvalid, "Bundle.entry"},
		{"no request", entryOf(`{"resource":{"resourceType":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].request"},
		{"method type", entryOf(`{"request":{"method":1,"url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].request.method"},
		{"bad method", entryOf(`{"request":{"method":"COPY","url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].request.method"},
		{"no url", entryOf(`{"request":{"method":"GET"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"unknown type", entryOf(`{"request":{"method":"GET","url":"Patients/1"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"bad id", entryOf(`{"request":{"method":"DELETE","url":"Patient/a_b"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"other server", entryOf(`{"request":{"method":"GET","url":"http://elsewhere/Patient/1"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"POST with id", entryOf(`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient/1"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"PUT without id", entryOf(`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"POST without resource", entryOf(`{"request":{"method":"POST","url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].resource"},
		{"ifNoneExist on PUT", entryOf(`{"resource":{"resourceType":"Patient","id":"1"},"request":{"method":"PUT","url":"Patient/1","ifNoneExist":"x=1"}}`), outcome.KindInvalid, "Bundle.entry[0].request.ifNoneExist"},
		{"relative fullUrl", entryOf(`{"fullUrl":"Patient/1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[0].fullUrl"},
		{"duplicate fullUrl", entryOf(`{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`), outcome.KindInvalid, "Bundle.entry[1].fullUrl"},
		{"paging in a Bundle", entryOf(`{"request":{"method":"GET","url":"Patient?_cursor=abc"}}`), outcome.KindInvalid, "Bundle.entry[0].request.url"},
		{"other operation", entryOf(`{"request":{"method":"GET","url":"Patient/1/$validate"}}`), outcome.KindNotSupported, "Bundle.entry[0].request.url"},
		{"too many entries", entryOf(strings.TrimSuffix(strings.Repeat(`{"request":{"method":"GET","url":"Patient/1"}},`, 4), ",")), outcome.KindTooLarge, "Bundle.entry"},
	} {
		_, err := fhir.ParseBundle([]byte(tc.body), testBase, 3)
		var oe *outcome.Error
		if !errors.As(err, &oe) {
			t.Errorf("%s: error %v, want an outcome", tc.name, err)
			continue
		}
		if oe.Kind != tc.kind {
			t.Errorf("%s: status %d (%v), want %d", tc.name, oe.Status(), err, tc.kind.Status())
		}
		var where string
		if x := oe.Issues[0].Expression; len(x) > 0 {
			where = x[0]
		}
		if where != tc.where {
			t.Errorf("%s: located at %q (%v), want %q", tc.name, where, err, tc.where)
		}
	}
}

func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=a|b"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1/Observation?code=x"}},{"request":{"method":"DELETE","url":"Patient?x=1"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"http://fhir.test/base/Patient/1/_history/2"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := fhir.ParseBundle(body, testBase, 50)
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) || len(oe.Issues) == 0 {
				t.Fatalf("error %v is not an outcome with issues", err)
			}
			return
		}
		if b.Type != fhir.BundleTransaction && b.Type != fhir.BundleBatch {
			t.Fatalf("accepted a Bundle of type %q", b.Type)
		}
		if len(b.Entries) > 50 {
			t.Fatalf("accepted %d entries, more than the limit", len(b.Entries))
		}
		for i, e := range b.Entries {
			if e.Index != i {
				t.Fatalf("entry %d has index %d", i, e.Index)
			}
			switch e.Request.Method {
			case "POST", "PUT", "PATCH":
				if e.Resource == nil {
					t.Fatalf("entry %d: %s without a resource accepted", i, e.Request.Method)
				}
			}
			if e.Target.Type == "" && e.Request.Method != "GET" && e.Request.Method != "HEAD" {
				t.Fatalf("entry %d: %s with no type accepted", i, e.Request.Method)
			}
		}
	})
}

package fhir_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
)

// entry is one Bundle entry to send.
type entry struct {
	FullURL  string            `json:"fullUrl,omitempty"`
	Resource json.RawMessage   `json:"resource,omitempty"`
	Request  map[string]string `json:"request"`
}

func bundleJSON(t *testing.T, typ string, entries ...entry) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// req builds an entry: method, url, then optional request fields as
// name/value pairs (ifMatch, ifNoneExist, ...).
func req(fullURL, resource, method, url string, fields ...string) entry {
	e := entry{FullURL: fullURL, Request: map[string]string{"method": method, "url": url}}
	if resource != "" {
		e.Resource = json.RawMessage(resource)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Request[fields[i]] = fields[i+1]
	}
	return e
}

func transaction(t *testing.T, svc *fhir.Service, entries ...entry) ([]fhir.EntryResult, error) {
	t.Helper()
	b, err := fhir.ParseBundle(bundleJSON(t, "transaction", entries...), testBase, 0)
	if err != nil {
		t.Fatalf("ParseBundle: %v", err)
	}
	return svc.Transaction(t.Context(), b, fhir.BundleOptions{DefaultCount: 50, MaxCount: 100})
}

func mustTransaction(t *testing.T, svc *fhir.Service, entries ...entry) []fhir.EntryResult {
	t.Helper()
	res, err := transaction(t, svc, entries...)
	if err != nil {
		t.Fatalf("Transaction: %v", err)
	}
	if len(res) != len(entries) {
		t.Fatalf("Transaction: %d results for %d entries", len(res), len(entries))
	}
	return res
}

// wantOutcome checks that err is an outcome of kind k whose first issue
// is located at expression.
func wantOutcome(t *testing.T, err error, k outcome.Kind, expression string) *outcome.Error {
	t.Helper()
	var oe *outcome.Error
	if err == nil {
		t.Fatalf("succeeded, want a %d at %s", k.Status(), expression)
	}
	oe = outcome.From(err)
	if oe.Kind != k {
		t.Fatalf("error %v (status %d), want status %d", err, oe.Status(), k.Status())
	}
	if got := oe.Issues[0].Expression; len(got) == 0 || got[0] != expression {
		t.Fatalf("error located at %v, want %s: %v", got, expression, err)
	}
	return oe
}

func ref(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var v any = m
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(x) {
				t.Fatalf("%v: index %d out of range", path, i)
			}
			v = x[i]
		default:
			t.Fatalf("%v: cannot descend into %T", path, v)
		}
	}
	s, _ := v.(string)
	return s
}

const (
	pUUID   = "urn:uuid:5b1d7f28-6f77-4d3c-9f6b-3c2a4e0f1a01"
	encUUID = "urn:uuid:5b1d7f28-6f77-4d3c-9f6b-3c2a4e0f1a02"
	binOID  = "urn:oid:1.2.840.113619.2.1"
)

func TestTransactionRewritesReferences(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		patient := `{"resourceType":"Patient","id":"client-chosen","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"` + encUUID + `\">visit</a></div>"},"name":[{"family":"Rewrite"}],"identifier":[{"system":"urn:ietf:rfc:3986","value":"` + pUUID + `"}]}`
		enc := `{"resourceType":"Encounter","status":"finished","class":{"code":"VR"},"subject":{"reference":"` + pUUID + `"}}`
		obs := `{"resourceType":"Observation","status":"final","code":{"text":"note"},"subject":{"reference":"` + pUUID + `"},"encounter":{"reference":"` + encUUID + `"},` +
			`"extension":[{"url":"http://example.org/about","valueReference":{"reference":"` + pUUID + `"}},{"url":"http://example.org/nested","extension":[{"url":"at","valueUri":"` + encUUID + `"}]}],` +
			`"contained":[{"resourceType":"Provenance","id":"prov","target":[{"reference":"` + encUUID + `"}],"recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"reference":"` + pUUID + `"}}]}]}`
		doc := `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"` + pUUID + `"},"content":[{"attachment":{"contentType":"text/plain","url":"` + binOID + `"}}]}`
		bin := `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`
		res := mustTransaction(t, svc,
			req(encUUID, enc, "POST", "Encounter"), // refers to an entry after it
			req(pUUID, patient, "POST", "Patient"),
			req("", obs, "POST", "Observation"),
			req("", doc, "POST", "DocumentReference"),
			req(binOID, bin, "POST", "Binary"),
		)
		for i, r := range res {
			if r.Status != http.StatusCreated || r.Resource.VersionID != 1 {
				t.Fatalf("entry %d: status %d version %d, want 201 version 1", i, r.Status, r.Resource.VersionID)
			}
		}
		pid, eid, bid := res[1].Resource.ID, res[0].Resource.ID, res[4].Resource.ID
		if pid == "client-chosen" {
			t.Errorf("a POST kept the client's id")
		}
		read := func(typ, id string) map[string]any {
			r, err := svc.Read(t.Context(), typ, id)
			if err != nil {
				t.Fatalf("Read %s/%s: %v", typ, id, err)
			}
			return decode(t, r.Body)
		}
		p := read("Patient", pid)
		if div := ref(t, p, "text", "div"); !strings.Contains(div, `href="Encounter/`+eid+`"`) {
			t.Errorf("narrative link not rewritten: %s", div)
		}
		if v := ref(t, p, "identifier", "0", "value"); v != pUUID {
			t.Errorf("an identifier value (a string) was rewritten to %q", v)
		}
		if got := ref(t, read("Encounter", eid), "subject", "reference"); got != "Patient/"+pid {
			t.Errorf("Encounter.subject = %q, want Patient/%s", got, pid)
		}
		o := read("Observation", res[2].Resource.ID)
		for _, c := range []struct {
			path []string
			want string
		}{
			{[]string{"subject", "reference"}, "Patient/" + pid},
			{[]string{"encounter", "reference"}, "Encounter/" + eid},
			{[]string{"extension", "0", "valueReference", "reference"}, "Patient/" + pid},
			{[]string{"extension", "1", "extension", "0", "valueUri"}, "Encounter/" + eid},
			{[]string{"contained", "0", "target", "0", "reference"}, "Encounter/" + eid},
			{[]string{"contained", "0", "agent", "0", "who", "reference"}, "Patient/" + pid},
		} {
			if got := ref(t, o, c.path...); got != c.want {
				t.Errorf("Observation.%s = %q, want %q", strings.Join(c.path, "."), got, c.want)
			}
		}
		if got := ref(t, read("DocumentReference", res[3].Resource.ID), "content", "0", "attachment", "url"); got != "Binary/"+bid {
			t.Errorf("Attachment.url = %q, want Binary/%s", got, bid)
		}
		// The rewritten references are indexed: a search by subject finds them.
		if n := count(t, svc, "Observation", "subject=Patient/"+pid); n != 1 {
			t.Errorf("Observation?subject=Patient/%s finds %d, want 1", pid, n)
		}
	})
}

func TestTransactionIsAtomic(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx := t.Context()
		if _, err := svc.Update(ctx, "Patient", "kept", []byte(`{"resourceType":"Patient","id":"kept","active":true}`), fhir.Preconditions{}); err != nil {
			t.Fatal(err)
		}
		good := func(n int) entry {
			return req(fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", n), `{"resourceType":"Patient","name":[{"family":"Atomic"}]}`, "POST", "Patient")
		}
		// A resource that does not validate: nothing is even begun.
		_, err := transaction(t, svc, good(1), good(2), good(3),
			req("", `{"resourceType":"Patient","name":[{"family":42}]}`, "POST", "Patient"), good(5))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[3].resource.name[0].family")

		// A failure inside the transaction, after writes: they are undone.
		_, err = transaction(t, svc, good(1), good(2),
			req("", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`, "POST", "Observation"),
			req("", `{"resourceType":"Patient","id":"kept","active":false}`, "PUT", "Patient/kept", "ifMatch", `W/"9"`),
			req("", `{"resourceType":"Patient","id":"new","active":false}`, "PUT", "Patient/new"))
		oe := wantOutcome(t, err, outcome.KindPreconditionFailed, "Bundle.entry[3]")
		if !strings.Contains(oe.Error(), "version 9") {
			t.Errorf("diagnostics do not say why: %v", oe)
		}
		// A GET that fails fails the transaction too.
		_, err = transaction(t, svc, good(1), req("", "", "GET", "Patient/absent"))
		wantOutcome(t, err, outcome.KindNotFound, "Bundle.entry[1].request.url")

		if n := count(t, svc, "Patient", "family=Atomic"); n != 0 {
			t.Errorf("%d Patients of failed transactions were kept", n)
		}
		if n := count(t, svc, "Observation", ""); n != 0 {
			t.Errorf("%d Observations of a failed transaction were kept", n)
		}
		if r, err := svc.Read(ctx, "Patient", "kept"); err != nil || r.VersionID != 1 {
			t.Errorf("Patient/kept after failed transactions: version %d, %v; want version 1", r.VersionID, err)
		}
		if _, err := svc.Read(ctx, "Patient", "new"); !outcome.Is(err, outcome.KindNotFound) {
			t.Errorf("Patient/new of a failed transaction: %v, want not found", err)
		}
	})
}

func TestTransactionConditionalReferences(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx := t.Context()
		mk := func(id, mrn string) {
			body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":"urn:mrn","value":%q}]}`, id, mrn)
			if _, err := svc.Update(ctx, "Patient", id, []byte(body), fhir.Preconditions{}); err != nil {
				t.Fatal(err)
			}
		}
		mk("one", "1")
		mk("twin-a", "2")
		mk("twin-b", "2")
		obs := func(ref string) string {
			return `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"},"performer":[{"reference":"` + ref + `"}]}`
		}
		res := mustTransaction(t, svc, req("", obs("Patient?identifier=urn:mrn|1"), "POST", "Observation"))
		r, _ := svc.Read(ctx, "Observation", res[0].Resource.ID)
		if got := ref(t, decode(t, r.Body), "subject", "reference"); got != "Patient/one" {
			t.Errorf("conditional reference became %q, want Patient/one", got)
		}
		if got := ref(t, decode(t, r.Body), "performer", "0", "reference"); got != "Patient/one" {
			t.Errorf("second use of the conditional reference became %q, want Patient/one", got)
		}
		_, err := transaction(t, svc, req("", `{"resourceType":"Patient"}`, "POST", "Patient"), req("", obs("Patient?identifier=urn:mrn|nobody"), "POST", "Observation"))
		wantOutcome(t, err, outcome.KindPreconditionFailed, "Bundle.entry[1].resource")
		_, err = transaction(t, svc, req("", obs("Patient?identifier=urn:mrn|2"), "POST", "Observation"))
		wantOutcome(t, err, outcome.KindPreconditionFailed, "Bundle.entry[0].resource")
		_, err = transaction(t, svc, req("", obs("Patient?bogus=1"), "POST", "Observation"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[0].resource")
		if n := count(t, svc, "Observation", ""); n != 1 {
			t.Errorf("%d Observations, want the 1 of the successful transaction", n)
		}
	})
}

func TestTransactionConditionalInteractions(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx := t.Context()
		if _, err := svc.Update(ctx, "Organization", "org", []byte(`{"resourceType":"Organization","id":"org","identifier":[{"system":"urn:org","value":"A"}],"name":"A"}`), fhir.Preconditions{}); err != nil {
			t.Fatal(err)
		}
		orgURL := "urn:uuid:5b1d7f28-6f77-4d3c-9f6b-3c2a4e0f1a10"
		res := mustTransaction(t, svc,
			// Conditional create that finds the existing Organization: its
			// fullUrl stands for Organization/org in the other resources.
			req(orgURL, `{"resourceType":"Organization","identifier":[{"system":"urn:org","value":"A"}],"name":"A again"}`, "POST", "Organization", "ifNoneExist", "identifier=urn:org|A"),
			req("", `{"resourceType":"Patient","managingOrganization":{"reference":"`+orgURL+`"},"identifier":[{"system":"urn:mrn","value":"c1"}]}`, "PUT", "Patient?identifier=urn:mrn|c1"),
			req("", `{"resourceType":"Patient","id":"p2","active":true}`, "PUT", "Patient/p2", "ifNoneMatch", "*"),
		)
		if res[0].Status != http.StatusOK || res[0].Resource.ID != "org" {
			t.Errorf("conditional create of an existing Organization: %d %s/%s, want 200 Organization/org", res[0].Status, res[0].Resource.Type, res[0].Resource.ID)
		}
		if res[1].Status != http.StatusCreated || res[1].Resource.Method != "POST" {
			t.Errorf("conditional update with no match: status %d method %s, want 201 POST", res[1].Status, res[1].Resource.Method)
		}
		p, _ := svc.Read(ctx, "Patient", res[1].Resource.ID)
		if got := ref(t, decode(t, p.Body), "managingOrganization", "reference"); got != "Organization/org" {
			t.Errorf("reference to a conditional create's fullUrl = %q, want Organization/org", got)
		}
		if n := count(t, svc, "Organization", ""); n != 1 {
			t.Errorf("%d Organizations after a matching conditional create, want 1", n)
		}
		// Again: the conditional update now updates, and ifNoneMatch * refuses.
		_, err := transaction(t, svc, req("", `{"resourceType":"Patient","id":"p2","active":false}`, "PUT", "Patient/p2", "ifNoneMatch", "*"))
		wantOutcome(t, err, outcome.KindPreconditionFailed, "Bundle.entry[0]")
		res = mustTransaction(t, svc,
			req("", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"c1"}],"active":false}`, "PUT", "Patient?identifier=urn:mrn|c1"),
			req("", `{"resourceType":"Patient","id":"p2","active":false}`, "PUT", "Patient/p2", "ifMatch", `W/"1"`),
		)
		if res[0].Status != http.StatusOK || res[0].Resource.VersionID != 2 || res[1].Resource.VersionID != 2 {
			t.Errorf("second round: %d v%d and v%d, want 200 and version 2 twice", res[0].Status, res[0].Resource.VersionID, res[1].Resource.VersionID)
		}
		// DELETE runs before POST: deleting and re-creating by the same
		// criteria in one transaction leaves one, new, resource.
		res = mustTransaction(t, svc,
			req("", `{"resourceType":"Organization","identifier":[{"system":"urn:org","value":"A"}],"name":"A new"}`, "POST", "Organization", "ifNoneExist", "identifier=urn:org|A"),
			req("", "", "DELETE", "Organization?identifier=urn:org|A"),
		)
		if res[0].Status != http.StatusCreated || res[0].Resource.ID == "org" || res[1].Status != http.StatusNoContent || len(res[1].Deleted) != 1 {
			t.Errorf("delete then create: %d %s and %d with %d deleted, want 201 of a new id and 204 with 1 deleted",
				res[0].Status, res[0].Resource.ID, res[1].Status, len(res[1].Deleted))
		}
		// Malformed conditions are located at their element.
		_, err = transaction(t, svc, req("", `{"resourceType":"Patient","id":"p2"}`, "PUT", "Patient/p2", "ifMatch", "soon"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[0].request.ifMatch")
		_, err = transaction(t, svc, req("", "", "DELETE", "Patient/p2", "ifNoneMatch", "W/x"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[0].request.ifNoneMatch")
		_, err = transaction(t, svc, req("", `{"resourceType":"Patient"}`, "POST", "Patient", "ifNoneExist", "&"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[0].request.ifNoneExist")
		// A transaction may change a resource only once.
		_, err = transaction(t, svc,
			req("", `{"resourceType":"Patient","id":"p2"}`, "PUT", "Patient/p2"),
			req("", "", "DELETE", "Patient/p2"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[1].request.url")
		_, err = transaction(t, svc,
			req("", `{"resourceType":"Patient","id":"p2"}`, "PUT", "Patient/p2"),
			req("", "", "DELETE", "Patient?identifier=urn:mrn|c1"),
			req("", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"c1"}]}`, "PUT", "Patient?_id=p2"))
		wantOutcome(t, err, outcome.KindInvalid, "Bundle.entry[2].request.url")
	})
}

func TestTransactionReadsAfterWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx := t.Context()
		if _, err := svc.Update(ctx, "Patient", "r1", []byte(`{"resourceType":"Patient","id":"r1","active":true}`), fhir.Preconditions{}); err != nil {
			t.Fatal(err)
		}
		jsonPatch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/active","value":false}]`))
		res := mustTransaction(t, svc,
			req("", "", "GET", "Patient/r1"), // listed first, processed last
			req("", "", "GET", "Patient?active=false"),
			req("", "", "GET", "Patient/r1/_history"),
			req("", "", "GET", "Patient/r1", "ifNoneMatch", `W/"2"`),
			req("", `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+jsonPatch+`"}`, "PATCH", "Patient/r1"),
			req("", "", "GET", "Patient/r1/_history/1"),
			req("", "", "HEAD", "Patient/r1/$everything"),
		)
		if res[0].Status != 200 || res[0].Resource.VersionID != 2 || !strings.Contains(string(res[0].Resource.Body), `"active":false`) {
			t.Errorf("GET in the transaction: %d version %d %s, want the patched version 2", res[0].Status, res[0].Resource.VersionID, res[0].Resource.Body)
		}
		if res[1].Search == nil || len(res[1].Search.Page.Matches) != 1 {
			t.Errorf("search in the transaction does not see the patch: %+v", res[1].Search)
		}
		if res[2].History == nil || len(res[2].History.Entries) != 2 {
			t.Errorf("history in the transaction: %+v, want 2 versions", res[2].History)
		}
		if res[3].Status != http.StatusNotModified {
			t.Errorf("GET with ifNoneMatch of the current version: %d, want 304", res[3].Status)
		}
		if res[4].Status != 200 || res[4].Resource.Method != "PATCH" {
			t.Errorf("PATCH entry: %d %s", res[4].Status, res[4].Resource.Method)
		}
		if res[5].Resource.VersionID != 1 || res[6].Search == nil {
			t.Errorf("vread or $everything entry: %+v %+v", res[5], res[6])
		}
	})
}

func TestBatchPartialSuccess(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx := t.Context()
		if _, err := svc.Update(ctx, "Patient", "b1", []byte(`{"resourceType":"Patient","id":"b1","active":true}`), fhir.Preconditions{}); err != nil {
			t.Fatal(err)
		}
		other := "urn:uuid:5b1d7f28-6f77-4d3c-9f6b-3c2a4e0f1a20"
		body := bundleJSON(t, "batch",
			req(other, `{"resourceType":"Patient","name":[{"family":"Batch"}]}`, "POST", "Patient"),
			req("", `{"resourceType":"Patient","name":[{"family":7}]}`, "POST", "Patient"),
			req("", `{"resourceType":"Patient","id":"b1","active":false}`, "PUT", "Patient/b1", "ifMatch", `W/"3"`),
			req("", "", "GET", "Patient/absent"),
			req("", "", "GET", "Patient/b1"),
			req("", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"`+other+`"}}`, "POST", "Observation"),
			req("", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?_id=b1"}}`, "POST", "Observation"),
			req("", "", "DELETE", "Patient/b1"),
		)
		b, err := fhir.ParseBundle(body, testBase, 0)
		if err != nil {
			t.Fatal(err)
		}
		res := svc.Batch(ctx, b, fhir.BundleOptions{DefaultCount: 10, MaxCount: 10})
		want := []struct {
			status int
			where  string
		}{
			{201, ""},
			{400, "Bundle.entry[1].resource.name[0].family"},
			{412, "Bundle.entry[2]"},
			{404, "Bundle.entry[3].request.url"},
			{200, ""},
			{400, "Bundle.entry[5].resource"},
			{201, ""},
			{204, ""},
		}
		for i, w := range want {
			r := res[i]
			if r.Status != w.status {
				t.Errorf("entry %d: status %d (%v), want %d", i, r.Status, r.Err, w.status)
				continue
			}
			if w.where == "" {
				if r.Err != nil {
					t.Errorf("entry %d: succeeded with an error %v", i, r.Err)
				}
				continue
			}
			if r.Err == nil || len(r.Err.Issues[0].Expression) == 0 || r.Err.Issues[0].Expression[0] != w.where {
				t.Errorf("entry %d: error %v, want one at %s", i, r.Err, w.where)
			}
		}
		if n := count(t, svc, "Patient", "family=Batch"); n != 1 {
			t.Errorf("%d Patients from the successful batch entry, want 1", n)
		}
		if n := count(t, svc, "Observation", "subject=Patient/b1"); n != 1 {
			t.Errorf("%d Observations with a conditional reference, want 1", n)
		}
		if _, err := svc.Read(ctx, "Patient", "b1"); !outcome.Is(err, outcome.KindGone) {
			t.Errorf("Patient/b1 after the batch deleted it: %v", err)
		}
	})
}

// TestConcurrentTransactions runs transactions that patch the same two
// resources, half of them naming them in the other order: every one
// answers, in time, and commits, and no update is lost.
func TestConcurrentTransactions(t *testing.T) {
	eachStore(t, func(t *testing.T, svc *fhir.Service) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		for _, id := range []string{"a", "b"} {
			if _, err := svc.Update(ctx, "Patient", id, []byte(`{"resourceType":"Patient","id":"`+id+`","identifier":[{"system":"urn:start","value":"0"}]}`), fhir.Preconditions{}); err != nil {
				t.Fatal(err)
			}
		}
		const n = 16
		patch := func(i int) string {
			doc := fmt.Sprintf(`[{"op":"add","path":"/identifier/-","value":{"system":"urn:tx","value":"%d"}}]`, i)
			return `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + base64.StdEncoding.EncodeToString([]byte(doc)) + `"}`
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				first, second := "Patient/a", "Patient/b"
				if i%2 == 1 {
					first, second = second, first
				}
				b, err := fhir.ParseBundle(bundleJSON(t, "transaction",
					req("", patch(i), "PATCH", first),
					req("", `{"resourceType":"Observation","status":"final","code":{"text":"tx"},"subject":{"reference":"`+first+`"}}`, "POST", "Observation"),
					req("", patch(i), "PATCH", second)), testBase, 0)
				if err != nil {
					errs[i] = err
					return
				}
				_, errs[i] = svc.Transaction(ctx, b, fhir.BundleOptions{})
			})
		}
		wg.Wait()
		committed := 0
		for i, err := range errs {
			switch {
			case err == nil:
				committed++
			case outcome.Is(err, outcome.KindConflict):
			default:
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("transactions did not all answer in time")
		}
		for _, id := range []string{"a", "b"} {
			r, err := svc.Read(ctx, "Patient", id)
			if err != nil {
				t.Fatal(err)
			}
			ids := decode(t, r.Body)["identifier"].([]any)
			if len(ids) != 1+committed || r.VersionID != int64(1+committed) {
				t.Errorf("Patient/%s: %d identifiers, version %d after %d committed transactions: updates lost", id, len(ids), r.VersionID, committed)
			}
		}
		if got := count(t, svc, "Observation", ""); got != committed {
			t.Errorf("%d Observations after %d committed transactions", got, committed)
		}
		// Locking in one order leaves nothing to deadlock on: all commit.
		if committed != n {
			t.Errorf("%d of %d transactions committed", committed, n)
		}
	})
}

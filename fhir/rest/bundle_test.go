package rest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/rest"
)

// txBundle builds a Bundle of type typ from entries written as JSON.
func txBundle(typ string, entries ...string) []byte {
	return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`)
}

type responseEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Response struct {
		Status       string          `json:"status"`
		Location     string          `json:"location"`
		Etag         string          `json:"etag"`
		LastModified string          `json:"lastModified"`
		Outcome      json.RawMessage `json:"outcome"`
	} `json:"response"`
}

func responseEntries(t *testing.T, r response, typ string) []responseEntry {
	t.Helper()
	var b struct {
		ResourceType, Type string
		Entry              []responseEntry
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.body)
	}
	if b.ResourceType != "Bundle" || b.Type != typ {
		t.Fatalf("response is a %s %s, want a %s Bundle: %s", b.Type, b.ResourceType, typ, r.body)
	}
	return b.Entry
}

const (
	txPatient = `{"fullUrl":"urn:uuid:0b2f1e8a-1111-4a4a-9a9a-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Tx"}]},"request":{"method":"POST","url":"Patient"}}`
	txObs     = `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"urn:uuid:0b2f1e8a-1111-4a4a-9a9a-000000000001"}},"request":{"method":"POST","url":"Observation"}}`
)

func TestTransactionOverHTTP(t *testing.T) {
	e := newEnv(t, rest.Config{})
	r := e.must(200, "POST", "/", txBundle("transaction", txPatient, txObs, `{"request":{"method":"GET","url":"Observation?subject:Patient.family=Tx"}}`))
	es := responseEntries(t, r, "transaction-response")
	if len(es) != 3 {
		t.Fatalf("%d response entries, want 3", len(es))
	}
	p := es[0]
	id := strings.TrimPrefix(p.FullURL, e.srv.URL+"/Patient/")
	if p.Response.Status != "201 Created" || p.Response.Location != "Patient/"+id+"/_history/1" || p.Response.Etag != `W/"1"` || p.Response.LastModified == "" {
		t.Errorf("POST entry response %+v (fullUrl %s)", p.Response, p.FullURL)
	}
	if p.Resource != nil {
		t.Errorf("the written resource came back without Prefer: return=representation")
	}
	var set struct {
		Type  string
		Link  []struct{ Relation, URL string }
		Entry []struct{ Resource json.RawMessage }
	}
	if err := json.Unmarshal(es[2].Resource, &set); err != nil || set.Type != "searchset" || len(set.Entry) != 1 {
		t.Fatalf("GET entry answered %s (%v), want a searchset with the new Observation", es[2].Resource, err)
	}
	if !strings.Contains(string(set.Entry[0].Resource), `"reference":"Patient/`+id+`"`) {
		t.Errorf("the Observation's subject was not rewritten: %s", set.Entry[0].Resource)
	}
	if len(set.Link) == 0 || !strings.HasPrefix(set.Link[0].URL, e.srv.URL+"/Observation?") {
		t.Errorf("searchset self link %v", set.Link)
	}
	e.must(200, "GET", "/Patient/"+id, nil)

	r = e.must(200, "POST", "/", txBundle("transaction", txPatient), "Prefer", "return=representation")
	if es := responseEntries(t, r, "transaction-response"); !strings.Contains(string(es[0].Resource), `"family":"Tx"`) {
		t.Errorf("return=representation: entry resource %s", es[0].Resource)
	}
	r = e.must(200, "POST", "/", txBundle("transaction", txPatient), "Prefer", "return=OperationOutcome")
	if es := responseEntries(t, r, "transaction-response"); !strings.Contains(string(es[0].Response.Outcome), "Created Patient/") {
		t.Errorf("return=OperationOutcome: entry outcome %s", es[0].Response.Outcome)
	}
}

func TestTransactionFailureOverHTTP(t *testing.T) {
	e := newEnv(t, rest.Config{})
	bad := `{"resource":{"resourceType":"Patient","birthDate":"yesterday"},"request":{"method":"POST","url":"Patient"}}`
	issue := outcomeOf(t, e.do("POST", "/", txBundle("transaction", txPatient, bad)), 400, "")
	if x, _ := issue["expression"].([]any); len(x) == 0 || x[0] != "Bundle.entry[1].resource.birthDate" {
		t.Errorf("issue %v, want one at Bundle.entry[1].resource.birthDate", issue)
	}
	// Nothing of it was stored.
	if s := e.search(t, "/Patient?family=Tx"); len(s.ids) != 0 {
		t.Errorf("a failed transaction stored %d Patients", len(s.ids))
	}
	outcomeOf(t, e.do("POST", "/", txBundle("transaction", `{"request":{"method":"PUT","url":"Patient/x","ifMatch":"W/\"2\""},"resource":{"resourceType":"Patient","id":"x"}}`)), 412, "conflict")
	outcomeOf(t, e.do("POST", "/", []byte(`{"resourceType":"Patient"}`)), 400, "invalid")
	outcomeOf(t, e.do("POST", "/", []byte(`<Bundle/>`), "Content-Type", "application/fhir+xml"), 415, "")
}

func TestBatchOverHTTP(t *testing.T) {
	e := newEnv(t, rest.Config{})
	r := e.must(200, "POST", "/", txBundle("batch",
		txPatient,
		`{"resource":{"resourceType":"Patient","gender":"sometimes"},"request":{"method":"POST","url":"Patient"}}`,
		`{"request":{"method":"GET","url":"Patient/nobody"}}`,
		`{"request":{"method":"DELETE","url":"Patient/nobody"}}`,
	), "Prefer", "return=representation")
	es := responseEntries(t, r, "batch-response")
	for i, want := range []string{"201 Created", "400 Bad Request", "404 Not Found", "204 No Content"} {
		if es[i].Response.Status != want {
			t.Errorf("entry %d: status %q, want %q", i, es[i].Response.Status, want)
		}
	}
	if es[0].Resource == nil {
		t.Errorf("return=representation: the created Patient is missing")
	}
	var oo struct {
		ResourceType string
		Issue        []struct{ Expression []string }
	}
	if err := json.Unmarshal(es[1].Response.Outcome, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 || oo.Issue[0].Expression[0] != "Bundle.entry[1].resource.gender" {
		t.Errorf("failed entry outcome %s", es[1].Response.Outcome)
	}
}

func TestBundleLimits(t *testing.T) {
	e := newEnv(t, rest.Config{MaxBundleEntries: 3, MaxBundleBytes: 4096})
	get := `{"request":{"method":"GET","url":"Patient/x"}}`
	e.must(200, "POST", "/", txBundle("batch", get, get, get))
	issue := outcomeOf(t, e.do("POST", "/", txBundle("batch", get, get, get, get)), 413, "too-costly")
	if d, _ := issue["diagnostics"].(string); !strings.Contains(d, "at most 3") {
		t.Errorf("diagnostics %q do not give the limit", d)
	}
	big := fmt.Sprintf(`{"resource":{"resourceType":"Patient","name":[{"text":%q}]},"request":{"method":"POST","url":"Patient"}}`, strings.Repeat("x", 5000))
	outcomeOf(t, e.do("POST", "/", txBundle("transaction", big)), 413, "too-costly")
	// The limit applies after gzip inflation.
	outcomeOf(t, e.do("POST", "/", gz(t, txBundle("transaction", big)), "Content-Encoding", "gzip"), 413, "too-costly")
}

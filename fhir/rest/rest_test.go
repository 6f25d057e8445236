package rest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/rest"
)

const patientJSON = `{"resourceType":"Patient","id":"ignored-by-create","active":true,"name":[{"family":"Zürich","given":["Anna","Maria"]}],"gender":"female","birthDate":"1980-05-01","extension":[{"url":"http://example.org/weight","valueDecimal":70.50}]}`

func meta(t *testing.T, m map[string]any) (string, string) {
	t.Helper()
	mm, ok := m["meta"].(map[string]any)
	if !ok {
		t.Fatalf("resource without meta: %v", m)
	}
	return mm["versionId"].(string), mm["lastUpdated"].(string)
}

func TestCreateReadUpdateDelete(t *testing.T) {
	e := newEnv(t, rest.Config{})

	// create
	r := e.must(201, "POST", "/Patient", []byte(patientJSON))
	created := r.json(t)
	id, _ := created["id"].(string)
	if id == "" || id == "ignored-by-create" {
		t.Fatalf("create kept or lacked id: %q", id)
	}
	if loc, want := r.Header.Get("Location"), e.srv.URL+"/Patient/"+id+"/_history/1"; loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	if et := r.Header.Get("ETag"); et != `W/"1"` {
		t.Errorf("ETag %q", et)
	}
	if _, err := http.ParseTime(r.Header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", r.Header.Get("Last-Modified"), err)
	}
	if v, lu := meta(t, created); v != "1" || !strings.HasSuffix(lu, "Z") {
		t.Errorf("meta versionId %q lastUpdated %q", v, lu)
	}
	if !bytes.Contains(r.body, []byte(`"valueDecimal":70.50`)) || !bytes.Contains(r.body, []byte("Zürich")) {
		t.Errorf("stored bytes changed the client's decimal or unicode: %s", r.body)
	}

	// read serves the stored bytes
	g := e.must(200, "GET", "/Patient/"+id, nil)
	if !bytes.Equal(g.body, r.body) {
		t.Errorf("read body differs from create response:\n%s\n%s", g.body, r.body)
	}
	if ct := g.Header.Get("Content-Type"); ct != "application/fhir+json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// update
	upd := strings.Replace(patientJSON, `"ignored-by-create"`, `"`+id+`"`, 1)
	upd = strings.Replace(upd, `"active":true`, `"active":false`, 1)
	u := e.must(200, "PUT", "/Patient/"+id, []byte(upd))
	if v, _ := meta(t, u.json(t)); v != "2" {
		t.Errorf("update versionId %q, want 2", v)
	}
	if et := u.Header.Get("ETag"); et != `W/"2"` {
		t.Errorf("update ETag %q", et)
	}

	// vread both versions
	v1 := e.must(200, "GET", "/Patient/"+id+"/_history/1", nil)
	if !bytes.Equal(v1.body, r.body) {
		t.Errorf("vread 1 differs from the created version")
	}
	e.must(200, "GET", "/Patient/"+id+"/_history/2", nil)
	outcomeOf(t, e.do("GET", "/Patient/"+id+"/_history/3", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Patient/"+id+"/_history/x", nil), 404, "not-found")

	// delete, then read is 410 and vread of old versions still works
	d := e.must(204, "DELETE", "/Patient/"+id, nil)
	if et := d.Header.Get("ETag"); et != `W/"3"` {
		t.Errorf("delete ETag %q", et)
	}
	outcomeOf(t, e.do("GET", "/Patient/"+id, nil), 410, "deleted")
	outcomeOf(t, e.do("GET", "/Patient/"+id+"/_history/3", nil), 410, "deleted")
	e.must(200, "GET", "/Patient/"+id+"/_history/2", nil)
	// deleting again changes nothing
	e.must(204, "DELETE", "/Patient/"+id, nil)
	e.must(204, "DELETE", "/Patient/never-existed", nil)
	// an update brings it back as version 4, 201 Created
	back := e.must(201, "PUT", "/Patient/"+id, []byte(upd))
	if v, _ := meta(t, back.json(t)); v != "4" {
		t.Errorf("re-created versionId %q, want 4", v)
	}
}

func TestUpdateAsCreate(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := `{"resourceType":"Observation","id":"bp-1","status":"final","code":{"text":"bp"}}`
	r := e.must(201, "PUT", "/Observation/bp-1", []byte(body))
	if loc := r.Header.Get("Location"); loc != e.srv.URL+"/Observation/bp-1/_history/1" {
		t.Errorf("Location %q", loc)
	}
	e.must(200, "PUT", "/Observation/bp-1", []byte(body))
}

func TestBadRequestsChangeNothing(t *testing.T) {
	e := newEnv(t, rest.Config{MaxBodyBytes: 4096})
	good := `{"resourceType":"Patient","id":"p1","active":true}`
	orig := e.must(201, "PUT", "/Patient/p1", []byte(good)).body

	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
		location                 string
	}{
		{"malformed JSON", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1",`, nil, 400, "structure", ""},
		{"not an object", "PUT", "/Patient/p1", `[1,2]`, nil, 400, "", ""},
		{"wrong resourceType", "PUT", "/Patient/p1", `{"resourceType":"Observation","id":"p1","status":"final","code":{}}`, nil, 400, "invalid", ""},
		{"id mismatch", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p2"}`, nil, 400, "invalid", "Patient.id"},
		{"id missing", "PUT", "/Patient/p1", `{"resourceType":"Patient"}`, nil, 400, "invalid", "Patient.id"},
		{"unknown field", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","foo":1}`, nil, 400, "", "Patient.foo"},
		{"bad primitive", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"given":["a",5]}]}`, nil, 400, "", "Patient.name[0].given[1]"},
		{"bad date", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","birthDate":"1980-13-45"}`, nil, 400, "", "Patient.birthDate"},
		{"unknown type", "PUT", "/Patientx/p1", good, nil, 404, "not-found", ""},
		{"invalid id", "PUT", "/Patient/bad_id!", good, nil, 400, "invalid", ""},
		{"too large", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 5000) + `</div>"}}`, nil, 413, "too-costly", ""},
		{"xml body", "PUT", "/Patient/p1", `<Patient/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "not-supported", ""},
		{"empty body", "PUT", "/Patient/p1", ``, nil, 400, "invalid", ""},
		{"If-Match mismatch", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","active":false}`, []string{"If-Match", `W/"7"`}, 412, "conflict", ""},
		{"If-Match garbage", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1","active":false}`, []string{"If-Match", `nope`}, 400, "invalid", ""},
		{"delete If-Match mismatch", "DELETE", "/Patient/p1", ``, []string{"If-Match", `W/"9"`}, 412, "conflict", ""},
		{"bad gzip", "PUT", "/Patient/p1", `not gzip at all`, []string{"Content-Encoding", "gzip"}, 400, "invalid", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" || c.method != "DELETE" {
				body = []byte(c.body)
			}
			r := e.do(c.method, c.path, body, c.headers...)
			if r.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, c.status, r.body)
			}
			m := r.json(t)
			if m["resourceType"] != "OperationOutcome" {
				t.Fatalf("not an OperationOutcome: %s", r.body)
			}
			issue := m["issue"].([]any)[0].(map[string]any)
			if c.code != "" && issue["code"] != c.code {
				t.Errorf("code %v, want %s: %s", issue["code"], c.code, r.body)
			}
			if diag, _ := issue["diagnostics"].(string); diag == "" {
				t.Errorf("no diagnostics: %s", r.body)
			}
			if c.location != "" {
				found := false
				for _, is := range m["issue"].([]any) {
					for _, x := range is.(map[string]any)["expression"].([]any) {
						if x == c.location {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("no issue located at %s: %s", c.location, r.body)
				}
			}
		})
	}
	now := e.must(200, "GET", "/Patient/p1", nil)
	if !bytes.Equal(now.body, orig) {
		t.Fatalf("a rejected request changed the stored resource:\n%s\n%s", orig, now.body)
	}
	h := e.must(200, "GET", "/Patient/p1/_history", nil).json(t)
	if n := len(h["entry"].([]any)); n != 1 {
		t.Fatalf("history has %d versions after rejected writes, want 1", n)
	}
}

func TestPreconditions(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := `{"resourceType":"Patient","id":"p1","active":true}`
	e.must(201, "PUT", "/Patient/p1", []byte(body))
	e.must(200, "PUT", "/Patient/p1", []byte(body), "If-Match", `W/"1"`)
	e.must(412, "PUT", "/Patient/p1", []byte(body), "If-Match", `W/"1"`)
	e.must(412, "PUT", "/Patient/nope", []byte(`{"resourceType":"Patient","id":"nope"}`), "If-Match", `W/"1"`)

	r := e.must(304, "GET", "/Patient/p1", nil, "If-None-Match", `W/"2"`)
	if len(r.body) != 0 || r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("304 with body %q, ETag %q", r.body, r.Header.Get("ETag"))
	}
	e.must(200, "GET", "/Patient/p1", nil, "If-None-Match", `W/"1"`)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	e.must(304, "GET", "/Patient/p1", nil, "If-Modified-Since", future)
	e.must(200, "GET", "/Patient/p1", nil, "If-Modified-Since", past)
	e.must(200, "DELETE", "/Patient/p1", nil, "If-Match", `W/"2"`, "Prefer", "return=OperationOutcome")
}

func TestPrefer(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := []byte(`{"resourceType":"Patient","active":true}`)
	r := e.must(201, "POST", "/Patient", body, "Prefer", "return=minimal")
	if len(r.body) != 0 || r.Header.Get("Location") == "" || r.Header.Get("ETag") != `W/"1"` {
		t.Errorf("return=minimal: body %q, Location %q, ETag %q", r.body, r.Header.Get("Location"), r.Header.Get("ETag"))
	}
	r = e.must(201, "POST", "/Patient", body, "Prefer", "return=OperationOutcome")
	if m := r.json(t); m["resourceType"] != "OperationOutcome" {
		t.Errorf("return=OperationOutcome gave %s", r.body)
	}
	r = e.must(201, "POST", "/Patient", body, "Prefer", "return=representation")
	if m := r.json(t); m["resourceType"] != "Patient" {
		t.Errorf("return=representation gave %s", r.body)
	}
}

func TestContentNegotiation(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`))
	for _, h := range [][]string{
		{"Accept", "application/fhir+xml"},
		{"Accept", "application/xml;q=1.0"},
	} {
		outcomeOf(t, e.do("GET", "/Patient/p1", nil, h...), 406, "not-supported")
	}
	outcomeOf(t, e.do("GET", "/Patient/p1?_format=xml", nil), 406, "not-supported")
	outcomeOf(t, e.do("GET", "/metadata?_format=application/fhir+xml", nil), 406, "not-supported")
	for _, c := range []struct{ accept, query, ct string }{
		{"", "", "application/fhir+json"},
		{"application/fhir+json", "", "application/fhir+json"},
		{"application/json", "", "application/json"},
		{"text/html,application/xhtml+xml,*/*;q=0.8", "", "application/fhir+json"},
		{"", "?_format=json", "application/fhir+json"},
		{"", "?_format=application/json", "application/json"},
		{"application/fhir+xml", "?_format=json", "application/fhir+json"},
	} {
		r := e.must(200, "GET", "/Patient/p1"+c.query, nil, "Accept", c.accept)
		if got := r.Header.Get("Content-Type"); got != c.ct+"; charset=utf-8" {
			t.Errorf("Accept %q %s: Content-Type %q, want %s", c.accept, c.query, got, c.ct)
		}
	}
	pretty := e.must(200, "GET", "/Patient/p1?_pretty=true", nil)
	if !bytes.Contains(pretty.body, []byte("\n  \"resourceType\"")) {
		t.Errorf("_pretty=true not indented: %s", pretty.body)
	}
	outcomeOf(t, e.do("GET", "/Patient/p1?_pretty=maybe", nil), 400, "invalid")
	// application/json request bodies are accepted
	e.must(200, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`), "Content-Type", "application/json")
}

func TestGzip(t *testing.T) {
	e := newEnv(t, rest.Config{})
	big := fmt.Sprintf(`{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"}}`, strings.Repeat("lorem ipsum ", 300))
	e.must(201, "PUT", "/Patient/p1", gz(t, []byte(big)), "Content-Encoding", "gzip")

	r := e.must(200, "GET", "/Patient/p1", nil, "Accept-Encoding", "gzip")
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("response not gzipped; headers %v", r.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte("lorem ipsum lorem")) {
		t.Fatalf("gunzipped body wrong: %.200s", plain)
	}
	// a gzip bomb is measured after inflation
	small := newEnv(t, rest.Config{MaxBodyBytes: 2048})
	outcomeOf(t, small.do("PUT", "/Patient/p1", gz(t, []byte(big)), "Content-Encoding", "gzip"), 413, "too-costly")
}

func TestJSONPatch(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1","active":true,"birthDate":"1980-01-01"}`))
	ct := []string{"Content-Type", "application/json-patch+json"}
	r := e.must(200, "PATCH", "/Patient/p1", []byte(`[{"op":"replace","path":"/active","value":false},{"op":"add","path":"/gender","value":"male"}]`), ct...)
	m := r.json(t)
	if m["active"] != false || m["gender"] != "male" {
		t.Errorf("patch result %s", r.body)
	}
	if v, _ := meta(t, m); v != "2" {
		t.Errorf("patched versionId %s", v)
	}
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`[{"op":"test","path":"/active","value":true}]`), ct...), 422, "processing")
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`[{"op":"replace","path":"/birthDate","value":"not a date"}]`), ct...), 400, "")
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`[{"op":"remove","path":"/id"}]`), ct...), 400, "invalid")
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`{"op":"bogus"}`), ct...), 400, "invalid")
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`[]`), "Content-Type", "application/xml"), 415, "not-supported")
	outcomeOf(t, e.do("PATCH", "/Patient/p1", []byte(`[{"op":"replace","path":"/active","value":true}]`), append(ct, "If-Match", `W/"1"`)...), 412, "conflict")
	outcomeOf(t, e.do("PATCH", "/Patient/zz", []byte(`[]`), ct...), 404, "not-found")
	if v, _ := meta(t, e.must(200, "GET", "/Patient/p1", nil).json(t)); v != "2" {
		t.Errorf("failed patches changed the resource: version %s", v)
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t, rest.Config{DefaultCount: 2, MaxCount: 3})
	for i := 0; i < 3; i++ {
		e.must(map[bool]int{true: 201, false: 200}[i == 0], "PUT", "/Patient/p1", []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p1","birthDate":"198%d-01-01"}`, i)))
	}
	e.must(204, "DELETE", "/Patient/p1", nil)
	e.must(201, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))

	walk := func(path string) []map[string]any {
		t.Helper()
		var all []map[string]any
		next := e.srv.URL + path
		for pages := 0; next != ""; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			r := e.must(200, "GET", strings.TrimPrefix(next, e.srv.URL), nil)
			b := r.json(t)
			if b["resourceType"] != "Bundle" || b["type"] != "history" {
				t.Fatalf("not a history Bundle: %s", r.body)
			}
			next = ""
			for _, l := range b["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = l.(map[string]any)["url"].(string)
				}
			}
			entries, _ := b["entry"].([]any)
			for _, en := range entries {
				all = append(all, en.(map[string]any))
			}
		}
		return all
	}
	inst := walk("/Patient/p1/_history")
	if len(inst) != 4 {
		t.Fatalf("instance history has %d entries, want 4", len(inst))
	}
	wantMethods := []string{"DELETE", "PUT", "PUT", "PUT"}
	for i, en := range inst {
		req := en["request"].(map[string]any)
		if req["method"] != wantMethods[i] {
			t.Errorf("entry %d method %v, want %s", i, req["method"], wantMethods[i])
		}
		etag := en["response"].(map[string]any)["etag"]
		if want := fmt.Sprintf(`W/"%d"`, 4-i); etag != want {
			t.Errorf("entry %d etag %v, want %s (newest first)", i, etag, want)
		}
		if (en["resource"] == nil) != (i == 0) {
			t.Errorf("entry %d resource presence wrong: %v", i, en)
		}
	}
	if got := len(walk("/Patient/_history")); got != 4 {
		t.Errorf("type history %d entries, want 4", got)
	}
	if got := len(walk("/_history")); got != 5 {
		t.Errorf("system history %d entries, want 5", got)
	}
	if got := len(walk("/_history?_count=100")); got != 5 {
		t.Errorf("system history with _count over max: %d entries, want 5", got)
	}
	if got := len(walk("/Patient/p1/_history?_since=2999-01-01T00:00:00Z")); got != 0 {
		t.Errorf("_since in the future gave %d entries", got)
	}
	if got := len(walk("/Patient/p1/_history?_since=2000-01-01")); got != 4 {
		t.Errorf("_since in the past gave %d entries", got)
	}
	if got := walk("/Patient/p1/_history?_at=2999-01-01T00:00:00Z"); len(got) != 1 || got[0]["request"].(map[string]any)["method"] != "DELETE" {
		t.Errorf("_at now gave %v, want only the delete", got)
	}
	outcomeOf(t, e.do("GET", "/Patient/p1/_history?_since=yesterday", nil), 400, "invalid")
	outcomeOf(t, e.do("GET", "/Patient/p1/_history?_count=-1", nil), 400, "invalid")
	outcomeOf(t, e.do("GET", "/Patient/p1/_history?_cursor=abc", nil), 400, "invalid")
	outcomeOf(t, e.do("GET", "/Patient/nope/_history", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Nope/_history", nil), 404, "not-found")
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, rest.Config{})
	outcomeOf(t, e.do("GET", "/Patient/p1/nothing/here/at/all", nil), 404, "not-found")
	outcomeOf(t, e.do("POST", "/Patient/p1", []byte(`{}`)), 405, "not-supported")
	outcomeOf(t, e.do("GET", "/NotAType/1", nil), 404, "not-found")
	outcomeOf(t, e.do("POST", "/NotAType", []byte(`{"resourceType":"NotAType"}`)), 404, "not-found")
}

// TestInternalErrorsRevealNothing closes the database under a running
// server: the 500 must not mention SQL, drivers, files or stacks.
func TestInternalErrorsRevealNothing(t *testing.T) {
	e := newEnv(t, rest.Config{})
	e.must(201, "PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`))
	e.store.Close()
	for _, r := range []response{
		e.do("GET", "/Patient/p1", nil),
		e.do("PUT", "/Patient/p1", []byte(`{"resourceType":"Patient","id":"p1"}`)),
		e.do("GET", "/_history", nil),
	} {
		outcomeOf(t, r, 500, "exception")
		low := strings.ToLower(string(r.body))
		for _, leak := range []string{"sql", "database", "closed", ".go", "goroutine", "driver", "panic"} {
			if strings.Contains(low, leak) {
				t.Errorf("500 body reveals %q: %s", leak, r.body)
			}
		}
	}
}

func TestParametersWithResource(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := `{"resourceType":"Parameters","id":"pp","parameter":[{"name":"patient","resource":{"resourceType":"Patient","id":"x","active":true}},{"name":"n","valueInteger":3}]}`
	e.must(201, "PUT", "/Parameters/pp", []byte(body))
	bad := `{"resourceType":"Parameters","id":"pp","parameter":[{"name":"patient","resource":{"resourceType":"Patient","id":"x","active":"yes"}}]}`
	r := e.do("PUT", "/Parameters/pp", []byte(bad))
	outcomeOf(t, r, 400, "")
	if !bytes.Contains(r.body, []byte("Parameters.parameter[0].resource")) {
		t.Errorf("nested resource error not located: %s", r.body)
	}
}

func TestNullsInPrimitiveArrays(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := `{"resourceType":"Patient","id":"n1","name":[{"given":["Anna",null],"_given":[null,{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier","valueCode":"CL"}]}]}]}`
	r := e.must(201, "PUT", "/Patient/n1", []byte(body))
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(r.body, []byte(`"given":["Anna",null]`)) {
		t.Errorf("null in primitive array lost: %s", r.body)
	}
}

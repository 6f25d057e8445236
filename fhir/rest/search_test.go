package rest_test

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/rest"
)

// searchEnv loads a small clinic: three patients, heart-rate and
// blood-pressure observations, and an encounter.
func searchEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, rest.Config{DefaultCount: 10, MaxCount: 50})
	put := func(path, body string) {
		t.Helper()
		r := e.do("PUT", path, []byte(body))
		if r.StatusCode != 201 && r.StatusCode != 200 {
			t.Fatalf("PUT %s: %d %s", path, r.StatusCode, r.body)
		}
	}
	put("/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"Müller","given":["Zoë"]}],"gender":"female","birthDate":"1985-03-04","identifier":[{"system":"urn:mrn","value":"A1"}]}`)
	put("/Patient/p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1970-01-01","identifier":[{"system":"urn:mrn","value":"B2"}]}`)
	put("/Patient/p3", `{"resourceType":"Patient","id":"p3","name":[{"family":"Smithers","given":["Wayland"]}],"gender":"male","birthDate":"1990-12-31","active":false}`)
	put("/Encounter/e1", `{"resourceType":"Encounter","id":"e1","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"VR"},"subject":{"reference":"Patient/p1"}}`)
	obs := func(id, patient, code string, value float64, date string) {
		put("/Observation/"+id, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":%q,"valueQuantity":{"value":%v,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`, id, code, patient, date, value))
	}
	obs("o1", "p1", "8867-4", 72, "2026-01-05T10:00:00Z")
	obs("o2", "p1", "8867-4", 110, "2026-02-05T10:00:00Z")
	obs("o3", "p1", "8867-4", 65, "2025-12-24T10:00:00Z")
	obs("o4", "p2", "8867-4", 80, "2026-03-01T08:30:00+02:00")
	obs("o5", "p2", "9279-1", 16, "2026-03-01T08:30:00Z")
	return e
}

type searchset struct {
	ids      []string // match entries as Type/id, in order
	included []string
	outcome  []string // diagnostics of the outcome entry
	total    *float64
	links    map[string]string
}

func (e *env) search(t *testing.T, path string, headers ...string) searchset {
	t.Helper()
	r := e.must(200, "GET", path, nil, headers...)
	return parseSearchset(t, r)
}

func parseSearchset(t *testing.T, r response) searchset {
	t.Helper()
	b := r.json(t)
	if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
		t.Fatalf("not a searchset: %s", r.body)
	}
	s := searchset{links: map[string]string{}}
	if tot, ok := b["total"].(float64); ok {
		s.total = &tot
	}
	for _, l := range b["link"].([]any) {
		m := l.(map[string]any)
		s.links[m["relation"].(string)] = m["url"].(string)
	}
	entries, _ := b["entry"].([]any)
	for _, en := range entries {
		m := en.(map[string]any)
		res := m["resource"].(map[string]any)
		mode := m["search"].(map[string]any)["mode"]
		switch mode {
		case "match":
			s.ids = append(s.ids, res["resourceType"].(string)+"/"+res["id"].(string))
		case "include":
			s.included = append(s.included, res["resourceType"].(string)+"/"+res["id"].(string))
		case "outcome":
			for _, is := range res["issue"].([]any) {
				s.outcome = append(s.outcome, is.(map[string]any)["diagnostics"].(string))
			}
		}
	}
	return s
}

func sorted(s []string) string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

func TestSearchParameters(t *testing.T) {
	e := searchEnv(t)
	cases := []struct{ query, want string }{
		{"/Patient?name=muller", "Patient/p1"},
		{"/Patient?name=MÜL", "Patient/p1"},
		{"/Patient?name=zoe", "Patient/p1"},
		{"/Patient?name=smith", "Patient/p2,Patient/p3"},
		{"/Patient?name:exact=Smith", "Patient/p2"},
		{"/Patient?name:exact=smith", ""},
		{"/Patient?name:contains=ither", "Patient/p3"},
		{"/Patient?family=smith,müller", "Patient/p1,Patient/p2,Patient/p3"},
		{"/Patient?gender=male", "Patient/p2,Patient/p3"},
		{"/Patient?gender:not=male", "Patient/p1"},
		{"/Patient?identifier=urn:mrn|A1", "Patient/p1"},
		{"/Patient?identifier=B2", "Patient/p2"},
		{"/Patient?identifier:missing=true", "Patient/p3"},
		{"/Patient?birthdate=1985", "Patient/p1"},
		{"/Patient?birthdate=ge1980-01-01", "Patient/p1,Patient/p3"},
		{"/Patient?birthdate=lt1980&gender=male", "Patient/p2"},
		{"/Patient?active=false", "Patient/p3"},
		{"/Patient?_id=p1,p3", "Patient/p1,Patient/p3"},
		{"/Observation?code=http://loinc.org|8867-4", "Observation/o1,Observation/o2,Observation/o3,Observation/o4"},
		{"/Observation?code=9279-1", "Observation/o5"},
		{"/Observation?code=http://snomed.info/sct|8867-4", ""},
		{"/Observation?subject=Patient/p2", "Observation/o4,Observation/o5"},
		{"/Observation?subject=p2&code=8867-4", "Observation/o4"},
		{"/Observation?patient=Patient/p1&date=ge2026-01-01", "Observation/o1,Observation/o2"},
		{"/Observation?date=2026-01", "Observation/o1"},
		{"/Observation?date=lt2026-03-01T07:00:00Z", "Observation/o1,Observation/o2,Observation/o3,Observation/o4"},
		{"/Observation?value-quantity=gt100", "Observation/o2"},
		{"/Observation?value-quantity=le72||/min", "Observation/o1,Observation/o3,Observation/o5"},
		{"/Observation?value-quantity=72|http://unitsofmeasure.org|/min", "Observation/o1"},
		{"/Observation?code-value-quantity=http://loinc.org|8867-4$gt100", "Observation/o2"},
		{"/Observation?code-value-quantity=9279-1$gt100", ""},
		{"/Observation?subject:Patient.name=smith", "Observation/o4,Observation/o5"},
		{"/Observation?subject:Patient.identifier=urn:mrn|A1&date=le2026-01-31", "Observation/o1,Observation/o3"},
		{"/Patient?_has:Observation:subject:code=9279-1", "Patient/p2"},
		{"/Patient?_has:Observation:patient:value-quantity=gt100", "Patient/p1"},
		{"/Observation?category=vital-signs&_count=50", "Observation/o1,Observation/o2,Observation/o3,Observation/o4,Observation/o5"},
		{"/Encounter?class=VR&subject.name=müller", "Encounter/e1"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			s := e.search(t, c.query)
			if got := sorted(s.ids); got != c.want {
				t.Errorf("got %s, want %s (outcome %v)", got, c.want, s.outcome)
			}
		})
	}
}

func TestSearchSortPagingTotal(t *testing.T) {
	e := searchEnv(t)
	s := e.search(t, "/Observation?code=8867-4&_sort=-date&_total=accurate")
	if strings.Join(s.ids, ",") != "Observation/o4,Observation/o2,Observation/o1,Observation/o3" {
		t.Errorf("_sort=-date order %v", s.ids)
	}
	if s.total == nil || *s.total != 4 {
		t.Errorf("total %v, want 4", s.total)
	}
	s = e.search(t, "/Patient?_sort=birthdate")
	if strings.Join(s.ids, ",") != "Patient/p2,Patient/p1,Patient/p3" {
		t.Errorf("_sort=birthdate order %v", s.ids)
	}
	s = e.search(t, "/Patient?_sort=gender,-birthdate")
	if strings.Join(s.ids, ",") != "Patient/p1,Patient/p3,Patient/p2" {
		t.Errorf("_sort=gender,-birthdate order %v", s.ids)
	}

	// walk two at a time; a write between pages neither repeats nor drops
	var walked []string
	next := "/Observation?_sort=date&_count=2"
	var pages []searchset
	for i := 0; next != ""; i++ {
		if i > 10 {
			t.Fatal("paging does not end")
		}
		p := e.search(t, next)
		pages = append(pages, p)
		walked = append(walked, p.ids...)
		next = ""
		if n, ok := p.links["next"]; ok {
			next = strings.TrimPrefix(n, e.srv.URL)
		}
		if i == 0 {
			e.must(201, "POST", "/Observation", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"late"},"effectiveDateTime":"2020-01-01"}`))
			e.must(200, "PUT", "/Observation/o5", []byte(`{"resourceType":"Observation","id":"o5","status":"amended","code":{"text":"rr"},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2026-03-01T08:30:00Z"}`))
		}
	}
	if strings.Join(walked, ",") != "Observation/o3,Observation/o1,Observation/o2,Observation/o4,Observation/o5" {
		t.Errorf("walk %v", walked)
	}
	if len(pages) != 3 || pages[0].links["previous"] != "" || pages[1].links["previous"] == "" {
		t.Fatalf("links: %v", pages)
	}
	prev := e.search(t, strings.TrimPrefix(pages[2].links["previous"], e.srv.URL))
	if strings.Join(prev.ids, ",") != strings.Join(pages[1].ids, ",") {
		t.Errorf("previous of page 3 gave %v, want %v", prev.ids, pages[1].ids)
	}

	s = e.search(t, "/Observation?_summary=count")
	if s.total == nil || *s.total != 6 || len(s.ids) != 0 {
		t.Errorf("_summary=count: total %v, %d entries", s.total, len(s.ids))
	}
}

func TestSearchIncludes(t *testing.T) {
	e := searchEnv(t)
	s := e.search(t, "/Observation?code=9279-1&_include=Observation:subject")
	if sorted(s.ids) != "Observation/o5" || sorted(s.included) != "Patient/p2" {
		t.Errorf("_include: %v + %v", s.ids, s.included)
	}
	s = e.search(t, "/Patient?_id=p2&_revinclude=Observation:subject")
	if sorted(s.ids) != "Patient/p2" || sorted(s.included) != "Observation/o4,Observation/o5" {
		t.Errorf("_revinclude: %v + %v", s.ids, s.included)
	}
	s = e.search(t, "/Observation?_id=o1&_include=Observation:encounter&_include:iterate=Encounter:subject")
	if sorted(s.included) != "Encounter/e1,Patient/p1" {
		t.Errorf("_include:iterate: %v", s.included)
	}
}

func TestSearchForms(t *testing.T) {
	e := searchEnv(t)
	r := e.must(200, "POST", "/Observation/_search", []byte("subject=Patient/p2&code=8867-4"), "Content-Type", "application/x-www-form-urlencoded")
	if s := parseSearchset(t, r); sorted(s.ids) != "Observation/o4" {
		t.Errorf("POST _search: %v", s.ids)
	}
	s := e.search(t, "/Patient/p1/Observation?date=ge2026-01-01")
	if sorted(s.ids) != "Observation/o1,Observation/o2" {
		t.Errorf("compartment: %v", s.ids)
	}
	s = e.search(t, "/?_type=Patient,Encounter&_id=p1,e1")
	if sorted(s.ids) != "Encounter/e1,Patient/p1" {
		t.Errorf("system search: %v", s.ids)
	}
	e.must(204, "DELETE", "/Observation/o5", nil)
	if s := e.search(t, "/Observation?code=9279-1"); len(s.ids) != 0 {
		t.Errorf("deleted resource found: %v", s.ids)
	}
	e.must(200, "PUT", "/Patient/p3", []byte(`{"resourceType":"Patient","id":"p3","name":[{"family":"Jones"}]}`))
	if s := e.search(t, "/Patient?name=smithers"); len(s.ids) != 0 {
		t.Errorf("stale index row after update: %v", s.ids)
	}
	if s := e.search(t, "/Patient?name=jones"); sorted(s.ids) != "Patient/p3" {
		t.Errorf("updated index: %v", s.ids)
	}
}

func TestSearchSummaryElements(t *testing.T) {
	e := searchEnv(t)
	r := e.must(200, "GET", "/Patient?_id=p1&_elements=gender", nil)
	b := string(r.body)
	if !strings.Contains(b, `"gender":"female"`) || strings.Contains(b, `"birthDate"`) || !strings.Contains(b, "SUBSETTED") {
		t.Errorf("_elements: %s", b)
	}
	r = e.must(200, "GET", "/Observation?_id=o1&_summary=true", nil)
	b = string(r.body)
	if !strings.Contains(b, `"valueQuantity"`) || !strings.Contains(b, "SUBSETTED") {
		t.Errorf("_summary=true: %s", b)
	}
	r = e.must(200, "GET", "/Observation?_id=o1&_summary=data", nil)
	if strings.Contains(string(r.body), "SUBSETTED") == false {
		t.Errorf("_summary=data not tagged: %s", r.body)
	}
}

func TestSearchErrors(t *testing.T) {
	e := searchEnv(t)
	s := e.search(t, "/Patient?nonsense=1&gender=male")
	if sorted(s.ids) != "Patient/p2,Patient/p3" || len(s.outcome) == 0 || !strings.Contains(strings.Join(s.outcome, " "), "nonsense") {
		t.Errorf("lenient unknown parameter: %v, outcome %v", s.ids, s.outcome)
	}
	r := e.do("GET", "/Patient?nonsense=1", nil, "Prefer", "handling=strict")
	is := outcomeOf(t, r, 400, "")
	if !strings.Contains(fmt.Sprint(is["diagnostics"]), "nonsense") {
		t.Errorf("strict: %s", r.body)
	}
	for _, q := range []string{
		"/Patient?birthdate=1985-13-40",
		"/Patient?birthdate=xx1985",
		"/Observation?subject:Patient.nope=1",
		"/Observation?value-quantity=abc",
		"/Patient?_summary=maybe",
		"/Patient?_count=-1",
		"/Patient?_cursor=garbage",
	} {
		r := e.do("GET", q, nil)
		is := outcomeOf(t, r, 400, "")
		u, _ := url.Parse(q)
		for name := range u.Query() {
			if !strings.Contains(strings.ToLower(fmt.Sprint(is["diagnostics"])), strings.Split(name, ":")[0]) {
				t.Errorf("%s: error does not name the parameter: %s", q, r.body)
			}
		}
	}
	outcomeOf(t, e.do("GET", "/Nope?name=x", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Patient/p1/Nope", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Patient/p1/Organization", nil), 400, "")
}

func TestEverything(t *testing.T) {
	e := searchEnv(t)
	s := e.search(t, "/Patient/p1/$everything")
	if len(s.ids) == 0 || s.ids[0] != "Patient/p1" {
		t.Fatalf("$everything does not start with the patient: %v", s.ids)
	}
	if got := sorted(s.ids); got != "Encounter/e1,Observation/o1,Observation/o2,Observation/o3,Patient/p1" {
		t.Errorf("$everything: %s", got)
	}
	// paged: every resource once
	var all []string
	next := "/Patient/p1/$everything?_count=2"
	for i := 0; next != ""; i++ {
		if i > 10 {
			t.Fatal("paging does not end")
		}
		p := e.search(t, next)
		all = append(all, p.ids...)
		next = strings.TrimPrefix(p.links["next"], e.srv.URL)
	}
	if got := sorted(all); got != "Encounter/e1,Observation/o1,Observation/o2,Observation/o3,Patient/p1" {
		t.Errorf("paged $everything: %s", got)
	}
	outcomeOf(t, e.do("GET", "/Patient/nobody/$everything", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Observation/o1/$everything", nil), 404, "not-found")
	outcomeOf(t, e.do("GET", "/Patient/p1/$everything?_since=2020", nil), 400, "not-supported")
}

func TestBundleLinksAreNotHTMLEscaped(t *testing.T) {
	e := searchEnv(t)
	r := e.must(200, "GET", "/Patient?gender=male&_count=1", nil)
	if strings.Contains(string(r.body), `\u0026`) || !strings.Contains(string(r.body), "gender=male&") && !strings.Contains(string(r.body), "&gender=male") {
		t.Errorf("links escaped: %s", r.body)
	}
}

package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
)

// The tests of this file run the whole stack with access control on. The
// token layer (smart's OAuth server) ends by putting an *access.Grant on
// the request context; withGrants does exactly that for a fixed set of
// bearer tokens, standing in for it.

const (
	catSystem = "http://terminology.hl7.org/CodeSystem/observation-category"
	vsScope   = "category=" + catSystem + "|vital-signs"
)

// tokens are the callers of the tests: bearer token → grant.
func tokens(t *testing.T) map[string]*access.Grant {
	t.Helper()
	g := func(role access.Role, fhirUser, patient, scopes string) *access.Grant {
		set, err := scope.ParseSet(scopes)
		if err != nil {
			t.Fatal(err)
		}
		return &access.Grant{TokenID: "t", ClientID: "test", Role: role, FHIRUser: fhirUser, Patient: patient, Scopes: set,
			ExpiresAt: time.Now().Add(time.Hour)}
	}
	expired := g(access.RolePractitioner, "Practitioner/p1", "", "user/*.cruds")
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	return map[string]*access.Grant{
		"loader":  g(access.RoleSystem, "", "", "system/*.cruds system/AuditEvent.c"),
		"patA":    g(access.RolePatient, "Patient/a", "", "launch/patient patient/*.cruds"),
		"patAvs":  g(access.RolePatient, "Patient/a", "", "patient/Observation.rs?"+vsScope+" patient/Patient.rs"),
		"prac":    g(access.RolePractitioner, "Practitioner/p1", "", "user/*.cruds"),
		"auditor": g(access.RoleAuditor, "Practitioner/aud", "", "user/*.rs"),
		"sysObs":  g(access.RoleSystem, "", "", "system/Observation.rs"),
		"admin":   g(access.RoleAdmin, "Practitioner/adm", "", "user/*.cruds"),
		"expired": expired,
	}
}

func withGrants(grants map[string]*access.Grant) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				if g := grants[tok]; g != nil {
					r = r.WithContext(access.WithGrant(r.Context(), g))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// caller is the env seen with one bearer token.
type caller struct {
	e   *env
	tok string
}

func (e *env) as(tok string) caller { return caller{e, tok} }

func (c caller) do(method, path string, body []byte, headers ...string) response {
	c.e.t.Helper()
	return c.e.do(method, path, body, append([]string{"Authorization", "Bearer " + c.tok}, headers...)...)
}

func (c caller) must(status int, method, path string, body []byte, headers ...string) response {
	c.e.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.StatusCode != status {
		c.e.t.Fatalf("%s: %s %s: status %d, want %d; body: %s", c.tok, method, path, r.StatusCode, status, r.body)
	}
	return r
}

// search walks every page of a search and returns its matches and
// included resources, sorted.
func (c caller) search(path string) (matches, included []string) {
	c.e.t.Helper()
	for path != "" {
		s := parseSearchset(c.e.t, c.must(200, "GET", path, nil))
		matches = append(matches, s.ids...)
		included = append(included, s.included...)
		path = strings.TrimPrefix(s.links["next"], c.e.srv.URL)
	}
	sort.Strings(matches)
	sort.Strings(included)
	return matches, included
}

func obsJSON(id, patient, category, code, extra string) string {
	if id != "" {
		id = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Observation",%s"status":"final","category":[{"coding":[{"system":%q,"code":%q}]}],"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"}%s}`,
		id, catSystem, category, code, patient, extra)
}

// authEnv is a small clinic with two patients, a and b, loaded by a
// Backend Services client.
func authEnv(t *testing.T) *env {
	t.Helper()
	e := newEnvWith(t, rest.Config{DefaultCount: 10, MaxCount: 50}, envOptions{
		authorizer: func(reg *search.Registry) fhir.Authorizer { return access.NewEnforcer(reg) },
		wrap:       withGrants(tokens(t)),
	})
	load := e.as("loader")
	for _, r := range []struct{ path, body string }{
		{"/Patient/a", `{"resourceType":"Patient","id":"a","gender":"female","name":[{"family":"Ames"}]}`},
		{"/Patient/b", `{"resourceType":"Patient","id":"b","gender":"male","name":[{"family":"Bloggs"}]}`},
		{"/Practitioner/p1", `{"resourceType":"Practitioner","id":"p1","name":[{"family":"Welby"}]}`},
		{"/Organization/org1", `{"resourceType":"Organization","id":"org1","name":"Clinic"}`},
		{"/Encounter/ea", `{"resourceType":"Encounter","id":"ea","status":"finished","class":{"code":"VR"},"subject":{"reference":"Patient/a"}}`},
		{"/Encounter/eb", `{"resourceType":"Encounter","id":"eb","status":"finished","class":{"code":"VR"},"subject":{"reference":"Patient/b"}}`},
		{"/Observation/oa1", obsJSON("oa1", "a", "vital-signs", "8867-4", `,"encounter":{"reference":"Encounter/ea"},"performer":[{"reference":"Practitioner/p1"}]`)},
		{"/Observation/oa2", obsJSON("oa2", "a", "laboratory", "2823-3", `,"encounter":{"reference":"Encounter/ea"}`)},
		{"/Observation/ob1", obsJSON("ob1", "b", "vital-signs", "8310-5", `,"identifier":[{"system":"urn:x","value":"ob1"}]`)},
		{"/Observation/oa3", obsJSON("oa3", "a", "vital-signs", "85354-9", `,"hasMember":[{"reference":"Observation/ob1"},{"reference":"Observation/oa2"}]`)},
		{"/Observation/ob2", obsJSON("ob2", "b", "laboratory", "2951-2", ``)},
		// Another patient's Observation in a's encounter: data is messy.
		{"/Observation/ob3", obsJSON("ob3", "b", "vital-signs", "9279-1", `,"encounter":{"reference":"Encounter/ea"}`)},
		{"/Condition/ca", `{"resourceType":"Condition","id":"ca","subject":{"reference":"Patient/a"}}`},
		{"/Condition/cb", `{"resourceType":"Condition","id":"cb","subject":{"reference":"Patient/b"}}`},
	} {
		load.must(201, "PUT", r.path, []byte(r.body))
	}
	load.must(201, "POST", "/AuditEvent", []byte(`{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true,"who":{"reference":"Practitioner/p1"}}],"source":{"observer":{"display":"telefhir"}},"entity":[{"what":{"reference":"Patient/a"}}]}`))
	return e
}

func list(s string) []string { return slices.Sorted(strings.FieldsSeq(s)) }

// TestAuthStatuses: 401 without a (valid) token, 403 for what the token
// may not do at all, 404 for resources outside its compartment or
// filters, exactly as for resources that do not exist.
func TestAuthStatuses(t *testing.T) {
	e := authEnv(t)
	r := e.do("GET", "/Patient/a", nil)
	outcomeOf(t, r, 401, "login")
	if got := r.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	outcomeOf(t, e.as("unknown").do("GET", "/Observation", nil), 401, "login")
	outcomeOf(t, e.as("expired").do("GET", "/Patient/a", nil), 401, "login")
	outcomeOf(t, e.do("POST", "/Patient", []byte(`{"resourceType":"Patient"}`)), 401, "login")
	e.must(200, "GET", "/metadata", nil) // discovery needs no token

	notKnown := func(r response) string {
		t.Helper()
		return outcomeOf(t, r, 404, "not-found")["diagnostics"].(string)
	}
	for _, tc := range []struct {
		tok, path string
		status    int
	}{
		{"patA", "/Patient/a", 200},
		{"patA", "/Patient/b", 404},
		{"patA", "/Observation/ob1", 404},
		{"patA", "/Observation/ob1/_history/1", 404},
		{"patA", "/Observation/ob1/_history", 404},
		{"patA", "/Patient/b/$everything", 404},
		{"patA", "/Practitioner/p1", 200},
		{"patA", "/AuditEvent/" + firstID(t, e.as("auditor"), "/AuditEvent"), 403},
		{"patA", "/Device/d1", 403},
		{"patAvs", "/Observation/oa1", 200},
		{"patAvs", "/Observation/oa2", 404},
		{"patAvs", "/Condition/ca", 403},
		{"patAvs", "/Condition", 403},
		{"prac", "/Observation/ob1", 200},
		{"prac", "/AuditEvent", 403},
		{"auditor", "/AuditEvent", 200},
		{"auditor", "/Patient/a", 403},
		{"auditor", "/Observation", 403},
		{"sysObs", "/Observation/ob1", 200},
		{"sysObs", "/Patient/a", 403},
		{"sysObs", "/Condition", 403},
		{"sysObs", "/?_type=Condition", 403},
		{"admin", "/Organization/org1", 200},
		{"admin", "/Patient/a", 403},
		{"admin", "/Observation?code=8867-4", 403},
	} {
		r := e.as(tc.tok).do("GET", tc.path, nil)
		switch tc.status {
		case 200:
			if r.StatusCode != 200 {
				t.Errorf("%s GET %s: %d, want 200: %s", tc.tok, tc.path, r.StatusCode, r.body)
			}
		case 403:
			outcomeOf(t, r, 403, "forbidden")
		case 404:
			notKnown(r)
		}
	}
	// Out of compartment reads are answered word for word as unknown ids.
	hidden := strings.ReplaceAll(notKnown(e.as("patA").do("GET", "/Observation/ob1", nil)), "ob1", "X")
	unknown := strings.ReplaceAll(notKnown(e.as("patA").do("GET", "/Observation/nope", nil)), "nope", "X")
	if hidden != unknown {
		t.Errorf("a hidden resource is told apart from an unknown one: %q vs %q", hidden, unknown)
	}
}

func firstID(t *testing.T, c caller, path string) string {
	t.Helper()
	m, _ := c.search(path)
	if len(m) == 0 {
		t.Fatalf("%s: nothing found", path)
	}
	_, id, _ := strings.Cut(m[0], "/")
	return id
}

// TestPatientStaysInCompartment: a patient's token cannot read, search,
// include, revinclude, chain, _has, history, $everything, write
// conditionally or patch its way into another patient's data.
func TestPatientStaysInCompartment(t *testing.T) {
	e := authEnv(t)
	pat, prac := e.as("patA"), e.as("prac")
	searches := []struct {
		path               string
		matches, included  string
		practitionerSeesIt string // what a practitioner's search finds, to show the query could leak
	}{
		{"/Observation", "Observation/oa1 Observation/oa2 Observation/oa3", "", ""},
		{"/Observation?_count=1", "Observation/oa1 Observation/oa2 Observation/oa3", "", ""},
		{"/Observation?subject=Patient/b", "", "", "Observation/ob1 Observation/ob2 Observation/ob3"},
		{"/Patient", "Patient/a", "", ""},
		{"/Patient/b/Observation", "", "", "Observation/ob1 Observation/ob2 Observation/ob3"},
		{"/Patient/a/Observation?category=laboratory", "Observation/oa2", "", ""},
		{"/Observation?_id=oa3&_include=Observation:has-member", "Observation/oa3", "Observation/oa2", ""},
		{"/Encounter?_id=ea&_revinclude=Observation:encounter", "Encounter/ea", "Observation/oa1 Observation/oa2", ""},
		{"/Patient?_id=a,b&_revinclude=Observation:subject&_include:iterate=Observation:has-member", "Patient/a",
			"Observation/oa1 Observation/oa2 Observation/oa3", ""},
		// Chains and _has reach only what the token may search itself.
		{"/Observation?has-member.code=http://loinc.org|8310-5", "", "", "Observation/oa3"},
		{"/Observation?has-member:Observation.subject=Patient/b", "", "", "Observation/oa3"},
		{"/Encounter?_has:Observation:encounter:subject=Patient/b", "", "", "Encounter/ea"},
		{"/Observation?subject.name=Bloggs", "", "", "Observation/ob1 Observation/ob2 Observation/ob3"},
		{"/Observation?subject.name=Ames", "Observation/oa1 Observation/oa2 Observation/oa3", "", ""},
		// System level.
		{"/?_type=Observation,Condition", "Condition/ca Observation/oa1 Observation/oa2 Observation/oa3", "", ""},
		{"/?_type=Condition,Patient&_id=b,cb", "", "", "Condition/cb Patient/b"},
		{"/?_id=a,ca,cb,b,ob1,p1", "Condition/ca Patient/a Practitioner/p1", "", ""},
	}
	for _, s := range searches {
		m, inc := pat.search(s.path)
		if diff := cmp.Diff(list(s.matches), m); diff != "" {
			t.Errorf("%s: matches (-want +got):\n%s", s.path, diff)
		}
		if diff := cmp.Diff(list(s.included), inc); diff != "" {
			t.Errorf("%s: included (-want +got):\n%s", s.path, diff)
		}
		if s.practitionerSeesIt != "" {
			if m, _ := prac.search(s.path); !cmp.Equal(list(s.practitionerSeesIt), m) {
				t.Errorf("%s: the practitioner finds %v, want %s", s.path, m, s.practitionerSeesIt)
			}
		}
	}
	// Totals count what the patient may see.
	s := parseSearchset(t, pat.must(200, "GET", "/Observation?_total=accurate&_count=1", nil))
	if s.total == nil || *s.total != 3 {
		t.Errorf("total %v, want 3", s.total)
	}
	if s := parseSearchset(t, pat.must(200, "GET", "/Observation?_summary=count", nil)); s.total == nil || *s.total != 3 {
		t.Errorf("_summary=count total %v, want 3", s.total)
	}

	// $everything: a's record holds nothing of b's.
	ev := parseSearchset(t, pat.must(200, "GET", "/Patient/a/$everything?_count=50", nil))
	for _, id := range ev.ids {
		if strings.HasSuffix(id, "/b") || strings.Contains(id, "/ob") || id == "Condition/cb" || strings.HasPrefix(id, "AuditEvent/") {
			t.Errorf("$everything of a holds %s", id)
		}
	}
	if !slices.Contains(ev.ids, "Observation/oa1") || !slices.Contains(ev.ids, "Condition/ca") {
		t.Errorf("$everything of a misses a's data: %v", ev.ids)
	}

	// History at every level.
	for _, path := range []string{"/Observation/_history", "/_history"} {
		r := pat.must(200, "GET", path+"?_count=50", nil)
		for _, bad := range []string{`"ob1"`, `"ob2"`, `"ob3"`, `"cb"`, `"b"`, `AuditEvent`} {
			if strings.Contains(string(r.body), bad) {
				t.Errorf("%s shows %s", path, bad)
			}
		}
		if !strings.Contains(string(r.body), `"oa1"`) {
			t.Errorf("%s misses oa1: %s", path, r.body)
		}
	}

	// Writes.
	outcomeOf(t, pat.do("POST", "/Observation", []byte(obsJSON("", "b", "vital-signs", "8867-4", ""))), 403, "forbidden")
	issue := outcomeOf(t, pat.do("PUT", "/Observation/new1", []byte(obsJSON("new1", "b", "vital-signs", "8867-4", ""))), 403, "forbidden")
	if exprs, _ := issue["expression"].([]any); len(exprs) == 0 || !strings.Contains(fmt.Sprint(exprs), "Observation.subject") {
		t.Errorf("the refusal does not name where the compartment is: %v", issue)
	}
	pat.must(201, "POST", "/Observation", []byte(obsJSON("", "a", "vital-signs", "8867-4", "")))
	outcomeOf(t, pat.do("PUT", "/Observation/ob1", []byte(obsJSON("ob1", "a", "vital-signs", "8867-4", ""))), 404, "not-found")
	outcomeOf(t, pat.do("DELETE", "/Observation/ob1", nil), 404, "not-found")
	outcomeOf(t, pat.do("PATCH", "/Observation/ob1", []byte(`[{"op":"replace","path":"/status","value":"cancelled"}]`),
		"Content-Type", "application/json-patch+json"), 404, "not-found")
	outcomeOf(t, pat.do("PATCH", "/Observation/oa1", []byte(`[{"op":"replace","path":"/subject/reference","value":"Patient/b"}]`),
		"Content-Type", "application/json-patch+json"), 403, "forbidden")
	outcomeOf(t, pat.do("PUT", "/Observation/oa2", []byte(obsJSON("oa2", "b", "laboratory", "2823-3", ""))), 403, "forbidden")
	// Conditional writes: the criteria see only a's data.
	r := pat.must(201, "POST", "/Observation", []byte(obsJSON("", "a", "vital-signs", "8310-5", "")), "If-None-Exist", "identifier=urn:x|ob1")
	if strings.Contains(string(r.body), `"ob1"`) {
		t.Errorf("If-None-Exist returned b's resource: %s", r.body)
	}
	outcomeOf(t, pat.do("PUT", "/Observation?identifier=urn:x|ob1", []byte(obsJSON("", "b", "vital-signs", "8310-5", ""))), 403, "forbidden")
	pat.must(201, "PUT", "/Observation?identifier=urn:x|ob1", []byte(obsJSON("", "a", "vital-signs", "8310-5", "")))
	pat.must(204, "DELETE", "/Observation?identifier=urn:x|ob1", nil)
	pat.must(204, "DELETE", "/Observation?identifier=urn:x|ob1&subject=Patient/b", nil)
	// b's data is untouched.
	for _, path := range []string{"/Observation/ob1", "/Observation/ob2", "/Observation/ob3", "/Patient/b", "/Condition/cb"} {
		if r := prac.must(200, "GET", path, nil); !strings.Contains(string(r.body), `"versionId":"1"`) {
			t.Errorf("%s changed: %s", path, r.body)
		}
	}
	if r := prac.must(200, "GET", "/Observation/oa1", nil); !strings.Contains(string(r.body), "Patient/a") {
		t.Errorf("oa1 moved: %s", r.body)
	}
}

// TestGranularVitalSigns: a patient/Observation.rs?category=vital-signs
// token sees only vital signs: search, read and include.
func TestGranularVitalSigns(t *testing.T) {
	e := authEnv(t)
	vs := e.as("patAvs")
	m, inc := vs.search("/Observation?_id=oa1,oa2,oa3&_include=Observation:has-member")
	if diff := cmp.Diff(list("Observation/oa1 Observation/oa3"), m); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	if len(inc) != 0 {
		t.Errorf("included %v: has-member points at a's laboratory result and b's vital signs", inc)
	}
	m, _ = vs.search("/Observation?category=laboratory")
	if len(m) != 0 {
		t.Errorf("laboratory results found: %v", m)
	}
	m, _ = vs.search("/Patient/a/Observation")
	if diff := cmp.Diff(list("Observation/oa1 Observation/oa3"), m); diff != "" {
		t.Errorf("compartment search (-want +got):\n%s", diff)
	}
	vs.must(200, "GET", "/Observation/oa3", nil)
	outcomeOf(t, vs.do("GET", "/Observation/oa2", nil), 404, "not-found")
	outcomeOf(t, vs.do("GET", "/Observation?encounter.status=finished", nil), 403, "forbidden") // a chain through Encounter
	outcomeOf(t, vs.do("POST", "/Observation", []byte(obsJSON("", "a", "vital-signs", "8867-4", ""))), 403, "forbidden")
	ev := parseSearchset(t, vs.must(200, "GET", "/Patient/a/$everything", nil))
	if diff := cmp.Diff([]string{"Patient/a", "Observation/oa1", "Observation/oa3"}, ev.ids, cmp.Transformer("sort", func(s []string) []string {
		s = slices.Clone(s)
		sort.Strings(s)
		return s
	})); diff != "" {
		t.Errorf("$everything (-want +got):\n%s", diff)
	}
}

// TestRolesAndSystemScopes: a practitioner's user scope sees all clinical
// data and no AuditEvent; an auditor only AuditEvents; a system scope is
// bounded by its types.
func TestRolesAndSystemScopes(t *testing.T) {
	e := authEnv(t)
	allObs := "Observation/oa1 Observation/oa2 Observation/oa3 Observation/ob1 Observation/ob2 Observation/ob3"
	for _, tc := range []struct {
		tok, path, want string
	}{
		{"prac", "/Observation", allObs},
		{"prac", "/Patient", "Patient/a Patient/b"},
		{"prac", "/?_id=a,b,ob1", "Observation/ob1 Patient/a Patient/b"},
		{"sysObs", "/Observation", allObs},
		{"sysObs", "/?_id=a,b,ob1,oa1", "Observation/oa1 Observation/ob1"},
		{"admin", "/?_id=a,b,ob1,p1,org1", "Organization/org1 Practitioner/p1"},
	} {
		if m, _ := e.as(tc.tok).search(tc.path); !cmp.Equal(list(tc.want), m) {
			t.Errorf("%s %s: %v, want %s", tc.tok, tc.path, m, tc.want)
		}
	}
	m, _ := e.as("auditor").search("/AuditEvent?patient=Patient/a")
	if len(m) != 1 {
		t.Errorf("auditor finds %v", m)
	}
	if m, _ := e.as("auditor").search("/"); len(m) != 1 || !strings.HasPrefix(m[0], "AuditEvent/") {
		t.Errorf("auditor's system search finds %v", m)
	}
	if m, _ := e.as("prac").search("/Patient/a/$everything"); slices.ContainsFunc(m, func(s string) bool { return strings.HasPrefix(s, "AuditEvent/") }) {
		t.Errorf("a practitioner's $everything holds AuditEvents: %v", m)
	}
	outcomeOf(t, e.as("prac").do("GET", "/Patient?_has:AuditEvent:patient:type=rest", nil), 403, "forbidden")
	outcomeOf(t, e.as("prac").do("GET", "/AuditEvent/_history", nil), 403, "forbidden")
	outcomeOf(t, e.as("auditor").do("DELETE", "/AuditEvent/"+firstID(t, e.as("auditor"), "/AuditEvent"), nil), 403, "forbidden")
	outcomeOf(t, e.as("sysObs").do("POST", "/Observation", []byte(obsJSON("", "a", "vital-signs", "8867-4", ""))), 403, "forbidden")
	e.as("prac").must(201, "POST", "/Observation", []byte(obsJSON("", "b", "vital-signs", "8867-4", "")))
	if r := e.as("prac").must(200, "GET", "/_history?_count=50", nil); strings.Contains(string(r.body), `"AuditEvent"`) {
		t.Errorf("a practitioner's system history shows AuditEvents")
	}
}

// history walks every page of a history Bundle and returns its entries as
// "METHOD Type/id", and the sizes of its pages.
func (c caller) history(path string) (entries []string, pages []int) {
	c.e.t.Helper()
	for path != "" {
		b := c.must(200, "GET", path, nil).json(c.e.t)
		es, _ := b["entry"].([]any)
		pages = append(pages, len(es))
		for _, en := range es {
			req := en.(map[string]any)["request"].(map[string]any)
			entries = append(entries, req["method"].(string)+" "+req["url"].(string))
		}
		path = ""
		for _, l := range b["link"].([]any) {
			if m := l.(map[string]any); m["relation"] == "next" {
				path = strings.TrimPrefix(m["url"].(string), c.e.srv.URL)
			}
		}
	}
	return entries, pages
}

// TestHistoryUnderAccess: history pages leave out what the token may not
// see, deletes included, and stay full.
func TestHistoryUnderAccess(t *testing.T) {
	e := authEnv(t)
	prac, pat := e.as("prac"), e.as("patA")
	prac.must(200, "PUT", "/Observation/oa1", []byte(obsJSON("oa1", "a", "vital-signs", "8867-4", `,"note":[{"text":"v2"}]`)))
	prac.must(204, "DELETE", "/Observation/ob2", nil)
	prac.must(204, "DELETE", "/Observation/oa2", nil)

	entries, pages := pat.history("/_history?_count=2")
	for _, en := range entries {
		_, ref, _ := strings.Cut(en, " ")
		ok := slices.Contains([]string{"Patient/a", "Observation/oa1", "Observation/oa2", "Observation/oa3", "Encounter/ea", "Condition/ca",
			"Practitioner/p1", "Organization/org1"}, strings.SplitN(ref, "/_history", 2)[0])
		if !ok {
			t.Errorf("patient's system history shows %s", en)
		}
	}
	if !slices.Contains(entries, "DELETE Observation/oa2") || slices.Contains(entries, "DELETE Observation/ob2") {
		t.Errorf("deletes in the patient's history: %v", entries)
	}
	if n := len(entries); n != 10 {
		t.Errorf("%d entries, want 10 (8 resources, oa1 twice, oa2's delete): %v", n, entries)
	}
	for i, n := range pages[:len(pages)-1] {
		if n != 2 {
			t.Errorf("page %d has %d entries, want 2: %v", i, n, pages)
		}
	}
	entries, _ = pat.history("/Observation/oa2/_history")
	if want := []string{"DELETE Observation/oa2", "PUT Observation/oa2"}; !cmp.Equal(want, entries) {
		t.Errorf("oa2's history: %v, want %v", entries, want)
	}
	outcomeOf(t, pat.do("GET", "/Observation/ob2/_history", nil), 404, "not-found")
	outcomeOf(t, pat.do("GET", "/Observation/ob2/_history/2", nil), 404, "not-found")
	outcomeOf(t, pat.do("GET", "/Observation/oa2", nil), 410, "deleted")
	outcomeOf(t, pat.do("GET", "/Observation/ob2", nil), 404, "not-found")
	patch := []byte(`[{"op":"replace","path":"/status","value":"amended"}]`)
	outcomeOf(t, pat.do("PATCH", "/Observation/oa2", patch, "Content-Type", "application/json-patch+json"), 410, "deleted")
	outcomeOf(t, pat.do("PATCH", "/Observation/ob2", patch, "Content-Type", "application/json-patch+json"), 404, "not-found")
	if entries, _ := prac.history("/Observation/_history"); !slices.Contains(entries, "DELETE Observation/ob2") {
		t.Errorf("the practitioner misses ob2's delete: %v", entries)
	}
}

// TestBundleEntriesUnderAccess: each entry of a transaction or batch is
// checked as the same interaction over REST: a patient token can neither
// write into nor read out of another patient's compartment through a
// Bundle, and a transaction with one forbidden entry changes nothing.
func TestBundleEntriesUnderAccess(t *testing.T) {
	e := authEnv(t)
	pat, prac := e.as("patA"), e.as("prac")
	bundle := func(typ string, entries ...string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`)
	}
	post := func(res string) string {
		return `{"fullUrl":"urn:uuid:` + fmt.Sprint(len(res)) + `-0000-4000-8000-000000000000","resource":` + res + `,"request":{"method":"POST","url":"Observation"}}`
	}
	get := func(url string) string { return `{"request":{"method":"GET","url":"` + url + `"}}` }

	// A transaction that writes for a and for b: refused whole.
	r := pat.do("POST", "/", bundle("transaction", post(obsJSON("", "a", "vital-signs", "8867-4", "")), post(obsJSON("", "b", "vital-signs", "8310-5", `,"note":[{"text":"x"}]`))))
	if r.StatusCode != 403 {
		t.Fatalf("transaction writing for another patient: %d, want 403; %s", r.StatusCode, r.body)
	}
	if m, _ := prac.search("/Observation?code=http://loinc.org|8867-4"); len(m) != 1 {
		t.Errorf("the refused transaction left writes behind: %v", m)
	}
	// The patient's own write goes through.
	pat.must(200, "POST", "/", bundle("transaction", post(obsJSON("", "a", "vital-signs", "8867-4", ""))))

	// A batch: reads of b's data answer 404 per entry, a's own data 200.
	r = pat.must(200, "POST", "/", bundle("batch", get("Observation/ob1"), get("Observation/oa1"), get("Observation?subject=Patient/b"), get("Patient/b")))
	var resp struct {
		Entry []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(r.body), &resp); err != nil {
		t.Fatal(err)
	}
	want := []string{"404", "200", "200", "404"}
	for i, en := range resp.Entry {
		if i < len(want) && !strings.HasPrefix(en.Response.Status, want[i]) {
			t.Errorf("batch entry %d: status %q, want %s", i, en.Response.Status, want[i])
		}
	}
	if len(resp.Entry) == 4 && strings.Contains(string(resp.Entry[2].Resource), `"Observation"`) && strings.Contains(string(resp.Entry[2].Resource), "Patient/b") {
		t.Errorf("the batch search of b's Observations returned some: %s", resp.Entry[2].Resource)
	}
	// Deleting b's Observation through a transaction: 404, as over REST.
	r = pat.do("POST", "/", bundle("transaction", `{"request":{"method":"DELETE","url":"Observation/ob1"}}`))
	if r.StatusCode == 200 {
		t.Errorf("transaction deleting another patient's Observation succeeded")
	}
	prac.must(200, "GET", "/Observation/ob1", nil)
}

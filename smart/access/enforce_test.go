package access_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
)

const (
	vitalSigns = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}`
	laboratory = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}`
	vsFilter   = "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
	labFilter  = "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
)

// corpus are the resources every case is decided on, by name.
var corpus = []struct{ name, typ, id, body string }{
	{"patA", "Patient", "a", `{"resourceType":"Patient","id":"a"}`},
	{"patB", "Patient", "b", `{"resourceType":"Patient","id":"b"}`},
	{"obsAvs", "Observation", "o1", `{"resourceType":"Observation","id":"o1","status":"final","category":[` + vitalSigns + `],"code":{"text":"hr"},"subject":{"reference":"Patient/a"}}`},
	{"obsAlab", "Observation", "o2", `{"resourceType":"Observation","id":"o2","status":"final","category":[` + laboratory + `],"code":{"text":"k"},"subject":{"reference":"Patient/a"}}`},
	{"obsBvs", "Observation", "o3", `{"resourceType":"Observation","id":"o3","status":"final","category":[` + vitalSigns + `],"code":{"text":"hr"},"subject":{"reference":"Patient/b"}}`},
	{"obsBbyA", "Observation", "o4", `{"resourceType":"Observation","id":"o4","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/b"},"performer":[{"reference":"Patient/a"}]}`},
	{"condA", "Condition", "c1", `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/a"}}`},
	{"audit", "AuditEvent", "ae1", `{"resourceType":"AuditEvent","id":"ae1","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"telefhir"}},"entity":[{"what":{"reference":"Patient/a"}}]}`},
	{"prac", "Practitioner", "p1", `{"resourceType":"Practitioner","id":"p1"}`},
	{"org", "Organization", "org1", `{"resourceType":"Organization","id":"org1"}`},
	{"device", "Device", "d1", `{"resourceType":"Device","id":"d1","patient":{"reference":"Patient/a"}}`},
}

var (
	regOnce sync.Once
	reg     *search.Registry
	indexes map[string]*search.Index
)

func registry(t *testing.T) *search.Registry {
	t.Helper()
	regOnce.Do(func() {
		r, err := search.NewRegistry(search.Options{})
		if err != nil {
			panic(err)
		}
		indexes = map[string]*search.Index{}
		for _, c := range corpus {
			x, err := r.ExtractJSON(c.typ, []byte(c.body))
			if err != nil {
				panic(c.name + ": " + err.Error())
			}
			indexes[c.name] = x
		}
		reg = r
	})
	return reg
}

// permitted lists the corpus resources p lets through.
func permitted(t *testing.T, e *access.Enforcer, g *access.Grant, a fhir.Action) []string {
	t.Helper()
	var out []string
	for _, c := range corpus {
		p := e.Decide(g, c.typ, a)
		if allows(t, p, c.typ, c.id, indexes[c.name]) {
			out = append(out, c.name)
		}
	}
	sort.Strings(out)
	return out
}

func allows(t *testing.T, p fhir.Permit, typ, id string, x *search.Index) bool {
	t.Helper()
	if p.All {
		return true
	}
	for _, alt := range p.Any {
		ok, err := search.Eval(alt, search.Target{Type: typ, ID: id, Index: x})
		if err != nil {
			t.Fatalf("permit of %s is not evaluable: %v", typ, err)
		}
		if ok {
			return true
		}
	}
	return false
}

func grant(t *testing.T, role access.Role, fhirUser, patient, scopes string) *access.Grant {
	t.Helper()
	set, err := scope.ParseSet(scopes)
	if err != nil {
		t.Fatal(err)
	}
	return &access.Grant{Role: role, FHIRUser: fhirUser, Patient: patient, Scopes: set}
}

func names(s string) []string { return slices.Sorted(strings.FieldsSeq(s)) }

// TestDecide is scope × role × compartment × filter, decided on real
// resources: each case lists the corpus resources the grant lets through
// for each action.
func TestDecide(t *testing.T) {
	e := access.NewEnforcer(registry(t))
	const (
		everythingButAudit = "patA patB obsAvs obsAlab obsBvs obsBbyA condA prac org device"
		patientA           = "patA obsAvs obsAlab obsBbyA condA"
		shared             = "prac org"
	)
	r, s, c, u, d := fhir.ActionRead, fhir.ActionSearch, fhir.ActionCreate, fhir.ActionUpdate, fhir.ActionDelete
	for _, tc := range []struct {
		what                      string
		role                      access.Role
		fhirUser, patient, scopes string
		want                      map[fhir.Action]string
	}{
		{"practitioner, user/*.rs: all clinical data, no AuditEvent", access.RolePractitioner, "Practitioner/p1", "", "user/*.rs",
			map[fhir.Action]string{r: everythingButAudit, s: everythingButAudit, c: "", u: "", d: ""}},
		{"practitioner, user/*.cruds", access.RolePractitioner, "Practitioner/p1", "", "user/*.cruds",
			map[fhir.Action]string{c: everythingButAudit, d: everythingButAudit}},
		{"practitioner, v1 user/Observation.read", access.RolePractitioner, "Practitioner/p1", "", "user/Observation.read",
			map[fhir.Action]string{r: "obsAvs obsAlab obsBvs obsBbyA", s: "obsAvs obsAlab obsBvs obsBbyA", c: ""}},
		{"practitioner, patient/*.rs in a's context", access.RolePractitioner, "Practitioner/p1", "a", "patient/*.rs",
			map[fhir.Action]string{r: patientA + " " + shared, s: patientA + " " + shared, c: ""}},
		{"practitioner, patient/*.rs without a patient: nothing", access.RolePractitioner, "Practitioner/p1", "", "patient/*.rs",
			map[fhir.Action]string{r: "", s: ""}},
		{"practitioner, user filter", access.RolePractitioner, "Practitioner/p1", "", "user/Observation.rs?" + labFilter,
			map[fhir.Action]string{r: "obsAlab", s: "obsAlab"}},
		{"practitioner, user filter or patient scope", access.RolePractitioner, "Practitioner/p1", "b", "user/Observation.rs?" + labFilter + " patient/Observation.rs",
			map[fhir.Action]string{r: "obsAlab obsBvs obsBbyA"}},
		{"practitioner, system scopes grant nothing", access.RolePractitioner, "Practitioner/p1", "", "system/*.cruds",
			map[fhir.Action]string{r: "", c: ""}},

		{"patient, user/*.rs: own compartment and shared data", access.RolePatient, "Patient/a", "", "user/*.rs",
			map[fhir.Action]string{r: patientA + " " + shared, s: patientA + " " + shared, c: ""}},
		{"patient, user/*.cruds: writes only in the compartment", access.RolePatient, "Patient/a", "", "user/*.cruds",
			map[fhir.Action]string{c: patientA, u: patientA, d: patientA, r: patientA + " " + shared}},
		{"patient, patient/*.rs", access.RolePatient, "Patient/a", "", "patient/*.rs",
			map[fhir.Action]string{r: patientA + " " + shared}},
		{"patient, launch context wins", access.RolePatient, "Patient/a", "b", "patient/Observation.rs",
			map[fhir.Action]string{r: "obsBvs obsBbyA"}},
		{"patient, proxy user", access.RolePatient, "RelatedPerson/r1", "a", "user/Observation.rs",
			map[fhir.Action]string{r: "obsAvs obsAlab obsBbyA"}},
		{"patient without a patient: nothing", access.RolePatient, "RelatedPerson/r1", "", "user/*.cruds",
			map[fhir.Action]string{r: "", c: ""}},
		{"patient, granular vital signs", access.RolePatient, "Patient/a", "", "patient/Observation.rs?" + vsFilter,
			map[fhir.Action]string{r: "obsAvs", s: "obsAvs", c: ""}},
		{"patient, two granular scopes", access.RolePatient, "Patient/a", "", "patient/Observation.rs?" + vsFilter + " patient/Observation.rs?" + labFilter,
			map[fhir.Action]string{r: "obsAvs obsAlab"}},
		{"patient, a filter and no filter", access.RolePatient, "Patient/a", "", "patient/Observation.rs?" + vsFilter + " patient/Observation.r",
			map[fhir.Action]string{r: "obsAvs obsAlab obsBbyA", s: "obsAvs"}},
		{"patient, wildcard with a filter", access.RolePatient, "Patient/a", "", "patient/*.rs?" + vsFilter,
			map[fhir.Action]string{r: "obsAvs"}},
		{"patient, unknown filter parameter: nothing", access.RolePatient, "Patient/a", "", "patient/Observation.rs?nonsense=1",
			map[fhir.Action]string{r: ""}},
		{"patient, chained filter: nothing", access.RolePatient, "Patient/a", "", "patient/Observation.rs?subject:Patient.name=x",
			map[fhir.Action]string{r: ""}},
		{"patient, result parameter as filter: nothing", access.RolePatient, "Patient/a", "", "patient/Observation.rs?_count=1",
			map[fhir.Action]string{r: ""}},
		{"patient, AuditEvent scope: nothing", access.RolePatient, "Patient/a", "", "patient/AuditEvent.rs user/AuditEvent.rs",
			map[fhir.Action]string{r: ""}},

		{"auditor, user/*.rs: AuditEvent only", access.RoleAuditor, "Practitioner/aud", "", "user/*.rs",
			map[fhir.Action]string{r: "audit", s: "audit", c: ""}},
		{"auditor, user/AuditEvent.cruds: never writes", access.RoleAuditor, "Practitioner/aud", "", "user/AuditEvent.cruds",
			map[fhir.Action]string{r: "audit", c: "", u: "", d: ""}},
		{"auditor, patient/AuditEvent.rs in a's context", access.RoleAuditor, "Practitioner/aud", "a", "patient/AuditEvent.rs",
			map[fhir.Action]string{r: "audit"}},
		{"auditor, patient/AuditEvent.rs in b's context", access.RoleAuditor, "Practitioner/aud", "b", "patient/AuditEvent.rs",
			map[fhir.Action]string{r: ""}},

		{"admin, user/*.cruds: shared data only", access.RoleAdmin, "Practitioner/adm", "", "user/*.cruds",
			map[fhir.Action]string{r: shared, c: shared, u: shared, d: shared}},
		{"admin, user/Observation.rs: nothing", access.RoleAdmin, "Practitioner/adm", "", "user/Observation.rs",
			map[fhir.Action]string{r: ""}},

		{"system, system/*.rs: all but AuditEvent", access.RoleSystem, "", "", "system/*.rs",
			map[fhir.Action]string{r: everythingButAudit, s: everythingButAudit, c: ""}},
		{"system, system/AuditEvent.cruds: no updates or deletes", access.RoleSystem, "", "", "system/AuditEvent.cruds",
			map[fhir.Action]string{r: "audit", s: "audit", c: "audit", u: "", d: ""}},
		{"system, system/Observation.rs bounded by type", access.RoleSystem, "", "", "system/Observation.rs",
			map[fhir.Action]string{r: "obsAvs obsAlab obsBvs obsBbyA", c: ""}},
		{"system, user and patient scopes grant nothing", access.RoleSystem, "", "a", "user/*.cruds patient/*.cruds",
			map[fhir.Action]string{r: ""}},
		{"unknown role: nothing", access.Role("nurse"), "Practitioner/p1", "a", "user/*.cruds patient/*.cruds",
			map[fhir.Action]string{r: "", c: ""}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			g := grant(t, tc.role, tc.fhirUser, tc.patient, tc.scopes)
			for _, a := range []fhir.Action{c, r, u, d, s} {
				want, ok := tc.want[a]
				if !ok {
					continue
				}
				if diff := cmp.Diff(names(want), permitted(t, e, g, a)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", a, diff)
				}
			}
		})
	}
}

func TestPermitNeedsAGrant(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e := &access.Enforcer{Registry: registry(t), Now: func() time.Time { return now }}
	ctx := context.Background()
	if _, err := e.Permit(ctx, "Patient", fhir.ActionRead); !outcome.Is(err, outcome.KindUnauthorized) {
		t.Errorf("no grant: %v, want 401", err)
	}
	g := grant(t, access.RolePractitioner, "Practitioner/p1", "", "user/*.rs")
	g.ExpiresAt = now
	if _, err := e.Permit(access.WithGrant(ctx, g), "Patient", fhir.ActionRead); !outcome.Is(err, outcome.KindUnauthorized) {
		t.Errorf("expired grant: %v, want 401", err)
	}
	g.ExpiresAt = now.Add(time.Minute)
	if p, err := e.Permit(access.WithGrant(ctx, g), "Patient", fhir.ActionRead); err != nil || !p.All {
		t.Errorf("valid grant: %+v, %v", p, err)
	}
	if p := e.Decide(g, "NotAType", fhir.ActionRead); !p.Denied() {
		t.Errorf("unknown type permitted: %+v", p)
	}
}

func TestPatientContext(t *testing.T) {
	for _, tc := range []struct {
		fhirUser, patient, want string
	}{
		{"Patient/a", "", "a"},
		{"Patient/a", "b", "b"},
		{"Practitioner/p", "", ""},
		{"", "", ""},
		{"Patient/", "", ""},
		{"Patient/a/_history/1", "", ""},
		{"", "bad id!", ""},
	} {
		g := &access.Grant{FHIRUser: tc.fhirUser, Patient: tc.patient}
		if got := g.PatientContext(); got != tc.want {
			t.Errorf("PatientContext(%q, %q) = %q, want %q", tc.fhirUser, tc.patient, got, tc.want)
		}
	}
}

// FuzzDecide checks the caps that no scope string can lift: only auditors
// and system scopes naming it reach AuditEvent, nobody changes one, a
// patient's grant reaches no other patient's Observation, an
// administrator no clinical data, and system/ scopes nobody but Backend
// Services clients.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{"user/*.cruds", "patient/*.rs", "system/*.*", "patient/Observation.rs?category=vital-signs",
		"user/AuditEvent.cruds system/AuditEvent.cruds", "patient/*.read user/*.write", "user/Observation.rs?subject=Patient/b"} {
		f.Add(s, uint8(0), "a")
	}
	roles := []access.Role{access.RolePractitioner, access.RolePatient, access.RoleAdmin, access.RoleAuditor, access.RoleSystem}
	actions := []fhir.Action{fhir.ActionCreate, fhir.ActionRead, fhir.ActionUpdate, fhir.ActionDelete, fhir.ActionSearch}
	f.Fuzz(func(t *testing.T, scopes string, role uint8, patient string) {
		set, err := scope.ParseSet(scopes)
		if err != nil {
			return
		}
		e := access.NewEnforcer(registry(t))
		g := &access.Grant{Role: roles[int(role)%len(roles)], FHIRUser: "Patient/a", Patient: patient, Scopes: set}
		for _, a := range actions {
			for _, c := range corpus {
				p := e.Decide(g, c.typ, a)
				for _, alt := range p.Any {
					if err := search.Evaluable(alt); err != nil {
						t.Fatalf("%q: permit of %s not evaluable: %v", scopes, c.typ, err)
					}
				}
				if !allows(t, p, c.typ, c.id, indexes[c.name]) {
					continue
				}
				switch {
				case c.typ == access.AuditEvent && g.Role != access.RoleAuditor && g.Role != access.RoleSystem:
					t.Fatalf("%q: %s may %s an AuditEvent", scopes, g.Role, a)
				case c.typ == access.AuditEvent && (a == fhir.ActionUpdate || a == fhir.ActionDelete):
					t.Fatalf("%q: %s may %s an AuditEvent", scopes, g.Role, a)
				case g.Role == access.RolePatient && slices.Contains([]string{"obsBvs", "patB"}, c.name) && patient != "b":
					t.Fatalf("%q: patient %q may %s %s", scopes, g.PatientContext(), a, c.name)
				case g.Role == access.RoleAdmin && c.typ != "Practitioner" && c.typ != "Organization":
					t.Fatalf("%q: admin may %s %s", scopes, a, c.name)
				case g.Role == access.RoleAuditor && c.typ != access.AuditEvent:
					t.Fatalf("%q: auditor may %s %s", scopes, a, c.name)
				case g.Role != access.RoleSystem && !strings.Contains(scopes, "user/") && !strings.Contains(scopes, "patient/"):
					t.Fatalf("%q: %s may %s %s with system scopes", scopes, g.Role, a, c.name)
				}
			}
		}
	})
}

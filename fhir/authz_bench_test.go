package fhir_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
)

// authzBench is an embedded store with 200 patients and 10 vital-signs
// Observations each, read and searched without access control, with a
// practitioner's user/*.rs grant and with a patient's patient/*.rs grant.
type authzBench struct {
	open, enforced *fhir.Service
	callers        map[string]context.Context
	obsID          string // an Observation of patient p7
}

func newAuthzBench(b *testing.B) *authzBench {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ab := &authzBench{
		open:     &fhir.Service{Store: st, Registry: reg},
		enforced: &fhir.Service{Store: st, Registry: reg, Authorizer: access.NewEnforcer(reg)},
	}
	for p := range 200 {
		pid := fmt.Sprintf("p%d", p)
		if _, err := ab.open.Update(ctx, "Patient", pid, []byte(`{"resourceType":"Patient","id":"`+pid+`"}`), fhir.Preconditions{}); err != nil {
			b.Fatal(err)
		}
		for range 10 {
			res, err := ab.open.Create(ctx, "Observation", []byte(strings.Replace(vitalSigns, "Patient/p1", "Patient/"+pid, 1)))
			if err != nil {
				b.Fatal(err)
			}
			if pid == "p7" {
				ab.obsID = res.Resource.ID
			}
		}
	}
	grant := func(role access.Role, fhirUser, scopes string) context.Context {
		set, err := scope.ParseSet(scopes)
		if err != nil {
			b.Fatal(err)
		}
		return access.WithGrant(ctx, &access.Grant{Role: role, FHIRUser: fhirUser, Scopes: set})
	}
	ab.callers = map[string]context.Context{
		"practitioner": grant(access.RolePractitioner, "Practitioner/x", "user/*.rs"),
		"patient":      grant(access.RolePatient, "Patient/p7", "patient/*.rs"),
		"patient-granular": grant(access.RolePatient, "Patient/p7",
			"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"),
	}
	return ab
}

// run runs f without access control ("off") and as each caller (all of
// them when none are named), reporting the process's CPU time per
// operation next to the wall time: on a shared machine it moves far less.
func (ab *authzBench) run(b *testing.B, f func(b *testing.B, ctx context.Context, svc *fhir.Service), callers ...string) {
	measured := func(ctx context.Context, svc *fhir.Service) func(b *testing.B) {
		return func(b *testing.B) {
			start, ok := cpuTime()
			f(b, ctx, svc)
			if end, _ := cpuTime(); ok {
				b.ReportMetric(float64((end-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		}
	}
	b.Run("off", measured(context.Background(), ab.open))
	if len(callers) == 0 {
		callers = []string{"practitioner", "patient", "patient-granular"}
	}
	for _, name := range callers {
		b.Run(name, measured(ab.callers[name], ab.enforced))
	}
}

// BenchmarkAuthz measures what enforcement adds to a read and to a search
// on the embedded store: a patient's grant reads by evaluating the
// compartment on the resource's index, and searches with the compartment
// in the query.
func BenchmarkAuthz(b *testing.B) {
	ab := newAuthzBench(b)
	b.Run("Read", func(b *testing.B) {
		ab.run(b, func(b *testing.B, ctx context.Context, svc *fhir.Service) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Read(ctx, "Observation", ab.obsID); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Search", func(b *testing.B) {
		params := url.Values{"subject": {"Patient/p7"}, "code": {"http://loinc.org|85354-9"}, "_count": {"10"}}
		ab.run(b, func(b *testing.B, ctx context.Context, svc *fhir.Service) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := svc.Search(ctx, fhir.SearchRequest{Type: "Observation", Params: params})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Page.Matches) != 10 {
					b.Fatalf("%d matches, want 10", len(res.Page.Matches))
				}
			}
		})
	})
	// $everything restricts every type of the compartment, each by its
	// own compartment parameters.
	b.Run("Everything", func(b *testing.B) {
		ab.run(b, func(b *testing.B, ctx context.Context, svc *fhir.Service) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := svc.Everything(ctx, fhir.EverythingRequest{ID: "p7", DefaultCount: 50, MaxCount: 50})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Page.Matches) != 11 {
					b.Fatalf("%d matches, want 11", len(res.Page.Matches))
				}
			}
		}, "practitioner", "patient") // the granular grant may not read the Patient
	})
}

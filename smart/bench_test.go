package smart_test

import (
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/pgstore"
	"github.com/telefhir/telefhir/smart/smarttest"
)

// BenchmarkAuthenticate is what an opaque access token costs each FHIR
// request: one primary-key lookup of its hash and the grant decoded.
func BenchmarkAuthenticate(b *testing.B) {
	run := func(b *testing.B, st oauthstore.Store, svc *fhir.Service) {
		srv, err := smart.New(b.Context(), smart.Config{BaseURL: "http://bench.test", Store: st, FHIR: svc, Dev: identity.NewDev("pw")})
		if err != nil {
			b.Fatal(err)
		}
		u, _ := identity.NewDev("pw").User("practitioner")
		tok, err := smart.Mint(b.Context(), st, u, "launch user/*.cruds patient/Observation.rs?category=vital-signs", "p1", "", time.Hour, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := srv.Authenticate(b.Context(), tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("embedded", func(b *testing.B) {
		s := smarttest.Start(b, smarttest.Options{DevPassword: "pw"})
		run(b, s.Store, s.FHIR)
	})
	b.Run("postgres", func(b *testing.B) {
		pg := pgtest.Open(b)
		run(b, pgstore.New(pg), &fhir.Service{Store: pg})
	})
}

package fhir_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

const vitalSigns = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}],"text":"Blood pressure"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-26T08:30:00Z","performer":[{"identifier":{"system":"urn:device","value":"cuff-1"}}],"device":{"identifier":{"system":"urn:device","value":"cuff-1"}},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}],"note":[{"text":"Seated, left arm, after five minutes of rest."}]}`

// BenchmarkCreate measures the whole write path of one vital-signs
// Observation on the embedded store: parse and validate, stamp, index,
// one transaction.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	svc := embeddedService(b)
	body := []byte(vitalSigns)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Create(ctx, "Observation", body); err != nil {
			b.Fatal(err)
		}
	}
}

// embeddedService is a Service over a fresh embedded store, indexing
// every write.
func embeddedService(b *testing.B) *fhir.Service {
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
	return &fhir.Service{Store: st, Registry: reg}
}

// BenchmarkCreateParallel is BenchmarkCreate from many goroutines on the
// Postgres store (skipped without one).
func BenchmarkCreateParallelPostgres(b *testing.B) {
	st := pgtest.Open(b)
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	body := []byte(vitalSigns)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Create(context.Background(), "Observation", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

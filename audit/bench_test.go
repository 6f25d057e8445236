package audit_test

import (
	"fmt"
	"testing"

	"github.com/telefhir/telefhir/audit"
)

// BenchmarkSeal measures sealing: queued records turned into indexed,
// chained AuditEvents, 100 per iteration, on both stores.
func BenchmarkSeal(b *testing.B) {
	for _, kind := range stores {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, kind)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j := range 100 {
					if err := e.trail.Record(b.Context(), audit.Event{Kind: audit.AccessDenied, Subject: fmt.Sprint("u", j), Resources: []string{"Observation/o1"}, Patients: []string{"p1"}, Address: "10.0.0.1", RequestID: "r"}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if _, err := e.trail.SealAll(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*100), "µs/record")
		})
	}
}

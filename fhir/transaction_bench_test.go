package fhir_test

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

// syntheaDir holds the 50 Synthea patient Bundles.
const syntheaDir = "../testdata/synthea"

// syntheaBundles reads and parses the Synthea Bundles.
func syntheaBundles(tb testing.TB) ([]*fhir.Bundle, int) {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*.json.gz"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no Synthea Bundles in %s: %v", syntheaDir, err)
	}
	var out []*fhir.Bundle
	total := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			tb.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		fh.Close()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := fhir.ParseBundle(body, testBase, 0)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, b)
		total += len(b.Entries)
	}
	return out, total
}

// benchTransactions runs the Synthea Bundles as transactions, from
// parallelism goroutines per GOMAXPROCS, and reports resources/s.
func benchTransactions(b *testing.B, st store.Store, parallelism int) {
	bundles, _ := syntheaBundles(b)
	reg, err := search.NewRegistry(search.Options{BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	b.ResetTimer()
	var next, resources atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bun := bundles[int(next.Add(1))%len(bundles)]
			if _, err := svc.Transaction(context.Background(), bun, fhir.BundleOptions{}); err != nil {
				b.Error(err)
				return
			}
			resources.Add(int64(len(bun.Entries)))
		}
	})
	b.ReportMetric(float64(resources.Load())/time.Since(start).Seconds(), "resources/s")
}

// BenchmarkTransactionSyntheaSQLite loads Synthea patient Bundles into the
// embedded store, one transaction each.
func BenchmarkTransactionSyntheaSQLite(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	benchTransactions(b, st, 1)
}

// BenchmarkTransactionSyntheaPostgres is the same into Postgres, from 8
// goroutines in all (skipped without Postgres).
func BenchmarkTransactionSyntheaPostgres(b *testing.B) {
	benchTransactions(b, pgtest.Open(b), max(1, 8/runtime.GOMAXPROCS(0)))
}

// BenchmarkTransactionSmallPostgres runs transactions of a Patient and a
// vital-signs Observation referring to it by urn:uuid, from 32 goroutines,
// into Postgres (skipped without one): the transaction path at its
// smallest, to set against BenchmarkCreateParallelPostgres.
func BenchmarkTransactionSmallPostgres(b *testing.B) {
	st := pgtest.Open(b)
	reg, err := search.NewRegistry(search.Options{BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	body := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"urn:uuid:4f9c1d2e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Small","given":["Tx"]}],"gender":"female","birthDate":"1970-01-01"},"request":{"method":"POST","url":"Patient"}},` +
		`{"resource":` + strings.Replace(vitalSigns, `"Patient/p1"`, `"urn:uuid:4f9c1d2e-0000-4000-8000-000000000001"`, 1) + `,"request":{"method":"POST","url":"Observation"}}]}`)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bun, err := fhir.ParseBundle(body, testBase, 0)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Transaction(context.Background(), bun, fhir.BundleOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

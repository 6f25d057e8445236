package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/fhir/store/storetest"
)

// open returns a migrated store in a fresh file under tb.TempDir.
func open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "data", "telefhir.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestMigrateIdempotentAndReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a dir?#%", "x.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// Open alone does not create the schema.
	if _, err := s.Read(ctx, "Patient", "p"); err == nil {
		t.Fatalf("Read before Migrate succeeded")
	}
	for i := range 3 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	want := store.Resource{
		Type: "Patient", ID: "p", VersionID: 1, Method: "POST",
		LastUpdated: time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		Body:        []byte(`{"resourceType":"Patient","id":"p"}`),
	}
	if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, want) }); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after reopen: %v", err)
	}
	got, err := s.Read(ctx, "Patient", "p")
	if err != nil {
		t.Fatalf("Read after reopen: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after reopen (-want +got):\n%s", diff)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), ""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

// body is a representative ~1 KB resource.
func body(id string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":%q,"meta":{"versionId":"1","lastUpdated":"2024-03-01T12:00:00.000Z"},`+
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/example"},`+
		`"effectiveDateTime":"2024-03-01T11:59:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},`+
		`"note":[{"text":"%0600d"}]}`, id, 0)
}

func BenchmarkRead(b *testing.B) {
	s := open(b)
	const n = 1000
	ts := time.Now()
	err := s.Write(b.Context(), func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			id := strconv.Itoa(i)
			if err := tx.Put(ctx, store.Resource{Type: "Observation", ID: id, VersionID: 1, LastUpdated: ts, Method: "POST", Body: body(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Read(context.Background(), "Observation", strconv.Itoa(rand.IntN(n))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPut(b *testing.B) {
	s := open(b)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := strconv.FormatInt(next.Add(1), 10)
			r := store.Resource{Type: "Observation", ID: id, VersionID: 1, LastUpdated: time.Now(), Method: "POST", Body: body(id)}
			err := s.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.Current(ctx, r.Type, r.ID); err == nil {
					return fmt.Errorf("%s exists", id)
				}
				return tx.Put(ctx, r)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.Open(t) })
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	// Several nodes starting at once against an empty schema.
	const nodes = 4
	stores := make([]*postgres.Store, nodes)
	for i := range stores {
		s, err := postgres.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	if _, err := stores[0].Read(ctx, "Patient", "p"); err == nil {
		t.Fatalf("Read before Migrate succeeded: Open must not migrate")
	}
	errs := make(chan error, nodes)
	for _, s := range stores {
		go func() { errs <- s.Migrate(ctx) }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}

	want := store.Resource{
		Type: "Patient", ID: "p", VersionID: 1, Method: "POST",
		LastUpdated: time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		Body:        []byte(`{"resourceType":"Patient","id":"p"}`),
	}
	if err := stores[1].Write(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, want) }); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := stores[2].Close(); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Read(ctx, "Patient", "p")
	if err != nil {
		t.Fatalf("Read after reopen: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after reopen (-want +got):\n%s", diff)
	}

	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("schema_migrations is empty")
	}
}

func TestOpenBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if _, err := postgres.Open(ctx, "::not a url::"); err == nil {
		t.Fatal("Open of a malformed URL succeeded")
	}
}

// TestConflictKeepsCause checks that a lost race is ErrConflict with the
// driver's error still reachable.
func TestConflictKeepsCause(t *testing.T) {
	ctx := t.Context()
	// A recognisable application_name lets the test see its own backend
	// waiting for a lock.
	app := fmt.Sprintf("conflicttest_%d", rand.Uint64())
	base := pgtest.URL(t)
	u := base + " application_name=" + app
	if strings.Contains(base, "://") {
		u = base + "&application_name=" + app
	}
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	r := store.Resource{Type: "Patient", ID: "p", VersionID: 1, Method: "POST", LastUpdated: time.Now(), Body: []byte(`{}`)}
	// put writes r now: a Put may wait for the transaction's next read.
	put := func(ctx context.Context, tx store.Tx) error {
		if err := tx.Put(ctx, r); err != nil {
			return err
		}
		_, err := tx.Read(ctx, r.Type, r.ID)
		return err
	}
	// Two transactions both create version 1: the second waits on the
	// unique index until the first commits, then gets a unique violation.
	first := make(chan struct{})
	release := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := put(ctx, tx); err != nil {
				return err
			}
			close(first)
			<-release
			return nil
		})
	}()
	<-first
	go func() {
		defer close(release)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			var waiting bool
			err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock')`, app).Scan(&waiting)
			if err != nil || waiting {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var firstErr error
	err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		err := put(ctx, tx)
		if firstErr == nil {
			firstErr = err
		}
		return err
	})
	if err := <-firstDone; err != nil {
		t.Fatalf("first Write: %v", err)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Write = %v, want ErrConflict (version 1 exists)", err)
	}
	var pe *pgconn.PgError
	if !errors.Is(firstErr, store.ErrConflict) || !errors.As(firstErr, &pe) || pe.Code != "23505" {
		t.Errorf("first attempt failed with %v, want ErrConflict wrapping a unique violation", firstErr)
	}
}

func body(id string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":%q,"meta":{"versionId":"1","lastUpdated":"2024-03-01T12:00:00.000Z"},`+
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/example"},`+
		`"effectiveDateTime":"2024-03-01T11:59:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},`+
		`"note":[{"text":"%0600d"}]}`, id, 0)
}

func BenchmarkRead(b *testing.B) {
	s := pgtest.Open(b)
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
	b.SetParallelism(4)
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
	s := pgtest.Open(b)
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := strconv.FormatInt(next.Add(1), 10)
			r := store.Resource{Type: "Observation", ID: id, VersionID: 1, LastUpdated: time.Now(), Method: "POST", Body: body(id)}
			err := s.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.Current(ctx, r.Type, r.ID); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("Current: %v, want ErrNotFound", err)
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

func TestExplain(t *testing.T) {
	s := pgtest.Open(t)
	ctx := t.Context()
	r := store.Resource{Type: "Observation", ID: "o", VersionID: 1, Method: "POST", LastUpdated: time.Now(), Body: []byte(`{}`),
		Index: &search.Index{References: []search.ReferenceRow{{Param: "subject", Type: "Patient", ID: "p"}}}}
	if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	q := search.Query{
		Types: []string{"Observation"},
		Where: []search.Clause{{Or: []search.Predicate{{Param: "subject", Type: search.TypeReference,
			Reference: &search.ReferenceMatch{Type: "Patient", ID: "p"}}}}},
		Sort:  []search.SortKey{{Param: "date", Type: search.TypeDate, Desc: true}},
		Count: 50,
	}
	plan, err := s.Explain(ctx, q)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	for _, want := range []string{"Limit", "idx_reference", "idx_date", "resource_version"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not mention %s:\n%s", want, plan)
		}
	}
	if _, err := s.Explain(ctx, search.Query{Types: []string{"Observation"}}); err == nil {
		t.Error("Explain of a query without a page succeeded")
	}
}

// BenchmarkPutMany writes transactions of 300 new Observations with their
// search index, from 8 goroutines in all: the store's side of loading a
// patient record from a transaction Bundle.
func BenchmarkPutMany(b *testing.B) {
	s := pgtest.Open(b)
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	idx, err := reg.ExtractJSON("Observation", body("x"))
	if err != nil {
		b.Fatal(err)
	}
	const perTx = 300
	var next atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			base := next.Add(perTx)
			err := s.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				for i := range int64(perTx) {
					id := strconv.FormatInt(base+i, 10)
					r := store.Resource{Type: "Observation", ID: id, VersionID: 1, LastUpdated: time.Now(), Method: "POST", Body: body(id), Index: idx}
					if err := tx.Put(ctx, r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/time.Since(start).Seconds(), "resources/s")
}

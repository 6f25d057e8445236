package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/store"
)

// Run runs every conformance test against the store returned by open. open
// is called once per subtest and must return a fresh, empty, migrated store
// that is closed when t ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"PutReadVRead", testPutReadVRead},
		{"NotFound", testNotFound},
		{"DeleteMarker", testDeleteMarker},
		{"VersionConflict", testVersionConflict},
		{"InvalidPut", testInvalidPut},
		{"OwnWritesInTx", testOwnWritesInTx},
		{"ReadsInTx", testReadsInTx},
		{"RetryOnConflict", testRetryOnConflict},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentTwoResources", testConcurrentTwoResources},
		{"LockSerializes", testLockSerializes},
		{"Rollback", testRollback},
		{"ReadDuringWrite", testReadDuringWrite},
		{"ContextCanceled", testContextCanceled},
		{"HistoryLevels", testHistoryLevels},
		{"HistoryPaging", testHistoryPaging},
		{"HistorySince", testHistorySince},
		{"HistoryAt", testHistoryAt},
		{"HistoryCount", testHistoryCount},
		{"HistoryInvalid", testHistoryInvalid},
		{"LastUpdated", testLastUpdated},
		{"Body", testBody},
		{"IDs", testIDs},
		{"TypesIndependent", testTypesIndependent},
		{"Scan", testScan},
		{"Reindex", testReindex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
	for _, tc := range slices.Concat(searchTests, outboxTests, auditTests) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// suiteTest is one conformance test, run on a fresh store.
type suiteTest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// t0 is the base of every LastUpdated the suite writes; at(i) is i seconds
// later.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

// version builds version v of typ/id, last updated at ts, with a JSON body
// that names it.
func version(typ, id string, v int64, ts time.Time) store.Resource {
	method := "PUT"
	if v == 1 {
		method = "POST"
	}
	return store.Resource{
		Type:        typ,
		ID:          id,
		VersionID:   v,
		LastUpdated: ts,
		Method:      method,
		Body: fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"%d","lastUpdated":%q}}`,
			typ, id, v, ts.Format("2006-01-02T15:04:05.000Z07:00")),
	}
}

// deleted builds a delete marker as version v of typ/id.
func deleted(typ, id string, v int64, ts time.Time) store.Resource {
	return store.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: ts, Deleted: true, Method: "DELETE"}
}

func key(r store.Resource) string {
	return r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
}

func keys(es []store.HistoryEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, key(e.Resource))
	}
	return out
}

// put writes rs, in order, in one transaction.
func put(t *testing.T, s store.Store, rs ...store.Resource) {
	t.Helper()
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write(Put %d resources): %v", len(rs), err)
	}
}

func mustRead(t *testing.T, s store.Store, typ, id string) store.Resource {
	t.Helper()
	r, err := s.Read(t.Context(), typ, id)
	if err != nil {
		t.Fatalf("Read(%s/%s): %v", typ, id, err)
	}
	return r
}

func wantNotFound(t *testing.T, s store.Store, typ, id string) {
	t.Helper()
	if r, err := s.Read(t.Context(), typ, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read(%s/%s) = %v, %v; want ErrNotFound", typ, id, key(r), err)
	}
}

func diffResource(t *testing.T, what string, want, got store.Resource) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
	if got.LastUpdated.Location() != time.UTC {
		t.Errorf("%s: LastUpdated location = %v, want UTC", what, got.LastUpdated.Location())
	}
	if got.Deleted && got.Body != nil {
		t.Errorf("%s: delete marker has non-nil Body", what)
	}
}

func history(t *testing.T, s store.Store, q store.HistoryQuery) store.HistoryPage {
	t.Helper()
	p, err := s.History(t.Context(), q)
	if err != nil {
		t.Fatalf("History(%+v): %v", q, err)
	}
	return p
}

// allHistory follows Next until the last page and checks the paging
// invariants on the way: pages hold at most Count entries, a page reached
// through Next is not empty, and Seq strictly decreases across pages.
func allHistory(t *testing.T, s store.Store, q store.HistoryQuery) []store.HistoryEntry {
	t.Helper()
	var all []store.HistoryEntry
	for page := 0; ; page++ {
		p := history(t, s, q)
		if len(p.Entries) > q.Count {
			t.Fatalf("History(%+v) returned %d entries, more than Count", q, len(p.Entries))
		}
		if page > 0 && len(p.Entries) == 0 {
			t.Fatalf("History(%+v): page %d reached through Next is empty", q, page)
		}
		all = append(all, p.Entries...)
		if p.Next == 0 {
			break
		}
		if page > 10000 {
			t.Fatalf("History(%+v): paging does not end", q)
		}
		q.Before = p.Next
	}
	checkDescending(t, all)
	return all
}

func checkDescending(t *testing.T, es []store.HistoryEntry) {
	t.Helper()
	for i, e := range es {
		if e.Seq <= 0 {
			t.Errorf("entry %d (%s) has Seq %d, want > 0", i, key(e.Resource), e.Seq)
		}
		if i > 0 && e.Seq >= es[i-1].Seq {
			t.Errorf("entry %d (%s) Seq %d not below previous %d", i, key(e.Resource), e.Seq, es[i-1].Seq)
		}
	}
}

func testPutReadVRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []store.Resource
	for v := int64(1); v <= 5; v++ {
		r := version("Patient", "p1", v, at(int(v)))
		put(t, s, r)
		want = append(want, r)
		diffResource(t, "Read after Put", r, mustRead(t, s, "Patient", "p1"))
	}
	for _, w := range want {
		got, err := s.VRead(ctx, "Patient", "p1", w.VersionID)
		if err != nil {
			t.Fatalf("VRead(%s): %v", key(w), err)
		}
		diffResource(t, "VRead "+key(w), w, got)
	}
	for _, v := range []int64{0, 6, -1} {
		if _, err := s.VRead(ctx, "Patient", "p1", v); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VRead(Patient/p1/_history/%d) error = %v, want ErrNotFound", v, err)
		}
	}
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Current(ctx, "Patient", "p1")
		if err != nil {
			return err
		}
		diffResource(t, "Current", want[4], got)
		return nil
	})
	if err != nil {
		t.Fatalf("Write(Current): %v", err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, version("Observation", "o1", 1, at(1)))
	wantNotFound(t, s, "Patient", "missing")
	wantNotFound(t, s, "Patient", "o1") // exists only as another type
	if _, err := s.VRead(ctx, "Patient", "missing", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VRead(missing) error = %v, want ErrNotFound", err)
	}
	calls := 0
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		_, err := tx.Current(ctx, "Patient", "missing")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Current(missing) error = %v, want ErrNotFound", err)
	}
	if calls != 1 {
		t.Errorf("callback returning ErrNotFound ran %d times, want 1 (no retry)", calls)
	}
}

func testDeleteMarker(t *testing.T, s store.Store) {
	ctx := t.Context()
	v1 := version("Patient", "d", 1, at(1))
	del := deleted("Patient", "d", 2, at(2))
	put(t, s, v1)
	put(t, s, del)

	diffResource(t, "Read delete marker", del, mustRead(t, s, "Patient", "d"))
	got, err := s.VRead(ctx, "Patient", "d", 2)
	if err != nil {
		t.Fatalf("VRead(delete marker): %v", err)
	}
	diffResource(t, "VRead delete marker", del, got)
	got, err = s.VRead(ctx, "Patient", "d", 1)
	if err != nil {
		t.Fatalf("VRead(v1): %v", err)
	}
	diffResource(t, "VRead before delete", v1, got)

	// Current sees the marker, and a new version resurrects the resource.
	v3 := version("Patient", "d", 3, at(3))
	err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.Current(ctx, "Patient", "d")
		if err != nil {
			return err
		}
		diffResource(t, "Current delete marker", del, cur)
		return tx.Put(ctx, v3)
	})
	if err != nil {
		t.Fatalf("Write(resurrect): %v", err)
	}
	diffResource(t, "Read resurrected", v3, mustRead(t, s, "Patient", "d"))

	// Deleting twice in a row is two markers.
	put(t, s, deleted("Patient", "d", 4, at(4)))
	put(t, s, deleted("Patient", "d", 5, at(5)))
	diffResource(t, "Read second marker", deleted("Patient", "d", 5, at(5)), mustRead(t, s, "Patient", "d"))

	es := allHistory(t, s, store.HistoryQuery{Type: "Patient", ID: "d", Count: 10})
	if diff := cmp.Diff([]string{
		"Patient/d/_history/5", "Patient/d/_history/4", "Patient/d/_history/3",
		"Patient/d/_history/2", "Patient/d/_history/1",
	}, keys(es)); diff != "" {
		t.Errorf("instance history (-want +got):\n%s", diff)
	}
	diffResource(t, "history delete marker", del, es[3].Resource)
}

func testVersionConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	v1, v2 := version("Patient", "p", 1, at(1)), version("Patient", "p", 2, at(2))
	put(t, s, v1, v2)
	before := allHistory(t, s, store.HistoryQuery{Count: 100})

	for _, r := range []store.Resource{
		version("Patient", "p", 2, at(3)), // duplicate
		version("Patient", "p", 1, at(3)), // old
		version("Patient", "p", 4, at(3)), // gap
		deleted("Patient", "p", 4, at(3)), // gap, marker
		version("Patient", "new", 2, at(3)),
		version("Patient", "new", 0, at(3)),
	} {
		calls := 0
		err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			calls++
			return tx.Put(ctx, r)
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("Put(%s) error = %v, want ErrConflict", key(r), err)
		}
		if calls < 2 || calls > 100 {
			t.Errorf("Put(%s): callback ran %d times, want a bounded retry (2..100)", key(r), calls)
		}
	}
	diffResource(t, "Read after conflicts", v2, mustRead(t, s, "Patient", "p"))
	wantNotFound(t, s, "Patient", "new")

	// A good Put followed by a conflicting one in the same callback: nothing
	// is kept, even when the callback swallows the error.
	for _, swallow := range []bool{false, true} {
		err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Put(ctx, version("Patient", "other", 1, at(4))); err != nil {
				return err
			}
			err := tx.Put(ctx, version("Patient", "p", 5, at(4)))
			if swallow {
				return nil
			}
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("Write(good Put, bad Put, swallow=%v) error = %v, want ErrConflict", swallow, err)
		}
		wantNotFound(t, s, "Patient", "other")
	}
	after := allHistory(t, s, store.HistoryQuery{Count: 100})
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("history changed by failed writes (-before +after):\n%s", diff)
	}
}

func testInvalidPut(t *testing.T, s store.Store) {
	ctx := t.Context()
	good := version("Patient", "x", 1, at(1))
	for name, mutate := range map[string]func(r *store.Resource){
		"empty type":             func(r *store.Resource) { r.Type = "" },
		"empty id":               func(r *store.Resource) { r.ID = "" },
		"zero LastUpdated":       func(r *store.Resource) { r.LastUpdated = time.Time{} },
		"empty Method":           func(r *store.Resource) { r.Method = "" },
		"nil Body":               func(r *store.Resource) { r.Body = nil },
		"delete marker has Body": func(r *store.Resource) { r.Deleted = true },
	} {
		r := good
		mutate(&r)
		calls := 0
		err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			calls++
			return tx.Put(ctx, r)
		})
		if err == nil {
			t.Errorf("Put with %s succeeded, want an error", name)
		}
		if errors.Is(err, store.ErrConflict) || calls != 1 {
			t.Errorf("Put with %s: error %v after %d calls, want a non-conflict error and no retry", name, err, calls)
		}
	}
	if es := history(t, s, store.HistoryQuery{Count: 10}).Entries; len(es) != 0 {
		t.Errorf("invalid Puts stored %v", keys(es))
	}
}

func testOwnWritesInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	v1, v2, v3 := version("Patient", "o", 1, at(1)), version("Patient", "o", 2, at(2)), deleted("Patient", "o", 3, at(3))
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Current(ctx, "Patient", "o"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Current before Put: %v, want ErrNotFound", err)
		}
		for _, r := range []store.Resource{v1, v2, v3} {
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
			cur, err := tx.Current(ctx, "Patient", "o")
			if err != nil {
				return err
			}
			diffResource(t, "Current after own Put", r, cur)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	diffResource(t, "Read", v3, mustRead(t, s, "Patient", "o"))
	if got := keys(allHistory(t, s, store.HistoryQuery{Count: 10})); len(got) != 3 {
		t.Errorf("history = %v, want 3 versions", got)
	}
}

// testReadsInTx checks the Reader side of a Tx: it sees the transaction's
// own writes, a miss does not doom the transaction, and the versions it
// wrote are in its history before they are committed.
func testReadsInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := version("Patient", "old", 1, at(1))
	put(t, s, old)
	v1, v2 := version("Patient", "r", 1, at(2)), version("Patient", "r", 2, at(3))
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range []store.Resource{v1, v2} {
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
		}
		got, err := tx.Read(ctx, "Patient", "r")
		if err != nil {
			return fmt.Errorf("Read of own write: %w", err)
		}
		diffResource(t, "tx.Read of own write", v2, got)
		if got, err = tx.VRead(ctx, "Patient", "r", 1); err != nil {
			return fmt.Errorf("VRead of own write: %w", err)
		}
		diffResource(t, "tx.VRead of own write", v1, got)
		if got, err = tx.Read(ctx, "Patient", "old"); err != nil {
			return fmt.Errorf("Read of a committed resource: %w", err)
		}
		diffResource(t, "tx.Read of a committed resource", old, got)
		// Misses leave the transaction usable.
		if _, err := tx.Read(ctx, "Patient", "missing"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Read of a missing resource: %v, want ErrNotFound", err)
		}
		if _, err := tx.VRead(ctx, "Patient", "r", 3); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("VRead of a missing version: %v, want ErrNotFound", err)
		}
		p, err := tx.History(ctx, store.HistoryQuery{Type: "Patient", ID: "r", Count: 10})
		if err != nil {
			return fmt.Errorf("History in the transaction: %w", err)
		}
		if got, want := keys(p.Entries), []string{key(v2), key(v1)}; !slices.Equal(got, want) {
			t.Errorf("tx.History = %v, want %v", got, want)
		}
		// The store itself does not see the transaction before it commits.
		if _, err := s.Read(ctx, "Patient", "r"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Store.Read during the Write: %v, want ErrNotFound", err)
		}
		return tx.Put(ctx, version("Patient", "after-miss", 1, at(4)))
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	diffResource(t, "Read after commit", v2, mustRead(t, s, "Patient", "r"))
	mustRead(t, s, "Patient", "after-miss")
}

func testRetryOnConflict(t *testing.T, s store.Store) {
	ctx := t.Context()

	// The first attempt's Put is rolled back before the second runs.
	calls := 0
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		r := version("Patient", "r", 1, at(1))
		r.Body = fmt.Appendf(nil, `{"attempt":%d}`, calls)
		if err := tx.Put(ctx, r); err != nil {
			return err
		}
		if calls == 1 {
			return fmt.Errorf("lost a race: %w", store.ErrConflict)
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("Write = %v after %d calls, want success after 2", err, calls)
	}
	if got := mustRead(t, s, "Patient", "r"); got.VersionID != 1 || string(got.Body) != `{"attempt":2}` {
		t.Errorf("Read = version %d body %s, want version 1 from attempt 2", got.VersionID, got.Body)
	}

	// Retries are bounded.
	calls = 0
	err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		return fmt.Errorf("always: %w", store.ErrConflict)
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Write(always conflict) error = %v, want ErrConflict", err)
	}
	if calls < 2 || calls > 100 {
		t.Errorf("Write(always conflict) ran the callback %d times, want 2..100", calls)
	}

	// Other errors are not retried.
	errBoom := errors.New("boom")
	calls = 0
	err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		return errBoom
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("Write(boom) = %v after %d calls, want errBoom after 1", err, calls)
	}
}

type counter struct {
	N int `json:"n"`
}

// increment is a read-modify-write through Current: it reads the counter in
// body, adds one and puts the next version.
func increment(ctx context.Context, tx store.Tx, typ, id string) error {
	cur, err := tx.Current(ctx, typ, id)
	if err != nil {
		return err
	}
	var c counter
	if err := json.Unmarshal(cur.Body, &c); err != nil {
		return fmt.Errorf("decode %s: %w", key(cur), err)
	}
	c.N++
	next := version(typ, id, cur.VersionID+1, cur.LastUpdated.Add(time.Millisecond))
	next.Body, _ = json.Marshal(c)
	return tx.Put(ctx, next)
}

func newCounter(typ, id string) store.Resource {
	r := version(typ, id, 1, at(0))
	r.Body = []byte(`{"n":0}`)
	return r
}

// checkCounter checks that typ/id is at version want+1 with n == want and
// that every version in between incremented by exactly one.
func checkCounter(t *testing.T, s store.Store, typ, id string, want int) {
	t.Helper()
	got := mustRead(t, s, typ, id)
	if got.VersionID != int64(want+1) || string(got.Body) != fmt.Sprintf(`{"n":%d}`, want) {
		t.Errorf("%s/%s = version %d %s, want version %d {\"n\":%d}", typ, id, got.VersionID, got.Body, want+1, want)
	}
	es := allHistory(t, s, store.HistoryQuery{Type: typ, ID: id, Count: 7})
	if len(es) != want+1 {
		t.Fatalf("%s/%s has %d versions, want %d", typ, id, len(es), want+1)
	}
	for i, e := range es {
		v := int64(want + 1 - i)
		if e.VersionID != v || string(e.Body) != fmt.Sprintf(`{"n":%d}`, v-1) {
			t.Errorf("history[%d] = version %d %s, want version %d n=%d", i, e.VersionID, e.Body, v, v-1)
		}
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, newCounter("Basic", "c"))
	const writers, each = 20, 3
	start := make(chan struct{})
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			<-start
			for range each {
				errs <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
					return increment(ctx, tx, "Basic", "c")
				})
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent increment: %v", err)
		}
	}
	checkCounter(t, s, "Basic", "c", writers*each)
}

// testConcurrentTwoResources increments two resources per transaction, half
// the writers locking them in the opposite order; deadlocks, where a store
// has them, must be retried inside Write.
func testConcurrentTwoResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, newCounter("Basic", "a"), newCounter("Basic", "b"))
	const writers, each = 4, 2
	start := make(chan struct{})
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		first, second := "a", "b"
		if w%2 == 1 {
			first, second = second, first
		}
		wg.Go(func() {
			<-start
			for range each {
				errs <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
					if err := increment(ctx, tx, "Basic", first); err != nil {
						return err
					}
					return increment(ctx, tx, "Basic", second)
				})
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent increment of two resources: %v", err)
		}
	}
	checkCounter(t, s, "Basic", "a", writers*each)
	checkCounter(t, s, "Basic", "b", writers*each)
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	errExists := errors.New("already exists")
	const writers = 10
	start := make(chan struct{})
	var calls atomic.Int64
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			errs[w] = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
				calls.Add(1)
				cur, err := tx.Current(ctx, "Patient", "new")
				switch {
				case err == nil:
					if cur.VersionID != 1 {
						return fmt.Errorf("saw version %d, want 1", cur.VersionID)
					}
					return errExists
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
				r := version("Patient", "new", 1, at(1))
				r.Body = fmt.Appendf(nil, `{"writer":%d}`, w)
				return tx.Put(ctx, r)
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both created Patient/new", winner, w)
			}
			winner = w
		case !errors.Is(err, errExists):
			t.Errorf("writer %d: %v, want success or errExists", w, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer created Patient/new")
	}
	got := mustRead(t, s, "Patient", "new")
	if got.VersionID != 1 || string(got.Body) != fmt.Sprintf(`{"writer":%d}`, winner) {
		t.Errorf("Read = version %d %s, want version 1 from writer %d", got.VersionID, got.Body, winner)
	}
	if n := calls.Load(); n < writers {
		t.Errorf("callbacks ran %d times, want at least %d", n, writers)
	}
}

// testLockSerializes checks Tx.Lock: transactions locking the same key run
// their critical sections one at a time, each seeing what the previous one
// committed (here through the Store, on another connection), while
// transactions locking different keys do not wait for each other.
func testLockSerializes(t *testing.T, s store.Store) {
	t.Run("SameKey", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		const writers = 8
		start := make(chan struct{})
		var inside, overlaps, putConflicts atomic.Int64
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
					if err := tx.Lock(ctx, "k"); err != nil {
						return err
					}
					// The lock is held until after commit, so this count
					// only ever exceeds one if two callbacks hold it at once.
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					defer inside.Add(-1)
					_, err := s.Read(ctx, "Basic", "lock-target")
					switch {
					case err == nil:
						return nil
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					time.Sleep(5 * time.Millisecond) // widen the race window
					r := version("Basic", "lock-target", 1, at(1))
					r.Body = fmt.Appendf(nil, `{"writer":%d}`, w)
					err = tx.Put(ctx, r)
					if errors.Is(err, store.ErrConflict) {
						putConflicts.Add(1)
					}
					return err
				})
			})
		}
		close(start)
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		}
		if n := overlaps.Load(); n > 0 {
			t.Errorf("%d callbacks held Lock(k) while another did", n)
		}
		if n := putConflicts.Load(); n > 0 {
			t.Errorf("%d callbacks found Basic/lock-target missing after Lock(k) although another had created it", n)
		}
		got := mustRead(t, s, "Basic", "lock-target")
		var body struct{ Writer *int }
		if err := json.Unmarshal(got.Body, &body); got.VersionID != 1 || err != nil || body.Writer == nil {
			t.Errorf("Read = version %d %s, want version 1 from one writer", got.VersionID, got.Body)
		}
		if es := allHistory(t, s, store.HistoryQuery{Type: "Basic", ID: "lock-target", Count: 10}); len(es) != 1 {
			t.Errorf("history of Basic/lock-target = %v, want one version", keys(es))
		}
	})

	t.Run("DifferentKeys", func(t *testing.T) {
		const wait = 10 * time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 3*wait)
		defer cancel()
		// A locks "a", writes, and keeps its transaction open until
		// released (or until wait has passed).
		locked, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		errA := make(chan error, 1)
		go func() {
			errA <- s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
				if err := tx.Lock(ctx, "a"); err != nil {
					return err
				}
				if err := tx.Put(ctx, version("Basic", "lock-a", 1, at(1))); err != nil {
					return err
				}
				once.Do(func() { close(locked) })
				select {
				case <-release:
					return nil
				case <-time.After(wait):
					return errors.New("transaction locking b did not commit while this one held a")
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		aDone := false
		defer func() { // also on Skip and Fatal: A must end before the store closes
			select {
			case <-release:
			default:
				close(release)
			}
			if !aDone {
				<-errA
			}
		}()
		select {
		case <-locked:
		case err := <-errA:
			aDone = true
			t.Fatalf("transaction locking a: %v", err)
		case <-time.After(wait):
			t.Fatalf("transaction locking a did not get its lock within %v", wait)
		}

		// Stores that run one write transaction at a time (SQLite) cannot
		// start a second one while A is open: nothing to check there.
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.Write(pctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Current(ctx, "Basic", "lock-probe")
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		pcancel()
		if errors.Is(err, context.DeadlineExceeded) {
			t.Skip("writers are serialised: a second write transaction cannot start while another is open")
		}
		if err != nil {
			t.Fatalf("second write transaction while the first is open: %v", err)
		}

		bctx, bcancel := context.WithTimeout(ctx, wait)
		defer bcancel()
		err = s.Write(bctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Lock(ctx, "b"); err != nil {
				return err
			}
			return tx.Put(ctx, version("Basic", "lock-b", 1, at(2)))
		})
		if err != nil {
			t.Fatalf("transaction locking b while another held a: %v", err)
		}
		// B committed while A is still open.
		mustRead(t, s, "Basic", "lock-b")
		wantNotFound(t, s, "Basic", "lock-a")
		close(release)
		aDone = true
		if err := <-errA; err != nil {
			t.Fatalf("transaction locking a: %v", err)
		}
		mustRead(t, s, "Basic", "lock-a")
	})
}

func testRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := version("Patient", "c", 1, at(1))
	put(t, s, existing)
	errBoom := errors.New("boom")

	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range []store.Resource{
			version("Patient", "a", 1, at(2)),
			version("Observation", "b", 1, at(2)),
			version("Patient", "c", 2, at(2)),
			deleted("Patient", "c", 3, at(3)),
		} {
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
		}
		return fmt.Errorf("after puts: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write error = %v, want errBoom", err)
	}
	wantNotFound(t, s, "Patient", "a")
	wantNotFound(t, s, "Observation", "b")
	diffResource(t, "Read after rollback", existing, mustRead(t, s, "Patient", "c"))
	if got := keys(allHistory(t, s, store.HistoryQuery{Count: 10})); len(got) != 1 {
		t.Errorf("history after rollback = %v, want only %s", got, key(existing))
	}

	// A panicking callback rolls back, the panic propagates, and the store
	// stays usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Write did not propagate the callback's panic")
			}
		}()
		_ = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Put(ctx, version("Patient", "panic", 1, at(4))); err != nil {
				return err
			}
			panic("callback panics")
		})
	}()
	wantNotFound(t, s, "Patient", "panic")
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Write(wctx, func(ctx context.Context, tx store.Tx) error {
		return tx.Put(ctx, version("Patient", "after-panic", 1, at(5)))
	}); err != nil {
		t.Fatalf("Write after a panicking callback: %v", err)
	}
}

func testReadDuringWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	v1, v2 := version("Patient", "rw", 1, at(1)), version("Patient", "rw", 2, at(2))
	put(t, s, v1)
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Put(ctx, v2); err != nil {
			return err
		}
		// Reads outside the transaction neither block nor see it.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got, err := s.Read(rctx, "Patient", "rw")
		if err != nil {
			return fmt.Errorf("Read during Write: %w", err)
		}
		diffResource(t, "Read during Write", v1, got)
		p, err := s.History(rctx, store.HistoryQuery{Count: 10})
		if err != nil {
			return fmt.Errorf("History during Write: %w", err)
		}
		if len(p.Entries) != 1 {
			t.Errorf("History during Write = %v, want the committed version only", keys(p.Entries))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	diffResource(t, "Read after Write", v2, mustRead(t, s, "Patient", "rw"))
}

func testContextCanceled(t *testing.T, s store.Store) {
	put(t, s, version("Patient", "p", 1, at(1)))
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()

	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		if _, err := s.Read(c.ctx, "Patient", "p"); !errors.Is(err, c.want) {
			t.Errorf("Read error = %v, want %v", err, c.want)
		}
		if _, err := s.VRead(c.ctx, "Patient", "p", 1); !errors.Is(err, c.want) {
			t.Errorf("VRead error = %v, want %v", err, c.want)
		}
		if _, err := s.History(c.ctx, store.HistoryQuery{Count: 10}); !errors.Is(err, c.want) {
			t.Errorf("History error = %v, want %v", err, c.want)
		}
		err := s.Write(c.ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.Put(ctx, version("Patient", "q", 1, at(2)))
		})
		if !errors.Is(err, c.want) {
			t.Errorf("Write error = %v, want %v", err, c.want)
		}
		wantNotFound(t, s, "Patient", "q")
	}

	// Canceled while the callback runs: nothing is committed.
	ctx, cancel3 := context.WithCancel(t.Context())
	calls := 0
	err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		if err := tx.Put(ctx, version("Patient", "q", 1, at(2))); err != nil {
			return err
		}
		cancel3()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write canceled in callback: error = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("Write canceled in callback ran it %d times, want 1", calls)
	}
	wantNotFound(t, s, "Patient", "q")

	// Canceled while retrying: Write stops.
	ctx, cancel4 := context.WithCancel(t.Context())
	calls = 0
	err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		cancel4()
		return store.ErrConflict
	})
	if err == nil || calls != 1 {
		t.Errorf("Write canceled during retry = %v after %d calls, want an error after 1", err, calls)
	}
	// The store still works.
	put(t, s, version("Patient", "q", 1, at(3)))
}

// writeLog writes versions and remembers them in write order.
type writeLog struct {
	t       *testing.T
	s       store.Store
	written []store.Resource
	next    map[string]int64
}

func newWriteLog(t *testing.T, s store.Store) *writeLog {
	return &writeLog{t: t, s: s, next: map[string]int64{}}
}

// write puts the next version of typ/id at ts (a delete marker when del).
func (w *writeLog) write(typ, id string, ts time.Time, del bool) store.Resource {
	w.t.Helper()
	k := typ + "/" + id
	w.next[k]++
	r := version(typ, id, w.next[k], ts)
	if del {
		r = deleted(typ, id, w.next[k], ts)
	}
	put(w.t, w.s, r)
	w.written = append(w.written, r)
	return r
}

// want is the expected history for q, newest first, from what was written
// (Since and At are not applied).
func (w *writeLog) want(q store.HistoryQuery) []string {
	var out []string
	for i := len(w.written) - 1; i >= 0; i-- {
		r := w.written[i]
		if (q.Type == "" || r.Type == q.Type) && (q.ID == "" || r.ID == q.ID) {
			out = append(out, key(r))
		}
	}
	return out
}

func testHistoryLevels(t *testing.T, s store.Store) {
	w := newWriteLog(t, s)
	pa1 := w.write("Patient", "a", at(1), false)
	w.write("Observation", "a", at(2), false)
	w.write("Patient", "b", at(3), false)
	w.write("Patient", "a", at(4), false)
	od := w.write("Observation", "a", at(5), true)
	w.write("Patient", "a", at(6), false)

	for _, c := range []struct {
		q    store.HistoryQuery
		want []string
	}{
		{store.HistoryQuery{}, []string{
			"Patient/a/_history/3", "Observation/a/_history/2", "Patient/a/_history/2",
			"Patient/b/_history/1", "Observation/a/_history/1", "Patient/a/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient"}, []string{
			"Patient/a/_history/3", "Patient/a/_history/2", "Patient/b/_history/1", "Patient/a/_history/1",
		}},
		{store.HistoryQuery{Type: "Observation"}, []string{"Observation/a/_history/2", "Observation/a/_history/1"}},
		{store.HistoryQuery{Type: "Patient", ID: "a"}, []string{
			"Patient/a/_history/3", "Patient/a/_history/2", "Patient/a/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", ID: "missing"}, nil},
		{store.HistoryQuery{Type: "Encounter"}, nil},
	} {
		c.q.Count = 100
		p := history(t, s, c.q)
		if diff := cmp.Diff(c.want, keys(p.Entries)); diff != "" {
			t.Errorf("History(%+v) (-want +got):\n%s", c.q, diff)
		}
		if p.Next != 0 {
			t.Errorf("History(%+v).Next = %d, want 0 (single page)", c.q, p.Next)
		}
		checkDescending(t, p.Entries)
	}

	// Entries carry the whole version.
	all := history(t, s, store.HistoryQuery{Count: 100}).Entries
	diffResource(t, "history entry", pa1, all[5].Resource)
	diffResource(t, "history delete marker", od, all[1].Resource)
}

func testHistoryPaging(t *testing.T, s store.Store) {
	w := newWriteLog(t, s)
	ids := []string{"a", "b", "c", "d", "e"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 25 {
		typ := "Patient"
		if i%4 == 3 {
			typ = "Observation"
		}
		id := ids[rng.IntN(len(ids))]
		w.write(typ, id, at(i), i%7 == 6 && w.next[typ+"/"+id] > 0)
	}
	tick := 100
	for _, base := range []store.HistoryQuery{{}, {Type: "Patient"}, {Type: "Patient", ID: "a"}, {Type: "Observation"}} {
		for _, count := range []int{1, 3, 7, 25, 100} {
			q := base
			q.Count = count
			want := w.want(q)
			var got []store.HistoryEntry
			for page := 0; ; page++ {
				p := history(t, s, q)
				if len(p.Entries) > count || (page > 0 && len(p.Entries) == 0) {
					t.Fatalf("History(%+v) page %d has %d entries", q, page, len(p.Entries))
				}
				got = append(got, p.Entries...)
				if p.Next == 0 {
					break
				}
				q.Before = p.Next
				if page >= 4 {
					continue
				}
				// New versions, in scope of q, written between pages must
				// not show up in later pages.
				tick++
				w.write("Patient", "a", at(tick), false)
				tick++
				w.write("Observation", ids[tick%len(ids)], at(tick), false)
			}
			checkDescending(t, got)
			if diff := cmp.Diff(want, keys(got)); diff != "" {
				t.Errorf("paging History(%+v) with Count %d (-want +got):\n%s", base, count, diff)
			}
		}
	}
}

func testHistorySince(t *testing.T, s store.Store) {
	w := newWriteLog(t, s)
	for i := 1; i <= 6; i++ {
		w.write("Patient", "a", at(i), i == 4)
		if i == 3 {
			w.write("Patient", "b", at(3).Add(500*time.Millisecond), false)
			w.write("Observation", "a", at(3).Add(700*time.Millisecond), false)
		}
	}
	for _, c := range []struct {
		q    store.HistoryQuery
		want []string
	}{
		{store.HistoryQuery{Since: at(3)}, []string{
			"Patient/a/_history/6", "Patient/a/_history/5", "Patient/a/_history/4",
			"Observation/a/_history/1", "Patient/b/_history/1", "Patient/a/_history/3",
		}},
		{store.HistoryQuery{Since: at(3).Add(time.Nanosecond)}, []string{
			"Patient/a/_history/6", "Patient/a/_history/5", "Patient/a/_history/4",
			"Observation/a/_history/1", "Patient/b/_history/1",
		}},
		{store.HistoryQuery{Since: at(3).Add(500 * time.Millisecond).In(time.FixedZone("UTC-5", -5*3600))}, []string{
			"Patient/a/_history/6", "Patient/a/_history/5", "Patient/a/_history/4",
			"Observation/a/_history/1", "Patient/b/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", Since: at(3)}, []string{
			"Patient/a/_history/6", "Patient/a/_history/5", "Patient/a/_history/4",
			"Patient/b/_history/1", "Patient/a/_history/3",
		}},
		{store.HistoryQuery{Type: "Patient", ID: "a", Since: at(5)}, []string{
			"Patient/a/_history/6", "Patient/a/_history/5",
		}},
		{store.HistoryQuery{Since: at(7)}, nil},
		{store.HistoryQuery{Since: at(0)}, w.want(store.HistoryQuery{})},
	} {
		for _, count := range []int{2, 100} {
			c.q.Count = count
			if diff := cmp.Diff(c.want, keys(allHistory(t, s, c.q))); diff != "" {
				t.Errorf("History(%+v) (-want +got):\n%s", c.q, diff)
			}
		}
	}
}

func testHistoryAt(t *testing.T, s store.Store) {
	w := newWriteLog(t, s)
	w.write("Patient", "a", at(1), false)     // a1
	w.write("Patient", "b", at(2), false)     // b1
	w.write("Patient", "a", at(3), false)     // a2
	w.write("Observation", "a", at(3), false) // Oa1
	w.write("Patient", "a", at(5), true)      // a3, delete marker
	w.write("Patient", "c", at(6), false)     // c1
	w.write("Patient", "a", at(7), false)     // a4
	w.write("Patient", "b", at(8), true)      // b2, delete marker

	for _, c := range []struct {
		q    store.HistoryQuery
		want []string
	}{
		{store.HistoryQuery{At: at(0)}, nil},
		{store.HistoryQuery{At: at(1)}, []string{"Patient/a/_history/1"}},
		{store.HistoryQuery{At: at(4)}, []string{
			"Observation/a/_history/1", "Patient/a/_history/2", "Patient/b/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", At: at(4)}, []string{"Patient/a/_history/2", "Patient/b/_history/1"}},
		{store.HistoryQuery{Type: "Patient", At: at(5)}, []string{"Patient/a/_history/3", "Patient/b/_history/1"}},
		// At is inclusive and compares at millisecond precision.
		{store.HistoryQuery{Type: "Patient", At: at(5).Add(-time.Millisecond)}, []string{"Patient/a/_history/2", "Patient/b/_history/1"}},
		{store.HistoryQuery{Type: "Patient", At: at(5).Add(999 * time.Microsecond)}, []string{"Patient/a/_history/3", "Patient/b/_history/1"}},
		{store.HistoryQuery{Type: "Patient", At: at(6).In(time.FixedZone("CET", 3600))}, []string{
			"Patient/c/_history/1", "Patient/a/_history/3", "Patient/b/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", At: at(9)}, []string{
			"Patient/b/_history/2", "Patient/a/_history/4", "Patient/c/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", ID: "a", At: at(6)}, []string{"Patient/a/_history/3"}},
		{store.HistoryQuery{Type: "Patient", ID: "c", At: at(5)}, nil},
		// Since and At together: versions current at At that were written
		// at or after Since.
		{store.HistoryQuery{Type: "Patient", Since: at(2), At: at(6)}, []string{
			"Patient/c/_history/1", "Patient/a/_history/3", "Patient/b/_history/1",
		}},
		{store.HistoryQuery{Type: "Patient", Since: at(3), At: at(6)}, []string{
			"Patient/c/_history/1", "Patient/a/_history/3",
		}},
	} {
		for _, count := range []int{1, 100} {
			c.q.Count = count
			if diff := cmp.Diff(c.want, keys(allHistory(t, s, c.q))); diff != "" {
				t.Errorf("History(%+v) (-want +got):\n%s", c.q, diff)
			}
		}
	}

	// Paging an At query while new versions are written.
	q := store.HistoryQuery{Type: "Patient", At: at(6), Count: 1}
	var got []store.HistoryEntry
	for i := 0; ; i++ {
		p := history(t, s, q)
		got = append(got, p.Entries...)
		if p.Next == 0 {
			break
		}
		q.Before = p.Next
		w.write("Patient", "c", at(20+i), false)
		w.write("Patient", "d", at(20+i), false)
	}
	if diff := cmp.Diff([]string{"Patient/c/_history/1", "Patient/a/_history/3", "Patient/b/_history/1"}, keys(got)); diff != "" {
		t.Errorf("paging At with concurrent writes (-want +got):\n%s", diff)
	}
}

func testHistoryCount(t *testing.T, s store.Store) {
	w := newWriteLog(t, s)
	for i := range 10 {
		w.write("Patient", "p"+strconv.Itoa(i%3), at(i), false)
	}
	all := w.want(store.HistoryQuery{})
	for _, c := range []struct {
		count int
		pages []int
	}{
		{1, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{3, []int{3, 3, 3, 1}},
		{5, []int{5, 5}},
		{10, []int{10}},
		{11, []int{10}},
		{1000, []int{10}},
	} {
		q := store.HistoryQuery{Count: c.count}
		var sizes []int
		var got []store.HistoryEntry
		for {
			p := history(t, s, q)
			sizes = append(sizes, len(p.Entries))
			got = append(got, p.Entries...)
			if p.Next == 0 {
				break
			}
			if len(sizes) > 20 {
				t.Fatalf("Count %d: paging does not end", c.count)
			}
			q.Before = p.Next
		}
		if diff := cmp.Diff(c.pages, sizes); diff != "" {
			t.Errorf("Count %d: page sizes (-want +got):\n%s", c.count, diff)
		}
		if diff := cmp.Diff(all, keys(got)); diff != "" {
			t.Errorf("Count %d: entries (-want +got):\n%s", c.count, diff)
		}
	}
}

func testHistoryInvalid(t *testing.T, s store.Store) {
	for _, q := range []store.HistoryQuery{
		{Count: 0},
		{Count: -1},
		{ID: "a", Count: 10},
		{Count: 10, Before: -1},
	} {
		if _, err := s.History(t.Context(), q); err == nil {
			t.Errorf("History(%+v) succeeded, want an error", q)
		}
	}
}

func testLastUpdated(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	for i, c := range []struct{ in, want time.Time }{
		{
			time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.FixedZone("IST", 5*3600+30*60)),
			time.Date(2024, 2, 29, 18, 29, 59, 999_000_000, time.UTC),
		},
		{ // sub-millisecond precision is truncated
			time.Date(2024, 6, 1, 0, 0, 0, 123_456_789, time.UTC),
			time.Date(2024, 6, 1, 0, 0, 0, 123_000_000, time.UTC),
		},
		{time.UnixMilli(1).UTC(), time.UnixMilli(1).UTC()},
		{time.UnixMilli(-1).UTC(), time.UnixMilli(-1).UTC()},
		{time.Date(1900, 1, 1, 0, 0, 0, 1_000_000, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 1_000_000, time.UTC)},
		{time.Date(2999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(2999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{now, now.UTC().Truncate(time.Millisecond)},
	} {
		id := "t" + strconv.Itoa(i)
		r := version("Patient", id, 1, c.in)
		put(t, s, r)
		want := r
		want.LastUpdated = c.want
		got := mustRead(t, s, "Patient", id)
		diffResource(t, "Read "+c.in.String(), want, got)
		if !got.LastUpdated.Equal(c.want) || got.LastUpdated.Location() != time.UTC {
			t.Errorf("LastUpdated %v round-tripped as %v, want %v", c.in, got.LastUpdated, c.want)
		}
		got, err := s.VRead(ctx, "Patient", id, 1)
		if err != nil {
			t.Fatalf("VRead: %v", err)
		}
		diffResource(t, "VRead "+c.in.String(), want, got)
		es := history(t, s, store.HistoryQuery{Type: "Patient", ID: id, Count: 1}).Entries
		if len(es) != 1 {
			t.Fatalf("history of %s: %d entries", id, len(es))
		}
		diffResource(t, "History "+c.in.String(), want, es[0].Resource)
	}
}

func testBody(t *testing.T, s store.Store) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	var large bytes.Buffer
	large.WriteString(`{"resourceType":"Binary","id":"large","data":"`)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	for large.Len() < 1<<20 {
		large.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	large.WriteString(`","note":"Zoë 🩺"}`)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	for name, body := range map[string][]byte{
		"unicode":    []byte(`{"resourceType":"Patient","name":[{"text":"Zoë Ŝtraße 李小龍 محمد 🩺👩🏽‍⚕️ é (e\u0301) \u00e9 \ud83e\ude7a"}]}`),
		"whitespace": []byte("{ \"b\" : 1.0,\n\t\"a\":[ 1e2 , 0.10 ],\"a\":null, \"z\" : {} }\n"),
		"large":      large.Bytes(),
		"raw bytes":  allBytes,
		"one byte":   []byte("x"),
	} {
		id := strings.ReplaceAll(name, " ", "-")
		r := version("Binary", id, 1, at(1))
		r.Body = bytes.Clone(body)
		put(t, s, r)
		r.Body[0] ^= 0xff // the store must not keep the caller's slice

		got := mustRead(t, s, "Binary", id)
		if !bytes.Equal(got.Body, body) {
			t.Errorf("%s: Read body differs (%d bytes, want %d)", name, len(got.Body), len(body))
		}
		got.Body[0] ^= 0xff // nor hand out its own
		got, err := s.VRead(ctx, "Binary", id, 1)
		if err != nil || !bytes.Equal(got.Body, body) {
			t.Errorf("%s: VRead body differs (err %v)", name, err)
		}
		es := history(t, s, store.HistoryQuery{Type: "Binary", ID: id, Count: 1}).Entries
		if len(es) != 1 || !bytes.Equal(es[0].Body, body) {
			t.Errorf("%s: history body differs", name)
		}
		err = s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.Current(ctx, "Binary", id)
			if err != nil {
				return err
			}
			if !bytes.Equal(cur.Body, body) {
				t.Errorf("%s: Current body differs", name)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Write(Current): %v", err)
		}
	}
}

func testIDs(t *testing.T, s store.Store) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-."
	ids := []string{
		strings.Repeat("a", 64),
		chars,
		strings.Repeat("9", 64),
		"a", "A", "1", "-", ".", "a.b-C",
		"abc", "ABC", "abc.",
	}
	for i, id := range ids {
		r := version("Patient", id, 1, at(i))
		put(t, s, r)
	}
	for i, id := range ids {
		r := version("Patient", id, 1, at(i))
		diffResource(t, "Read "+id, r, mustRead(t, s, "Patient", id))
	}
	wantNotFound(t, s, "Patient", "b")
	wantNotFound(t, s, "Patient", strings.Repeat("a", 63))
	got := allHistory(t, s, store.HistoryQuery{Type: "Patient", Count: 5})
	if len(got) != len(ids) {
		t.Errorf("type history has %d entries, want %d", len(got), len(ids))
	}
}

func testTypesIndependent(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1, p2 := version("Patient", "x", 1, at(1)), version("Patient", "x", 2, at(2))
	o1 := version("Observation", "x", 1, at(3))
	put(t, s, p1, p2, o1)
	diffResource(t, "Read Patient/x", p2, mustRead(t, s, "Patient", "x"))
	diffResource(t, "Read Observation/x", o1, mustRead(t, s, "Observation", "x"))
	if _, err := s.VRead(ctx, "Observation", "x", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VRead(Observation/x/_history/2) error = %v, want ErrNotFound", err)
	}
	o2 := deleted("Observation", "x", 2, at(4))
	put(t, s, o2)
	diffResource(t, "Read Observation/x", o2, mustRead(t, s, "Observation", "x"))
	diffResource(t, "Read Patient/x", p2, mustRead(t, s, "Patient", "x"))
	if diff := cmp.Diff([]string{"Patient/x/_history/2", "Patient/x/_history/1"},
		keys(allHistory(t, s, store.HistoryQuery{Type: "Patient", Count: 10}))); diff != "" {
		t.Errorf("Patient history (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Observation/x/_history/2", "Observation/x/_history/1"},
		keys(allHistory(t, s, store.HistoryQuery{Type: "Observation", ID: "x", Count: 10}))); diff != "" {
		t.Errorf("Observation/x history (-want +got):\n%s", diff)
	}
}

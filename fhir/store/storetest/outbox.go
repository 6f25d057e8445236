package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/telefhir/telefhir/fhir/store"
)

// outboxTests are the store.Outbox conformance tests, run by Run.
var outboxTests = []suiteTest{
	{"OutboxCommitted", testOutboxCommitted},
	{"OutboxPublishFails", testOutboxPublishFails},
	{"OutboxConcurrentDrains", testOutboxConcurrentDrains},
}

// drainAll drains s until it is empty, returning the changes in the order
// they were handed out.
func drainAll(t *testing.T, s store.Store, max int) []store.Change {
	t.Helper()
	var all []store.Change
	for range 10000 {
		n, err := s.DrainOutbox(t.Context(), max, func(_ context.Context, cs []store.Change) error {
			if len(cs) > max {
				t.Errorf("DrainOutbox(max %d) handed out %d changes", max, len(cs))
			}
			all = append(all, cs...)
			return nil
		})
		if err != nil {
			t.Fatalf("DrainOutbox: %v", err)
		}
		if n == 0 {
			return all
		}
	}
	t.Fatal("DrainOutbox never ran empty")
	return nil
}

func changeKeys(cs []store.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Identity()
	}
	return out
}

// testOutboxCommitted: every committed Put, and nothing rolled back, comes
// out of the outbox once, in commit (Seq) order, with the version as
// stored; a drained outbox stays empty.
func testOutboxCommitted(t *testing.T, s store.Store) {
	ctx := t.Context()
	if cs := drainAll(t, s, 10); len(cs) != 0 {
		t.Fatalf("a new store's outbox holds %v", changeKeys(cs))
	}
	v1, v2, d3 := version("Patient", "a", 1, at(1)), version("Patient", "a", 2, at(2)), deleted("Patient", "a", 3, at(3))
	o1 := version("Observation", "b", 1, at(2))
	put(t, s, v1)
	put(t, s, o1, v2)
	errBoom := errors.New("boom")
	if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Put(ctx, version("Patient", "rolled-back", 1, at(3))); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want errBoom", err)
	}
	put(t, s, d3)

	got := drainAll(t, s, 2)
	want := []store.Resource{v1, o1, v2, d3}
	if !slices.Equal(changeKeys(got), []string{key(v1), key(o1), key(v2), key(d3)}) {
		t.Fatalf("outbox = %v, want %s %s %s %s", changeKeys(got), key(v1), key(o1), key(v2), key(d3))
	}
	hist := allHistory(t, s, store.HistoryQuery{Count: 10})
	for i, c := range got {
		diffResource(t, "change "+c.Identity(), want[i], c.Resource)
		if i > 0 && c.Seq <= got[i-1].Seq {
			t.Errorf("change %s Seq %d not above the previous %d", c.Identity(), c.Seq, got[i-1].Seq)
		}
		// Seq is the version's history sequence number.
		if j := slices.IndexFunc(hist, func(e store.HistoryEntry) bool { return key(e.Resource) == c.Identity() }); j < 0 || hist[j].Seq != c.Seq {
			t.Errorf("change %s Seq %d does not match its history entry", c.Identity(), c.Seq)
		}
	}
	if cs := drainAll(t, s, 10); len(cs) != 0 {
		t.Errorf("drained outbox still holds %v", changeKeys(cs))
	}
	if _, err := s.DrainOutbox(ctx, 0, func(context.Context, []store.Change) error { return nil }); err == nil {
		t.Errorf("DrainOutbox(max 0) succeeded, want an error")
	}
}

// testOutboxPublishFails: a failed publish leaves the changes queued, and
// the next drain hands out the same ones.
func testOutboxPublishFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, version("Patient", "p", 1, at(1)))
	put(t, s, version("Patient", "q", 1, at(2)))
	errDown := errors.New("event stream down")
	var first []string
	for range 3 {
		_, err := s.DrainOutbox(ctx, 10, func(_ context.Context, cs []store.Change) error {
			first = changeKeys(cs)
			return errDown
		})
		if !errors.Is(err, errDown) {
			t.Fatalf("DrainOutbox with a failing publish = %v, want errDown", err)
		}
	}
	got := changeKeys(drainAll(t, s, 10))
	want := []string{"Patient/p/_history/1", "Patient/q/_history/1"}
	if !slices.Equal(first, want) || !slices.Equal(got, want) {
		t.Errorf("after failed publishes: handed %v then drained %v, want %v both times", first, got, want)
	}
}

// testOutboxConcurrentDrains: relays draining at once while writers write
// hand every change to exactly one successful publish.
func testOutboxConcurrentDrains(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, perWriter, relays = 4, 25, 3
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	for r := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				_, err := s.DrainOutbox(ctx, 7+r, func(_ context.Context, cs []store.Change) error {
					mu.Lock()
					defer mu.Unlock()
					for _, c := range cs {
						seen[c.Identity()]++
					}
					return nil
				})
				if err != nil {
					t.Errorf("relay %d: DrainOutbox: %v", r, err)
					return
				}
			}
		}()
	}
	var ww sync.WaitGroup
	for w := range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for i := range perWriter {
				r := version("Patient", "w"+string(rune('a'+w))+"-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1, at(i))
				if err := s.Write(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, r) }); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	ww.Wait()
	close(done)
	wg.Wait()
	for _, c := range drainAll(t, s, 50) {
		seen[c.Identity()]++
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d distinct changes published, want %d", len(seen), writers*perWriter)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("change %s published %d times", k, n)
		}
	}
}

package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/store"
)

// auditTests are the store.AuditLog conformance tests, run by Run.
var auditTests = []suiteTest{
	{"AuditQueueAndSeal", testAuditQueueAndSeal},
	{"AuditQueueRollsBack", testAuditQueueRollsBack},
	{"AuditSealInBatches", testAuditSealInBatches},
	{"AuditSealFailure", testAuditSealFailure},
	{"AuditSealConcurrent", testAuditSealConcurrent},
	{"AuditChainShowsChanges", testAuditChainShowsChanges},
	{"AuditPurge", testAuditPurge},
	{"AuditPurgeEverything", testAuditPurgeEverything},
	{"AuditPurgeBound", testAuditPurgeBound},
}

func auditLog(t *testing.T, s store.Store) store.AuditLog {
	t.Helper()
	al, ok := s.(store.AuditLog)
	if !ok {
		t.Fatalf("%T does not implement store.AuditLog", s)
	}
	return al
}

// A queue entry in these tests lists records as "id@second" separated by
// commas: entry("a1@1", "a2@2") holds AuditEvent a1 recorded at at(1) and
// a2 at at(2).
func entry(recs ...string) []byte { return []byte(strings.Join(recs, ",")) }

// rec is the record "id@i".
func rec(id string, i int) string { return id + "@" + strconv.Itoa(i) }

// auditBody is the AuditEvent the test sealer stores for id.
func auditBody(id string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"AuditEvent","id":%q}`, id)
}

// queueAudit queues entries in one write transaction.
func queueAudit(t *testing.T, s store.Store, entries ...[]byte) {
	t.Helper()
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		atx, ok := tx.(store.AuditTx)
		if !ok {
			return fmt.Errorf("%T does not implement store.AuditTx", tx)
		}
		return atx.QueueAudit(ctx, entries...)
	})
	if err != nil {
		t.Fatalf("QueueAudit(%d entries): %v", len(entries), err)
	}
}

// sealer is a SealFunc that stores each record of each entry as version 1
// of its AuditEvent, with an index row, and hashes the previous hash with
// the body. It records the entries and heads it was called with.
type sealer struct {
	mu    sync.Mutex
	calls [][]string // entry bodies per call
	heads []store.AuditLink
}

func sealHash(prev, body []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(body)
	return h.Sum(nil)
}

func (sl *sealer) seal(ctx context.Context, tx store.Tx, head store.AuditLink, queued []store.AuditQueued) ([]store.AuditLink, error) {
	var bodies []string
	var links []store.AuditLink
	prev := head.Hash
	for _, q := range queued {
		bodies = append(bodies, string(q.Body))
		for _, r := range strings.Split(string(q.Body), ",") {
			id, sec, ok := strings.Cut(r, "@")
			i, err := strconv.Atoi(sec)
			if !ok || err != nil {
				return nil, fmt.Errorf("bad test record %q", r)
			}
			res := store.Resource{
				Type: "AuditEvent", ID: id, VersionID: 1, LastUpdated: at(i), Method: "POST", Body: auditBody(id),
				Index: index(token("subtype", "http://hl7.org/fhir/restful-interaction", "read")),
			}
			if err := tx.Put(ctx, res); err != nil {
				return nil, err
			}
			prev = sealHash(prev, res.Body)
			links = append(links, store.AuditLink{Pos: head.Pos + int64(len(links)) + 1, ID: id, Recorded: at(i), Hash: prev})
		}
	}
	sl.mu.Lock()
	sl.calls = append(sl.calls, bodies)
	sl.heads = append(sl.heads, head)
	sl.mu.Unlock()
	return links, nil
}

func seal(t *testing.T, al store.AuditLog, limit int, sl *sealer) int {
	t.Helper()
	n, err := al.SealAudit(t.Context(), limit, sl.seal)
	if err != nil {
		t.Fatalf("SealAudit(%d): %v", limit, err)
	}
	return n
}

func backlog(t *testing.T, al store.AuditLog) store.AuditBacklog {
	t.Helper()
	b, err := al.AuditBacklog(t.Context())
	if err != nil {
		t.Fatalf("AuditBacklog: %v", err)
	}
	return b
}

func chain(t *testing.T, al store.AuditLog, after int64) []store.AuditEntry {
	t.Helper()
	var all []store.AuditEntry
	for {
		page, err := al.AuditChain(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("AuditChain(%d): %v", after, err)
		}
		if len(page) > 2 {
			t.Fatalf("AuditChain(%d, 2) returned %d entries", after, len(page))
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Pos
	}
}

// chainIDs lists "pos:id" of es.
func chainIDs(es []store.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d:%s", e.Pos, e.ID))
	}
	return out
}

func testAuditQueueAndSeal(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	if b := backlog(t, al); b != (store.AuditBacklog{}) {
		t.Fatalf("backlog of a new store = %+v", b)
	}
	if a, err := al.AuditAnchor(t.Context()); err != nil || a.Pos != 0 || a.Hash != nil {
		t.Fatalf("AuditAnchor of a new store = %+v, %v", a, err)
	}
	sl := &sealer{}
	if n := seal(t, al, 10, sl); n != 0 || len(sl.calls) != 0 {
		t.Fatalf("SealAudit on an empty queue sealed %d, called fn %d times", n, len(sl.calls))
	}
	queueAudit(t, s, entry(rec("a1", 1), rec("a2", 2)), entry(rec("a3", 3)))
	queueAudit(t, s, entry(rec("a4", 4)))
	b := backlog(t, al)
	if b.Count != 3 || b.First <= 0 || b.Last <= b.First {
		t.Fatalf("backlog = %+v, want 3 entries", b)
	}
	if n := seal(t, al, 10, sl); n != 3 {
		t.Fatalf("SealAudit sealed %d entries, want 3", n)
	}
	if diff := cmp.Diff([][]string{{"a1@1,a2@2", "a3@3", "a4@4"}}, sl.calls); diff != "" {
		t.Errorf("sealed in the wrong order (-want +got):\n%s", diff)
	}
	if h := sl.heads[0]; h.Pos != 0 || h.ID != "" || h.Hash != nil || !h.Recorded.IsZero() {
		t.Errorf("head of the empty chain = %+v, want the zero link", h)
	}
	if b := backlog(t, al); b.Count != 0 {
		t.Errorf("backlog after sealing = %+v", b)
	}
	es := chain(t, al, 0)
	if diff := cmp.Diff([]string{"1:a1", "2:a2", "3:a3", "4:a4"}, chainIDs(es)); diff != "" {
		t.Fatalf("chain (-want +got):\n%s", diff)
	}
	var prev []byte
	for i, e := range es {
		prev = sealHash(prev, auditBody(e.ID))
		if string(e.Body) != string(auditBody(e.ID)) || string(e.Hash) != string(prev) || !e.Recorded.Equal(at(i+1)) ||
			e.Recorded.Location() != time.UTC || e.CurrentVersion != 1 || e.Deleted {
			t.Errorf("chain entry %d = %+v, want body %s, recorded %v, version 1", i, e, auditBody(e.ID), at(i+1))
		}
	}
	if got := mustRead(t, s, "AuditEvent", "a2"); string(got.Body) != string(auditBody("a2")) {
		t.Errorf("AuditEvent a2 = %s", got.Body)
	}
	// The next seal starts after the head.
	queueAudit(t, s, entry(rec("a5", 5)))
	if n := seal(t, al, 10, sl); n != 1 {
		t.Fatalf("SealAudit sealed %d, want 1", n)
	}
	if h := sl.heads[1]; h.Pos != 4 || h.ID != "a4" || string(h.Hash) != string(es[3].Hash) || !h.Recorded.Equal(at(4)) {
		t.Errorf("head = %+v, want link 4", h)
	}
}

func testAuditQueueRollsBack(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	boom := errors.New("boom")
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.(store.AuditTx).QueueAudit(ctx, entry(rec("r1", 1))); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	if b := backlog(t, al); b.Count != 0 {
		t.Errorf("a rolled-back entry is queued: %+v", b)
	}
	// An empty entry dooms the transaction.
	err = s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_ = tx.(store.AuditTx).QueueAudit(ctx, entry(rec("r2", 1)), nil)
		return nil
	})
	if err == nil {
		t.Errorf("QueueAudit of an empty entry succeeded")
	}
	if b := backlog(t, al); b.Count != 0 {
		t.Errorf("entries of a failed transaction were queued: %+v", b)
	}
}

func testAuditSealInBatches(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	var entries [][]byte
	for i := range 5 {
		entries = append(entries, entry(rec(fmt.Sprintf("b%d", i), i)))
	}
	queueAudit(t, s, entries...)
	sl := &sealer{}
	for _, want := range []int{2, 2, 1, 0} {
		if n := seal(t, al, 2, sl); n != want {
			t.Fatalf("SealAudit(2) sealed %d, want %d", n, want)
		}
	}
	if diff := cmp.Diff([][]string{{"b0@0", "b1@1"}, {"b2@2", "b3@3"}, {"b4@4"}}, sl.calls); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1:b0", "2:b1", "3:b2", "4:b3", "5:b4"}, chainIDs(chain(t, al, 0))); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if got := chainIDs(chain(t, al, 3)); !slices.Equal(got, []string{"4:b3", "5:b4"}) {
		t.Errorf("chain after 3 = %v", got)
	}
	if _, err := al.SealAudit(t.Context(), 0, sl.seal); err == nil {
		t.Errorf("SealAudit with limit 0 succeeded")
	}
}

func testAuditSealFailure(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	queueAudit(t, s, entry(rec("f1", 1), rec("f2", 2)))
	boom := errors.New("boom")
	for name, fn := range map[string]store.SealFunc{
		"error after a Put": func(ctx context.Context, tx store.Tx, head store.AuditLink, queued []store.AuditQueued) ([]store.AuditLink, error) {
			if _, err := (&sealer{}).seal(ctx, tx, head, queued); err != nil {
				return nil, err
			}
			return nil, boom
		},
		"a link without hash": func(ctx context.Context, tx store.Tx, head store.AuditLink, queued []store.AuditQueued) ([]store.AuditLink, error) {
			links, err := (&sealer{}).seal(ctx, tx, head, queued)
			links[0].Hash = nil
			return links, err
		},
		"wrong positions": func(ctx context.Context, tx store.Tx, head store.AuditLink, queued []store.AuditQueued) ([]store.AuditLink, error) {
			links, err := (&sealer{}).seal(ctx, tx, head, queued)
			links[1].Pos = 7
			return links, err
		},
	} {
		if _, err := al.SealAudit(t.Context(), 10, fn); err == nil {
			t.Errorf("%s: SealAudit succeeded", name)
		}
		if b := backlog(t, al); b.Count != 1 {
			t.Errorf("%s: backlog = %+v, want the entry still queued", name, b)
		}
		if es := chain(t, al, 0); len(es) != 0 {
			t.Errorf("%s: chain = %v, want empty", name, chainIDs(es))
		}
		wantNotFound(t, s, "AuditEvent", "f1")
	}
	if n := seal(t, al, 10, &sealer{}); n != 1 {
		t.Errorf("SealAudit after the failures sealed %d, want 1", n)
	}
	if got := chainIDs(chain(t, al, 0)); !slices.Equal(got, []string{"1:f1", "2:f2"}) {
		t.Errorf("chain = %v", got)
	}
}

// testAuditSealConcurrent queues entries from many writers while several
// sealers run: every record is sealed once, at positions without gaps.
func testAuditSealConcurrent(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+3)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
					return tx.(store.AuditTx).QueueAudit(ctx, entry(rec(fmt.Sprintf("w%d-%d", w, i), i)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var sealers sync.WaitGroup
	sl := &sealer{}
	for range 3 {
		sealers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := al.SealAudit(t.Context(), 4, sl.seal); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	sealers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for seal(t, al, 100, sl) > 0 {
	}
	es := chain(t, al, 0)
	if len(es) != writers*perWriter {
		t.Fatalf("chain has %d links, want %d", len(es), writers*perWriter)
	}
	seen := map[string]bool{}
	var prev []byte
	for i, e := range es {
		if e.Pos != int64(i+1) {
			t.Fatalf("link %d has position %d", i, e.Pos)
		}
		if seen[e.ID] {
			t.Fatalf("%s sealed twice", e.ID)
		}
		seen[e.ID] = true
		// Each sealer saw the chain as the previous one left it.
		prev = sealHash(prev, e.Body)
		if string(prev) != string(e.Hash) {
			t.Fatalf("link %d (%s): hash does not chain to link %d", e.Pos, e.ID, e.Pos-1)
		}
	}
	if b := backlog(t, al); b.Count != 0 {
		t.Errorf("backlog = %+v", b)
	}
}

// testAuditChainShowsChanges: AuditChain reports the AuditEvent's current
// version and delete marker, which verification relies on.
func testAuditChainShowsChanges(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	queueAudit(t, s, entry(rec("c1", 1), rec("c2", 2)))
	seal(t, al, 10, &sealer{})
	put(t, s, version("AuditEvent", "c1", 2, at(5)))
	put(t, s, deleted("AuditEvent", "c2", 2, at(6)))
	es := chain(t, al, 0)
	if len(es) != 2 {
		t.Fatalf("chain = %v", chainIDs(es))
	}
	if e := es[0]; e.CurrentVersion != 2 || e.Deleted || string(e.Body) != string(auditBody("c1")) {
		t.Errorf("c1 after an update = %+v, want current version 2 and the sealed body", e)
	}
	if e := es[1]; e.CurrentVersion != 2 || !e.Deleted {
		t.Errorf("c2 after a delete = %+v, want a current delete marker", e)
	}
}

func testAuditPurge(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	queueAudit(t, s, entry(rec("p1", 1), rec("p2", 2), rec("p3", 3)), entry(rec("p4", 4), rec("p5", 5)))
	sl := &sealer{}
	seal(t, al, 10, sl)
	before := chain(t, al, 0)
	f := newFixture(t, s)
	f.put("Patient", "keep", token("subtype", "http://hl7.org/fhir/restful-interaction", "read"))

	for _, bad := range []int64{0, 6, -1} {
		if _, err := al.PurgeAudit(t.Context(), bad, entry(rec("bad", 9))); err == nil {
			t.Errorf("PurgeAudit(%d) succeeded", bad)
		}
	}
	if got := chainIDs(chain(t, al, 0)); len(got) != 5 {
		t.Fatalf("a failed purge changed the chain: %v", got)
	}
	if b := backlog(t, al); b.Count != 0 {
		t.Fatalf("a failed purge queued its record: %+v", b)
	}
	n, err := al.PurgeAudit(t.Context(), 3, entry(rec("purge1", 10)))
	if err != nil || n != 3 {
		t.Fatalf("PurgeAudit(3) = %d, %v; want 3", n, err)
	}
	if diff := cmp.Diff([]string{"4:p4", "5:p5"}, chainIDs(chain(t, al, 0))); diff != "" {
		t.Errorf("chain after purge (-want +got):\n%s", diff)
	}
	a, err := al.AuditAnchor(t.Context())
	if err != nil || a.Pos != 3 || string(a.Hash) != string(before[2].Hash) || !a.Recorded.Equal(at(3)) || a.ID != "" {
		t.Errorf("anchor = %+v, %v; want link 3 without id", a, err)
	}
	for _, id := range []string{"p1", "p2", "p3"} {
		wantNotFound(t, s, "AuditEvent", id)
		if _, err := s.VRead(t.Context(), "AuditEvent", id, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("VRead(AuditEvent/%s/1) after purge = %v, want ErrNotFound", id, err)
		}
	}
	for _, e := range allHistory(t, s, store.HistoryQuery{Type: "AuditEvent", Count: 10}) {
		if e.ID == "p1" || e.ID == "p2" || e.ID == "p3" {
			t.Errorf("history still has %s", key(e.Resource))
		}
	}
	// Index rows of the purged AuditEvents are gone; others stay.
	for _, id := range []string{"p4", "p5"} {
		r := mustRead(t, s, "AuditEvent", id)
		r.Index = index(token("subtype", "http://hl7.org/fhir/restful-interaction", "read")) // as sealed
		f.last["AuditEvent/"+id] = r
	}
	f.check("after purge", q("", c(tokenP("subtype", "", "read"))), "AuditEvent/p4", "AuditEvent/p5", "Patient/keep")
	// The purge record is queued in the same transaction, and the chain
	// continues after the head.
	if b := backlog(t, al); b.Count != 1 {
		t.Fatalf("backlog after purge = %+v, want the purge record", b)
	}
	seal(t, al, 10, sl)
	if diff := cmp.Diff([]string{"4:p4", "5:p5", "6:purge1"}, chainIDs(chain(t, al, 0))); diff != "" {
		t.Errorf("chain after sealing the purge record (-want +got):\n%s", diff)
	}
	// Purging again at or below the anchor fails.
	if _, err := al.PurgeAudit(t.Context(), 3, entry(rec("purge2", 11))); err == nil {
		t.Errorf("PurgeAudit(3) again succeeded")
	}
}

func testAuditPurgeEverything(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	queueAudit(t, s, entry(rec("e1", 1), rec("e2", 2)))
	sl := &sealer{}
	seal(t, al, 10, sl)
	last := chain(t, al, 0)[1]
	if _, err := al.PurgeAudit(t.Context(), 2, entry(rec("purge", 3))); err != nil {
		t.Fatal(err)
	}
	// With every link purged the head is the anchor.
	seal(t, al, 10, sl)
	if h := sl.heads[1]; h.Pos != 2 || string(h.Hash) != string(last.Hash) {
		t.Errorf("head after purging everything = %+v, want the anchor at 2", h)
	}
	if got := chainIDs(chain(t, al, 0)); !slices.Equal(got, []string{"3:purge"}) {
		t.Errorf("chain = %v", got)
	}
}

func testAuditPurgeBound(t *testing.T, s store.Store) {
	al := auditLog(t, s)
	bound := func(cutoff time.Time) int64 {
		t.Helper()
		b, err := al.AuditPurgeBound(t.Context(), cutoff)
		if err != nil {
			t.Fatalf("AuditPurgeBound(%v): %v", cutoff, err)
		}
		return b
	}
	if b := bound(at(100)); b != 0 {
		t.Errorf("bound of an empty chain = %d", b)
	}
	// Recorded times are not in chain order: the bound stops before the
	// first link at or after the cutoff.
	queueAudit(t, s, entry(rec("t1", 1), rec("t3", 3), rec("t2", 2), rec("t5", 5)))
	seal(t, al, 10, &sealer{})
	for _, tc := range []struct {
		cutoff time.Time
		want   int64
	}{
		{at(0), 0}, {at(1), 0}, {at(2), 1}, {at(3), 1}, {at(4), 3}, {at(5), 3}, {at(6), 4},
	} {
		if b := bound(tc.cutoff); b != tc.want {
			t.Errorf("bound(at(%v)) = %d, want %d", tc.cutoff.Sub(t0), b, tc.want)
		}
	}
	if _, err := al.PurgeAudit(t.Context(), 3, entry(rec("purge", 7))); err != nil {
		t.Fatal(err)
	}
	if b := bound(at(4)); b != 0 {
		t.Errorf("bound at or below the anchor = %d, want 0", b)
	}
	if b := bound(at(6)); b != 4 {
		t.Errorf("bound after purge = %d, want 4", b)
	}
}

package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// testScan: a scan returns each current, non-deleted resource once, in key
// order, with its current version, page by page, per type or for all.
func testScan(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "p1")
	f.put("Observation", "o1")
	f.put("Patient", "p2")
	f.put("Observation", "o2")
	f.put("Observation", "o1") // version 2 keeps o1's key
	f.put("Patient", "gone")
	f.del("Patient", "gone")
	f.put("Observation", "o3")

	scan := func(typ string, count int) []store.ScanEntry {
		t.Helper()
		var all []store.ScanEntry
		q := store.ScanQuery{Type: typ, Count: count}
		for range 100 {
			p, err := s.Scan(t.Context(), q)
			if err != nil {
				t.Fatalf("Scan(%+v): %v", q, err)
			}
			if len(p.Entries) > count {
				t.Fatalf("Scan(%+v) returned %d entries", q, len(p.Entries))
			}
			if p.Next != 0 && len(p.Entries) != count {
				t.Fatalf("Scan(%+v): Next %d after a short page", q, p.Next)
			}
			all = append(all, p.Entries...)
			if p.Next == 0 {
				return all
			}
			q.After = p.Next
		}
		t.Fatalf("Scan(%s) did not end", typ)
		return nil
	}
	for _, tc := range []struct {
		typ   string
		count int
		want  []string
	}{
		{"", 1, []string{"Patient/p1", "Observation/o1", "Patient/p2", "Observation/o2", "Observation/o3"}},
		{"", 2, []string{"Patient/p1", "Observation/o1", "Patient/p2", "Observation/o2", "Observation/o3"}},
		{"", 100, []string{"Patient/p1", "Observation/o1", "Patient/p2", "Observation/o2", "Observation/o3"}},
		{"Observation", 2, []string{"Observation/o1", "Observation/o2", "Observation/o3"}},
		{"Patient", 1, []string{"Patient/p1", "Patient/p2"}},
		{"Encounter", 10, nil},
	} {
		got := scan(tc.typ, tc.count)
		var refs []string
		var last int64
		for _, e := range got {
			ref := e.Type + "/" + e.ID
			refs = append(refs, ref)
			if e.Key <= last {
				t.Errorf("Scan(%q, %d): key %d of %s not above %d", tc.typ, tc.count, e.Key, ref, last)
			}
			last = e.Key
			diffResource(t, "Scan "+ref, stripIndex(f.last[ref]), e.Resource)
		}
		if !slices.Equal(refs, tc.want) {
			t.Errorf("Scan(%q, %d) = %v, want %v", tc.typ, tc.count, refs, tc.want)
		}
	}
	if _, err := s.Scan(t.Context(), store.ScanQuery{Count: 0}); err == nil {
		t.Error("Scan with Count 0 did not fail")
	}
}

func stripIndex(r store.Resource) store.Resource {
	r.Index = nil
	return r
}

// testReindex: Reindex replaces the index rows of the current version
// without a new version, and refuses (false, nothing changed) a version
// that is no longer current or is deleted.
func testReindex(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	code := func(v string) search.Query { return q("Observation", c(tokenP("code", "", v))) }
	f.put("Observation", "o1", token("code", "", "A"))
	f.put("Observation", "o2", token("code", "", "A"))
	f.put("Observation", "o2", token("code", "", "B"))
	f.put("Observation", "gone", token("code", "", "A"))
	f.del("Observation", "gone")

	reindex := func(r store.Resource) bool {
		t.Helper()
		var ok bool
		err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.Reindex(ctx, r)
			return err
		})
		if err != nil {
			t.Fatalf("Reindex(%s/%s v%d): %v", r.Type, r.ID, r.VersionID, err)
		}
		if ok { // the fixture's record of o1's rows, which checks compare with
			cur := f.last[r.Type+"/"+r.ID]
			cur.Index = r.Index
			f.last[r.Type+"/"+r.ID] = cur
		}
		return ok
	}
	o1 := store.Resource{Type: "Observation", ID: "o1", VersionID: 1, Index: index(token("code", "", "Z"), str("name", "n"))}
	if !reindex(o1) {
		t.Error("Reindex of the current version returned false")
	}
	f.check("old rows gone", code("A"))
	f.check("new rows", code("Z"), "Observation/o1")
	if got := mustRead(t, s, "Observation", "o1"); got.VersionID != 1 {
		t.Errorf("Reindex made version %d", got.VersionID)
	}
	h := history(t, s, store.HistoryQuery{Type: "Observation", ID: "o1", Count: 10})
	if len(h.Entries) != 1 {
		t.Errorf("history after Reindex has %d versions", len(h.Entries))
	}

	stale := store.Resource{Type: "Observation", ID: "o2", VersionID: 1, Index: index(token("code", "", "Z"))}
	if reindex(stale) {
		t.Error("Reindex of a superseded version returned true")
	}
	f.check("stale reindex changed nothing", code("B"), "Observation/o2")
	for _, r := range []store.Resource{
		{Type: "Observation", ID: "gone", VersionID: 1, Index: index(token("code", "", "Z"))},
		{Type: "Observation", ID: "gone", VersionID: 2, Index: index(token("code", "", "Z"))},
		{Type: "Observation", ID: "never", VersionID: 1, Index: index(token("code", "", "Z"))},
	} {
		if reindex(r) {
			t.Errorf("Reindex(%s v%d) returned true", r.ID, r.VersionID)
		}
	}
	f.check("deleted and missing resources stay out", code("Z"), "Observation/o1")

	// An empty index removes every row.
	if !reindex(store.Resource{Type: "Observation", ID: "o1", VersionID: 1}) {
		t.Error("Reindex with no rows returned false")
	}
	f.check("emptied", code("Z"))
	err := s.Write(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Reindex(ctx, store.Resource{Type: "Observation"})
		return err
	})
	if err == nil {
		t.Error("Reindex without id and version did not fail")
	}
}

package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/fhir/store"
)

// trailOf fills a fresh server's trail with a few dozen records and
// returns it with its chain.
func trailOf(t *testing.T, kind string) (*env, []store.AuditEntry) {
	t.Helper()
	e := newEnv(t, kind)
	setup(e)
	for range 5 {
		e.must(200, "GET", "/Observation/o1", "")
		e.must(200, "GET", "/Patient?name="+phiName, "")
	}
	e.seal()
	es := e.chain(0)
	if len(es) < 10 {
		t.Fatalf("chain has %d links", len(es))
	}
	return e, es
}

func verify(t *testing.T, st store.Store) audit.Report {
	t.Helper()
	rep, err := audit.Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func TestVerifyIntact(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e, es := trailOf(t, kind)
			rep := verify(t, e.st)
			last := es[len(es)-1]
			if rep.Broken != nil || rep.From != 1 || rep.To != last.Pos || rep.Records != int64(len(es)) || !bytes.Equal(rep.Head, last.Hash) {
				t.Fatalf("Verify = %+v (broken %v), want %d intact records with head %x", rep, rep.Broken, len(es), last.Hash)
			}
			// Each sealed AuditEvent hashes to its link and names the
			// previous link's hash.
			prev := make([]byte, sha256.Size)
			for _, en := range es {
				if sum := sha256.Sum256(en.Body); !bytes.Equal(sum[:], en.Hash) {
					t.Fatalf("link %d: hash is not SHA-256 of the stored AuditEvent", en.Pos)
				}
				if !bytes.Contains(en.Body, []byte(`"previous","valueString":"sha256:`+hex.EncodeToString(prev)+`"`)) {
					t.Fatalf("AuditEvent at %d does not name the previous hash: %s", en.Pos, en.Body)
				}
				prev = en.Hash
			}
			// Records queued but not sealed are reported, not failed.
			e.must(200, "GET", "/Patient/p1", "")
			if rep := verify(t, e.st); rep.Broken != nil || rep.Queued != 1 {
				t.Errorf("Verify with a queued record = %+v (broken %v), want intact with 1 queued", rep, rep.Broken)
			}
		})
	}
}

// TestVerifyFindsTampering changes the database behind the server's back,
// one way per case, and checks that Verify names the first broken link.
func TestVerifyFindsTampering(t *testing.T) {
	type tamper func(e *env, es []store.AuditEntry)
	setBody := func(e *env, en store.AuditEntry, body []byte) {
		e.sql(`UPDATE resource_version SET body = $1 WHERE res_type = 'AuditEvent' AND res_id = $2`, body, en.ID)
	}
	for _, tc := range []struct {
		name   string
		at     int // index of the link expected broken
		reason string
		tamper tamper
	}{
		{"outcome changed", 6, "stored bytes do not match the link's hash", func(e *env, es []store.AuditEntry) {
			setBody(e, es[6], bytes.Replace(es[6].Body, []byte(`"outcome":"0"`), []byte(`"outcome":"4"`), 1))
		}},
		{"patient removed and the link's hash rewritten", 4, "previous hash", func(e *env, es []store.AuditEntry) {
			b := bytes.Replace(es[3].Body, []byte(`"reference":"Patient/p1"`), []byte(`"reference":"Patient/p2"`), 1)
			setBody(e, es[3], b)
			sum := sha256.Sum256(b)
			e.sql(`UPDATE audit_chain SET hash = $1 WHERE pos = $2`, sum[:], es[3].Pos)
		}},
		{"link deleted", 5, "the link is missing", func(e *env, es []store.AuditEntry) {
			e.sql(`DELETE FROM audit_chain WHERE pos = $1`, es[5].Pos)
		}},
		{"record deleted", 2, "the AuditEvent is missing", func(e *env, es []store.AuditEntry) {
			e.sql(`DELETE FROM resource WHERE res_type = 'AuditEvent' AND res_id = $1`, es[2].ID)
			e.sql(`DELETE FROM outbox WHERE seq IN (SELECT seq FROM resource_version WHERE res_type = 'AuditEvent' AND res_id = $1)`, es[2].ID)
			e.sql(`DELETE FROM resource_version WHERE res_type = 'AuditEvent' AND res_id = $1`, es[2].ID)
		}},
		{"two records swapped", 7, "do not match the link's hash", func(e *env, es []store.AuditEntry) {
			e.sql(`UPDATE audit_chain SET res_id = 'swap' WHERE pos = $1`, es[7].Pos)
			e.sql(`UPDATE audit_chain SET res_id = $1 WHERE pos = $2`, es[7].ID, es[8].Pos)
			e.sql(`UPDATE audit_chain SET res_id = $1 WHERE pos = $2`, es[8].ID, es[7].Pos)
		}},
		{"record updated through the store", 1, "changed after sealing", func(e *env, es []store.AuditEntry) {
			err := e.st.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				return tx.Put(ctx, store.Resource{Type: "AuditEvent", ID: es[1].ID, VersionID: 2, LastUpdated: time.Now(), Method: "PUT", Body: es[1].Body})
			})
			if err != nil {
				e.t.Fatal(err)
			}
		}},
		{"record deleted through the store", 0, "was deleted", func(e *env, es []store.AuditEntry) {
			err := e.st.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				return tx.Put(ctx, store.Resource{Type: "AuditEvent", ID: es[0].ID, VersionID: 2, LastUpdated: time.Now(), Method: "DELETE", Deleted: true})
			})
			if err != nil {
				e.t.Fatal(err)
			}
		}},
		{"record added outside the chain", -1, "AuditEvents are stored but only", func(e *env, es []store.AuditEntry) {
			err := e.st.Write(context.Background(), func(ctx context.Context, tx store.Tx) error {
				return tx.Put(ctx, store.Resource{Type: "AuditEvent", ID: "forged", VersionID: 1, LastUpdated: time.Now(), Method: "POST", Body: es[0].Body})
			})
			if err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		for _, kind := range stores {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e, es := trailOf(t, kind)
				tc.tamper(e, es)
				rep := verify(t, e.st)
				if rep.Broken == nil {
					t.Fatalf("Verify found nothing: %+v", rep)
				}
				wantPos := es[len(es)-1].Pos + 1
				if tc.at >= 0 {
					wantPos = es[tc.at].Pos
				}
				if rep.Broken.Pos != wantPos || !strings.Contains(rep.Broken.Reason, tc.reason) {
					t.Fatalf("Verify broke at %s, want position %d: ...%s...", rep.Broken, wantPos, tc.reason)
				}
				if tc.at > 0 && rep.Records != int64(tc.at) {
					t.Errorf("Verify checked %d records before the break, want %d", rep.Records, tc.at)
				}
			})
		}
	}
}

// TestSealMalformedEntry: a queue row the trail did not write (or that was
// damaged) does not stop sealing: each bad record becomes a security alert
// naming the hash of its bytes, the good ones are sealed as written.
func TestSealMalformedEntry(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		from := e.head()
		e.must(200, "GET", "/Patient/p1", "", "X-Request-Id", "good")
		e.sql(`INSERT INTO audit_queue (body) VALUES ($1)`, []byte("not json\n{\"v\":1,\"id\":\"ok-but-unknown\",\"t\":1,\"k\":\"nope\"}\n"))
		evs := e.eventsAfter(from)
		if len(evs) != 3 {
			t.Fatalf("%d AuditEvents sealed, want 3", len(evs))
		}
		for i, ev := range evs[1:] {
			sub := ev["subtype"].([]any)[0].(map[string]any)
			desc, _ := ev["outcomeDesc"].(string)
			if sub["code"] != "malformed-audit-record" || ev["outcome"] != "8" || !strings.Contains(desc, "sha256:") {
				t.Errorf("record %d of the bad entry sealed as %v", i, ev)
			}
		}
		if rep := verify(t, e.st); rep.Broken != nil {
			t.Errorf("Verify: %s", rep.Broken)
		}
		if !strings.Contains(e.logs.String(), "malformed") {
			t.Errorf("the malformed record was not logged")
		}
	})
}

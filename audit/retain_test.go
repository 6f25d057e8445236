package audit_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/audit"
)

func TestParseRetention(t *testing.T) {
	now := time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in     string
		cutoff time.Time
	}{
		{"6y", time.Date(2020, 2, 28, 12, 0, 0, 0, time.UTC)},
		{"1y", time.Date(2025, 2, 28, 12, 0, 0, 0, time.UTC)},
		{"90d", time.Date(2025, 11, 30, 12, 0, 0, 0, time.UTC)},
		{"36h", time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)},
	} {
		r, err := audit.ParseRetention(tc.in)
		if err != nil {
			t.Errorf("ParseRetention(%q): %v", tc.in, err)
			continue
		}
		if got := r.Cutoff(now); !got.Equal(tc.cutoff) {
			t.Errorf("ParseRetention(%q).Cutoff = %v, want %v", tc.in, got, tc.cutoff)
		}
		if r2, err := audit.ParseRetention(r.String()); err != nil || r2 != r {
			t.Errorf("ParseRetention(%q).String() = %q, which parses as %+v, %v", tc.in, r.String(), r2, err)
		}
	}
	for _, bad := range []string{"", "y", "0y", "-1y", "6", "6yy", "1001y", "0d", "-5h", "6 years", "1.5y"} {
		if _, err := audit.ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) succeeded", bad)
		}
	}
	if audit.DefaultRetention.String() != "6y" {
		t.Errorf("DefaultRetention = %s, want 6y", audit.DefaultRetention)
	}
}

func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"6y", "90d", "720h", "1h30m", "0y", "-1d", "99999999999999999999y"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := audit.ParseRetention(s)
		if err != nil {
			return
		}
		if c := r.Cutoff(now); !c.Before(now) {
			t.Fatalf("ParseRetention(%q) = %+v: cutoff %v is not before now", s, r, c)
		}
		if r2, err := audit.ParseRetention(r.String()); err != nil || r2.Cutoff(now) != r.Cutoff(now) {
			t.Fatalf("ParseRetention(%q).String() = %q does not parse back to the same period: %+v, %v", s, r.String(), r2, err)
		}
	})
}

// TestExportAndPurge: records older than the retention period are exported
// as NDJSON that still verifies, then purged with a record of the purge;
// the chain verifies afterwards, and newer records stay searchable.
func TestExportAndPurge(t *testing.T) {
	defer audit.SetPurgeChunk(4)()
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			// Seven years ago: old records.
			e.clock.jump(-7 * 365 * 24 * time.Hour)
			setup(e)
			e.must(200, "GET", "/Observation/o1", "", "X-Request-Id", "old-read")
			// Now: new ones.
			e.clock.jump(7 * 365 * 24 * time.Hour)
			e.must(200, "GET", "/Observation/o1", "", "X-Request-Id", "new-read")
			e.seal()
			all := e.chain(0)
			now := e.clock.now()
			cutoff := audit.DefaultRetention.Cutoff(now)
			through, err := audit.PurgeBound(t.Context(), e.st, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			var old int
			for _, en := range all {
				if en.Recorded.Before(cutoff) {
					old++
				}
			}
			if through != int64(old) || old != 5 {
				t.Fatalf("PurgeBound = %d, %d records are older than %v; want 5 (setup and the old read)", through, old, cutoff)
			}

			var buf bytes.Buffer
			exp, err := audit.Export(t.Context(), e.st, &buf, through)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(buf.Bytes())
			if exp.From != 1 || exp.Through != through || exp.Records != through || !bytes.Equal(exp.SHA256, sum[:]) {
				t.Fatalf("Export = %+v", exp)
			}
			// The export is the stored AuditEvents, byte for byte, and
			// each line's hash is the next line's previous.
			prev := make([]byte, sha256.Size)
			sc := bufio.NewScanner(&buf)
			sc.Buffer(nil, 1<<20)
			i := 0
			for ; sc.Scan(); i++ {
				line := sc.Bytes()
				if !bytes.Equal(line, all[i].Body) {
					t.Fatalf("export line %d is not AuditEvent/%s as stored", i+1, all[i].ID)
				}
				if !bytes.Contains(line, []byte(`"sha256:`+hex.EncodeToString(prev)+`"`)) {
					t.Fatalf("export line %d does not chain to the line before", i+1)
				}
				h := sha256.Sum256(line)
				prev = h[:]
			}
			if i != old {
				t.Fatalf("export has %d lines, want %d", i, old)
			}

			n, err := e.trail.Purge(operator(t), exp, "audit-export.ndjson", cutoff)
			if err != nil || n != through {
				t.Fatalf("Purge = %d, %v; want %d", n, err, through)
			}
			e.seal()
			rep := verify(t, e.st)
			if rep.Broken != nil || rep.From != through+1 {
				t.Fatalf("Verify after purge = %+v (broken %v), want intact from %d", rep, rep.Broken, through+1)
			}
			for _, en := range all[:old] {
				e.must(404, "GET", "/AuditEvent/"+en.ID, "", "X-Test-Grant", "auditor")
			}
			r := e.must(200, "GET", "/AuditEvent?entity=Observation/o1&_count=50", "", "X-Test-Grant", "auditor")
			if ids, _ := requestIDs(t, r.body); len(ids) != 1 || ids[0] != "new-read" {
				t.Errorf("AuditEvents about o1 after the purge: %v, want only new-read", ids)
			}
			// Two purge transactions (4 links, then 1), each recorded.
			r = e.must(200, "GET", "/AuditEvent?subtype=destroy&_count=50", "", "X-Test-Grant", "auditor")
			var b struct {
				Entry []struct {
					Resource json.RawMessage
				}
			}
			if err := json.Unmarshal(r.body, &b); err != nil || len(b.Entry) != 2 {
				t.Fatalf("purge records: %s", r.body)
			}
			for i, en := range b.Entry {
				s := string(en.Resource)
				for _, want := range []string{`"action":"D"`, `"export-sha256","valueString":"` + hex.EncodeToString(exp.SHA256), `"audit-export.ndjson"`,
					`"value":"u-ops"`, []string{`"1-4"`, `"5-5"`}[i]} {
					if !strings.Contains(s, want) {
						t.Errorf("purge record %d lacks %s: %s", i, want, s)
					}
				}
			}
			// Nothing is left to purge.
			if b, err := audit.PurgeBound(t.Context(), e.st, cutoff); err != nil || b != 0 {
				t.Errorf("PurgeBound after purge = %d, %v", b, err)
			}
		})
	}
}

// TestExportRefusesBrokenChain: a purge must not destroy the evidence of
// tampering.
func TestExportRefusesBrokenChain(t *testing.T) {
	e, es := trailOf(t, "sqlite")
	e.sql(`UPDATE resource_version SET body = $1 WHERE res_type = 'AuditEvent' AND res_id = $2`, []byte(`{}`), es[2].ID)
	var buf bytes.Buffer
	_, err := audit.Export(t.Context(), e.st, &buf, es[5].Pos)
	if err == nil || !strings.Contains(err.Error(), "position 3") {
		t.Fatalf("Export across a broken link = %v", err)
	}
	if _, err := audit.Export(t.Context(), e.st, &buf, es[len(es)-1].Pos+1); err == nil {
		t.Fatalf("Export past the head succeeded")
	}
	if _, err := audit.Export(t.Context(), e.st, &buf, 0); err == nil {
		t.Fatalf("Export through 0 succeeded")
	}
}

package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir/store"
)

// Retention is how long audit records are kept: calendar years and days,
// or a plain duration.
type Retention struct {
	Years, Days int
	Duration    time.Duration
}

// DefaultRetention is six years, the HIPAA documentation retention period.
var DefaultRetention = Retention{Years: 6}

// ParseRetention parses a retention period: "6y" (calendar years), "90d"
// (days), or a Go duration such as "720h". It must be positive.
func ParseRetention(s string) (Retention, error) {
	bad := fmt.Errorf("retention %q: want years such as 6y, days such as 90d, or a duration such as 720h", s)
	if n, ok := strings.CutSuffix(s, "y"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 || v > 1000 {
			return Retention{}, bad
		}
		return Retention{Years: v}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 || v > 1000*366 {
			return Retention{}, bad
		}
		return Retention{Days: v}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Retention{}, bad
	}
	return Retention{Duration: d}, nil
}

// Cutoff is the time before which records fall outside the retention
// period, counted back from now.
func (r Retention) Cutoff(now time.Time) time.Time {
	return now.AddDate(-r.Years, 0, -r.Days).Add(-r.Duration)
}

func (r Retention) String() string {
	switch {
	case r.Duration != 0:
		return r.Duration.String()
	case r.Days != 0:
		return strconv.Itoa(r.Days) + "d"
	}
	return strconv.Itoa(r.Years) + "y"
}

// Exported describes an export of a chain prefix.
type Exported struct {
	// From and Through are the chain positions exported.
	From, Through int64
	// Records is the number of AuditEvents written.
	Records int64
	// SHA256 is the hash of everything written.
	SHA256 []byte
}

// PurgeBound returns the highest chain position whose records, and every
// record before it, were recorded before cutoff (0: nothing to purge).
func PurgeBound(ctx context.Context, st store.Store, cutoff time.Time) (int64, error) {
	al, ok := st.(store.AuditLog)
	if !ok {
		return 0, fmt.Errorf("audit: %T keeps no audit trail", st)
	}
	return al.AuditPurgeBound(ctx, cutoff)
}

// Export writes the sealed AuditEvents from the anchor through position
// through to w as NDJSON, one stored AuditEvent per line, byte for byte
// (each line still verifies: its SHA-256 is the next line's "previous").
// It verifies every link it exports and refuses to go on past a broken one:
// a purge must not destroy the evidence of tampering.
func Export(ctx context.Context, st store.Store, w io.Writer, through int64) (Exported, error) {
	al, ok := st.(store.AuditLog)
	if !ok {
		return Exported{}, fmt.Errorf("audit: %T keeps no audit trail", st)
	}
	anchor, err := al.AuditAnchor(ctx)
	if err != nil {
		return Exported{}, err
	}
	if through <= anchor.Pos {
		return Exported{}, fmt.Errorf("audit: export through position %d: the chain starts after %d", through, anchor.Pos)
	}
	exp := Exported{From: anchor.Pos + 1}
	prev := anchor.Hash
	if prev == nil {
		prev = zeroHash
	}
	h := sha256.New()
	out := io.MultiWriter(w, h)
	want := anchor.Pos + 1
	for want <= through {
		page, err := al.AuditChain(ctx, want-1, int(min(verifyPage, through-want+1)))
		if err != nil {
			return Exported{}, err
		}
		if len(page) == 0 {
			return Exported{}, fmt.Errorf("audit: export: the chain ends at position %d, before %d", want-1, through)
		}
		for _, e := range page {
			if b := checkEntry(e, want, prev); b != nil {
				return Exported{}, fmt.Errorf("audit: export stopped at a broken link, %s; run telefhir audit verify", b)
			}
			if _, err := out.Write(append(e.Body, '\n')); err != nil {
				return Exported{}, fmt.Errorf("audit: export: %w", err)
			}
			prev = e.Hash
			exp.Through = e.Pos
			exp.Records++
			want++
		}
	}
	exp.SHA256 = h.Sum(nil)
	return exp, nil
}

// purgeChunk bounds the links one purge transaction deletes (a variable
// for tests).
var purgeChunk int64 = 10000

// Purge deletes the exported records (exp, written to a file named
// exportName), oldest first, in transactions of at most 10,000 links.
// Each transaction queues an AuditEvent of what it purged, so that the
// purge is itself in the trail, and moves the chain's anchor, so that
// Verify still passes. It returns the number of records deleted.
func (t *Trail) Purge(ctx context.Context, exp Exported, exportName string, cutoff time.Time) (int64, error) {
	var total int64
	for from := exp.From; from <= exp.Through; from += purgeChunk {
		through := min(from+purgeChunk-1, exp.Through)
		rec := t.base(ctx, nil)
		rec.kind, rec.action = kindPurge, kindCodes[kindPurge].action
		rec.others = []jsonEntity{{
			What: &reference{Identifier: &identifier{System: ChainExtension, Value: strconv.FormatInt(from, 10) + "-" + strconv.FormatInt(through, 10)}},
			Type: entitySystemObject,
			Detail: []detail{
				{Type: "records", ValueString: strconv.FormatInt(through-from+1, 10)},
				{Type: "recorded-before", ValueString: cutoff.UTC().Format(instantLayout)},
				{Type: "export", ValueString: exportName},
				{Type: "export-sha256", ValueString: hex.EncodeToString(exp.SHA256)},
			},
		}}
		line, err := rec.encode(nil)
		if err != nil {
			return total, err
		}
		n, err := t.log.PurgeAudit(ctx, through, line)
		if err != nil {
			return total, fmt.Errorf("audit: purge through position %d: %w", through, err)
		}
		total += n
	}
	t.Wake()
	return total, nil
}

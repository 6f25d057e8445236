package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// Report is the result of Verify.
type Report struct {
	// From and To are the chain positions checked (From is the first after
	// the anchor; To is 0 when the chain is empty).
	From, To int64
	// Records is how many links were checked.
	Records int64
	// Head is the hash of the last link (or of the anchor); publish it
	// elsewhere to detect a chain cut short later.
	Head []byte
	// Queued is how many records wait to be sealed.
	Queued int64
	// Broken, when set, is the first problem found: its position and what
	// is wrong. Verification stops there.
	Broken *Break
}

// Break is a broken link.
type Break struct {
	Pos    int64
	ID     string // the AuditEvent, when known
	Reason string
}

func (b *Break) String() string {
	if b.ID == "" {
		return fmt.Sprintf("position %d: %s", b.Pos, b.Reason)
	}
	return fmt.Sprintf("position %d (AuditEvent/%s): %s", b.Pos, b.ID, b.Reason)
}

// verifyPage is how many links Verify reads at a time.
const verifyPage = 1000

// Verify walks the chain from the anchor to the head and checks every
// link: no position is missing, each AuditEvent is there, unchanged
// (version 1, current, not deleted), its stored bytes hash to the link's
// hash, and it names its own position and the previous link's hash. It
// then checks that every AuditEvent in the store is in the chain. It
// reports the first broken link; an error means the check itself could
// not run.
func Verify(ctx context.Context, st store.Store) (Report, error) {
	al, ok := st.(store.AuditLog)
	if !ok {
		return Report{}, fmt.Errorf("audit: %T keeps no audit trail", st)
	}
	anchor, err := al.AuditAnchor(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{From: anchor.Pos + 1}
	prev := anchor.Hash
	if prev == nil {
		prev = zeroHash
	}
	rep.Head = prev
	want := anchor.Pos + 1
	for {
		page, err := al.AuditChain(ctx, want-1, verifyPage)
		if err != nil {
			return Report{}, err
		}
		for _, e := range page {
			if b := checkEntry(e, want, prev); b != nil {
				rep.Broken = b
				return rep, nil
			}
			prev = e.Hash
			rep.Head, rep.To = e.Hash, e.Pos
			rep.Records++
			want++
		}
		if len(page) < verifyPage {
			break
		}
	}
	// Links deleted at the very end cannot be told from a chain that
	// ended there; links deleted in the middle show as a gap above. Any
	// AuditEvent stored outside the chain shows in the count.
	page, err := st.Search(ctx, search.Query{Types: []string{"AuditEvent"}, Count: 0, Total: search.TotalAccurate})
	if err != nil {
		return Report{}, fmt.Errorf("audit: count AuditEvents: %w", err)
	}
	if n := int64(page.Total); n > rep.Records {
		rep.Broken = &Break{Pos: want, Reason: fmt.Sprintf("%d AuditEvents are stored but only %d are in the chain after the anchor", n, rep.Records)}
	}
	b, err := al.AuditBacklog(ctx)
	if err != nil {
		return Report{}, err
	}
	rep.Queued = b.Count
	return rep, nil
}

func checkEntry(e store.AuditEntry, want int64, prev []byte) *Break {
	brk := func(format string, args ...any) *Break {
		return &Break{Pos: e.Pos, ID: e.ID, Reason: fmt.Sprintf(format, args...)}
	}
	if e.Pos != want {
		return &Break{Pos: want, Reason: fmt.Sprintf("the link is missing (the next link is at position %d)", e.Pos)}
	}
	switch {
	case e.Body == nil:
		return brk("the AuditEvent is missing")
	case e.CurrentVersion == 0:
		return brk("the AuditEvent's current-version row is missing")
	case e.Deleted:
		return brk("the AuditEvent was deleted")
	case e.CurrentVersion != 1:
		return brk("the AuditEvent was changed after sealing: its current version is %d", e.CurrentVersion)
	}
	if sum := sha256.Sum256(e.Body); !bytes.Equal(sum[:], e.Hash) {
		return brk("the AuditEvent's stored bytes do not match the link's hash")
	}
	pos, p, err := chainOf(e.Body, e.ID)
	switch {
	case err != nil:
		return brk("the AuditEvent %v", err)
	case pos != e.Pos:
		return brk("the AuditEvent names chain position %d", pos)
	case !bytes.Equal(p, prev):
		return brk("the AuditEvent's previous hash sha256:%s is not the hash of position %d (sha256:%s)", hex.EncodeToString(p), e.Pos-1, hex.EncodeToString(prev))
	}
	return nil
}

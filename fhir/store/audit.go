package store

import (
	"context"
	"fmt"
	"time"
)

// The audit trail's storage (package audit builds on it). An audit record
// goes through two stages:
//
//  1. Queued: AuditTx.QueueAudit appends it to a durable queue, in the
//     same transaction as the change it describes or in a group-commit
//     transaction of its own, before the server answers. A queue entry is
//     opaque to the store and may hold several records (a whole group
//     commit), so that queueing costs one row per transaction.
//  2. Sealed: AuditLog.SealAudit takes queue entries in queue order; the
//     audit package stores each record as an ordinary AuditEvent resource
//     (version, index rows) and the store appends a link per record to the
//     hash chain, all in one transaction, under a lock only one sealer
//     holds at a time.
//
// A crash between the two leaves queued records that the next sealer run
// seals. Purging removes a prefix of the chain and moves the anchor that
// verification starts from.

// AuditQueued is one entry of the audit queue: one or more audit records
// in the audit package's queue format, opaque to the store.
type AuditQueued struct {
	// Seq is the queue position, assigned by the store.
	Seq  int64
	Body []byte
}

// AuditLink is one link of the hash chain.
type AuditLink struct {
	// Pos is the chain position, 1, 2, 3, ... (0 for the empty chain).
	Pos int64
	// ID is the AuditEvent's id ("" for the empty chain or an anchor).
	ID string
	// Recorded is the AuditEvent's recorded time.
	Recorded time.Time
	// Hash is the link's hash (nil for the empty chain).
	Hash []byte
}

// AuditEntry is a chain link with the AuditEvent it points at, as stored.
type AuditEntry struct {
	AuditLink
	// Body is version 1 of the AuditEvent; nil when that version is
	// missing.
	Body []byte
	// CurrentVersion is the AuditEvent's current version (0 when the
	// resource row is missing) and Deleted whether it is a delete marker:
	// an untouched record is at version 1 and not deleted.
	CurrentVersion int64
	Deleted        bool
}

// AuditBacklog describes the queue.
type AuditBacklog struct {
	// Count is the number of queue entries; First and Last their lowest
	// and highest queue positions (0 when the queue is empty).
	Count, First, Last int64
}

// AuditTx is implemented by the Tx of stores that keep an audit trail.
type AuditTx interface {
	// QueueAudit appends one queue entry per body (not empty) to the audit
	// queue in this transaction.
	QueueAudit(ctx context.Context, bodies ...[]byte) error
}

// SealFunc stores the records of the queued entries as AuditEvents through
// tx and returns their links, in order, at positions head.Pos+1,
// head.Pos+2, ...
type SealFunc func(ctx context.Context, tx Tx, head AuditLink, queued []AuditQueued) ([]AuditLink, error)

// AuditLog is implemented by stores that keep an audit trail. Both stores
// do; the suite in fhir/store/storetest checks it.
type AuditLog interface {
	// SealAudit runs one sealing transaction: it takes the sealer lock
	// (waiting for another sealer to finish), reads the chain head (the
	// last link, or the anchor when every link was purged) and up to limit
	// queue entries in queue order, and calls fn with them. When fn
	// succeeds the links it returns are appended to the chain and the
	// entries leave the queue, atomically. It returns the number of entries
	// sealed; with an empty queue fn is not called and it returns 0. It
	// retries on ErrConflict like Write.
	SealAudit(ctx context.Context, limit int, fn SealFunc) (int, error)
	// AuditBacklog describes the queue.
	AuditBacklog(ctx context.Context) (AuditBacklog, error)
	// AuditAnchor returns the link that verification starts from: the
	// last purged link (Pos, Hash and Recorded set, ID empty), or the zero
	// link when nothing was purged.
	AuditAnchor(ctx context.Context) (AuditLink, error)
	// AuditChain returns up to limit links after position after, in
	// position order, each with its AuditEvent as stored.
	AuditChain(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
	// AuditPurgeBound returns the highest position p such that every link
	// at or below p was recorded before cutoff (0 when there is none).
	AuditPurgeBound(ctx context.Context, cutoff time.Time) (int64, error)
	// PurgeAudit deletes, under the sealer lock, the chain links at or
	// below position through and the AuditEvents they point at (every
	// version and index row), makes link through the anchor, and queues
	// record (the record of the purge) in the same transaction. It returns
	// the number of links deleted. through must be a position in the chain.
	PurgeAudit(ctx context.Context, through int64, record []byte) (int64, error)
}

// CheckSealed checks what a SealFunc returned: links at the positions
// following head, each with an id, a time and a hash. Stores call it
// before appending the links.
func CheckSealed(head AuditLink, links []AuditLink) error {
	for i, l := range links {
		if l.Pos != head.Pos+int64(i)+1 || l.ID == "" || len(l.Hash) == 0 || l.Recorded.IsZero() {
			return fmt.Errorf("link %d (position %d, id %q) does not follow position %d", i, l.Pos, l.ID, head.Pos)
		}
	}
	return nil
}

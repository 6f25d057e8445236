// Package store defines the persistence contract for FHIR resources: current
// versions, full history, and the transaction boundary every write goes
// through. Two implementations exist, fhir/store/postgres (production) and
// fhir/store/sqlite (embedded default); both must pass the suite in
// fhir/store/storetest, and nothing outside this tree knows which one runs.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/telefhir/telefhir/fhir/search"
)

// Errors returned by every store. Implementations translate driver errors to
// these at the boundary and wrap them with %w.
var (
	// ErrNotFound: the resource (or the version asked for) never existed.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a concurrent writer won (duplicate version, serialization
	// failure, deadlock). Store.Write retries its callback on it a few times
	// before returning it.
	ErrConflict = errors.New("concurrent modification")
)

// Resource is one version of one resource as stored.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time // UTC, millisecond precision
	Deleted     bool      // a delete marker version; Body is nil
	// Method is the interaction that produced this version: "POST", "PUT",
	// "PATCH" or "DELETE". History entries report it as request.method
	// (PATCH is reported as PUT by the REST layer; it is kept here for audit).
	Method string
	// Body is the resource's JSON exactly as served: the client's bytes with
	// the server-set id and meta.versionId / meta.lastUpdated stamped in.
	Body []byte
	// Index holds the search-index rows of this version. Put replaces the
	// resource's rows with them (a delete marker removes them); reads leave
	// it nil.
	Index *search.Index
}

// HistoryQuery selects versions for _history at instance (Type and ID set),
// type (Type set) or system level (both empty).
type HistoryQuery struct {
	Type string
	ID   string
	// Since keeps versions with LastUpdated >= Since (zero: no bound).
	// Since and At compare against the stored millisecond timestamps.
	Since time.Time
	// At keeps, per resource, only the version that was current at At: the
	// highest version with LastUpdated <= At (zero: no bound).
	At time.Time
	// Count is the page size (> 0).
	Count int
	// Before is the keyset cursor: only versions with Seq < Before (0: from
	// the newest). Pass HistoryPage.Next to fetch the following page.
	Before int64
}

// HistoryEntry is one version in a history page with its global sequence
// number (a store-wide, strictly increasing write order).
type HistoryEntry struct {
	Resource
	Seq int64
}

// HistoryPage is one page of history, newest first (descending Seq).
type HistoryPage struct {
	Entries []HistoryEntry
	// Next is the cursor for the following page, 0 when this is the last.
	Next int64
}

// ScanQuery selects current, non-deleted resources in key order, for the
// jobs that walk a whole store or type: reindexing, export, verification.
type ScanQuery struct {
	// Type restricts the scan to one resource type (empty: every type).
	Type string
	// After is the keyset cursor: only resources with Key > After (0: from
	// the first). Pass ScanPage.Next to fetch the following page.
	After int64
	// Count is the page size (> 0).
	Count int
}

// ScanEntry is one resource of a scan with its key, the store's stable
// integer identity of the resource (kept across versions).
type ScanEntry struct {
	Resource
	Key int64
}

// ScanPage is one page of a scan, in ascending Key order.
type ScanPage struct {
	Entries []ScanEntry
	// Next is the cursor for the following page, 0 when this is the last.
	Next int64
}

// Reader reads what is stored. A Store reads the last commit; a Tx reads
// inside its transaction and sees its own writes.
type Reader interface {
	// Read returns the current version of a resource, including delete
	// markers (Deleted set). ErrNotFound when it never existed.
	Read(ctx context.Context, typ, id string) (Resource, error)
	// VRead returns one version. ErrNotFound when that version never existed.
	VRead(ctx context.Context, typ, id string, version int64) (Resource, error)
	// History returns one page of versions, newest first.
	History(ctx context.Context, q HistoryQuery) (HistoryPage, error)

	Searcher
}

// Store is the persistence contract. All methods are safe for concurrent use.
type Store interface {
	Reader

	// Write runs fn in one database transaction and commits when it returns
	// nil. On ErrConflict from the database (lost race, serialization
	// failure, deadlock) the whole callback is run again, a bounded number of
	// times, so fn must be safe to repeat.
	Write(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Scan returns one page of current, non-deleted resources in key
	// order. Resources written while a scan runs may or may not be seen;
	// each resource present throughout is returned exactly once.
	Scan(ctx context.Context, q ScanQuery) (ScanPage, error)
	// Close releases the store's connections.
	Close() error
	Outbox
}

// Tx is the write side of one database transaction.
//
// A failed call dooms the transaction (ErrNotFound from Current, Read and
// VRead excepted): every later call returns the same error, and Write
// returns it instead of committing (running fn again if it is ErrConflict),
// even when fn swallows it and returns nil.
//
// Its Reader methods run on the transaction's own connection: they see its
// writes and, in Postgres, whatever other transactions committed before
// each statement. They take no locks (Current does).
type Tx interface {
	Reader

	// Current returns the current version of a resource (delete markers
	// included) and locks it against concurrent writers until the
	// transaction ends. ErrNotFound when it never existed.
	Current(ctx context.Context, typ, id string) (Resource, error)
	// Put stores r as the new current version and appends it to history.
	// r.VersionID must be exactly one more than the current version (1 for a
	// new resource); otherwise ErrConflict. r.Body must be nil when r.Deleted,
	// and not empty otherwise; Type, ID, Method and LastUpdated are required.
	// LastUpdated is stored in UTC, truncated to the millisecond.
	//
	// A store may hold Puts back and send them to the database together,
	// before the transaction's next read (Current, Read, Search, ...) or its
	// commit: a conflict is then returned by that call, and by Write. A
	// malformed r is refused at once.
	Put(ctx context.Context, r Resource) error
	// Reindex replaces the search-index rows of the current version of
	// r.Type/r.ID with r.Index, without making a new version, when that
	// version is still r.VersionID and not deleted. It returns false, and
	// changes nothing, when it is not (a writer has since stored, and
	// indexed, another version). Used when search-parameter definitions
	// change; only Type, ID, VersionID and Index are read.
	Reindex(ctx context.Context, r Resource) (bool, error)
	// Lock takes a lock on an arbitrary key, held until the transaction
	// ends: a second transaction locking the same key waits, and then sees
	// what the first committed. Conditional interactions lock their
	// criteria with it so that two of them cannot both create.
	Lock(ctx context.Context, key string) error
}

// Searcher runs FHIR searches over the index rows written by Put.
type Searcher interface {
	// Search returns one page of current, non-deleted resources matching q,
	// in q.Sort order, with the resources q.Include and q.RevInclude ask
	// for appended (Included set), and the total when q.Total asks.
	Search(ctx context.Context, q search.Query) (search.Page, error)
}

// Change is one committed version waiting in the outbox to be published as
// a change event: the version as stored (Index nil) and its store-wide
// sequence number (the Seq of history).
type Change struct {
	Resource
	Seq int64
}

// Identity is the version's identity, "Type/id/_history/vid": the message
// id that makes publishing a change idempotent.
func (c Change) Identity() string {
	return c.Type + "/" + c.ID + "/_history/" + strconv.FormatInt(c.VersionID, 10)
}

// Outbox is the queue of change events. Every Tx.Put adds the version it
// stores to the outbox in the same transaction, so a change event exists
// exactly when the write committed.
type Outbox interface {
	// DrainOutbox hands up to max pending changes, in Seq order, to
	// publish, and removes them from the outbox when publish returns nil;
	// when it returns an error they stay and are handed out again by a
	// later call. It returns how many changes it removed.
	//
	// Drains exclude each other: a change is handed to at most one
	// publish at a time. When another process is draining the same
	// database, DrainOutbox may return 0 at once without calling publish
	// (the caller polls again later).
	DrainOutbox(ctx context.Context, max int, publish func(ctx context.Context, cs []Change) error) (int, error)
}

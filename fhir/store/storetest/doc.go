// Package storetest is the conformance suite every store.Store
// implementation must pass. A store's test file runs it with a function that
// returns a fresh, empty, migrated store for each subtest:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
//			...
//			return s
//		})
//	}
//
// The suite covers reads, versioning, delete markers, optimistic version
// checks, the Write retry loop, Current's locking under concurrency, rollback,
// context cancellation, history paging, Since/At semantics and byte-exact
// round trips. Subtests run in parallel, each on its own store.
//
// The stores must also implement store.Searcher. The Search* tests write
// resources with hand-built index rows (not extracted ones: they test how
// stores keep and search rows) and check every predicate kind and prefix,
// :missing, :not, OR and AND, composites, chains, _has, _id, _lastUpdated,
// sorting with missing values, keyset paging while resources change,
// totals, _include and _revinclude with :iterate, deleted resources, index
// rows replaced by updates, values matched literally, and invalid queries.
//
// The Outbox* tests check that every committed Put, and nothing rolled
// back, is queued as a change event in commit order, that a failed publish
// keeps the changes, and that concurrent drains hand each change to exactly
// one successful publish.
//
// The stores must also implement store.AuditLog (and their Tx
// store.AuditTx). The Audit* tests check the audit queue (entries roll back
// with their transaction), sealing in queue order and in batches, that a
// failed seal changes nothing, concurrent queueing and sealing (every
// record sealed once, positions without gaps, each sealer seeing the chain
// the previous one left), and purging a prefix of the chain with its
// AuditEvents, index rows and the anchor it leaves. The queue entries of
// the suite are its own format; the stores treat them as opaque bytes.
package storetest

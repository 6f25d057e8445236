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
package storetest

// Package sqlite is the embedded store.Store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo), used by `telefhir serve` when no database is
// configured and as the fast store in handler tests.
//
//	s, err := sqlite.Open(ctx, "./data/telefhir.db")
//	if err != nil { ... }
//	defer s.Close()
//	if err := s.Migrate(ctx); err != nil { ... }
//
// The file runs in WAL mode with synchronous=NORMAL. All writes go through a
// single connection and start with BEGIN IMMEDIATE, so they are serialised in
// process and against other processes (busy_timeout); reads use a separate
// pool of read-only connections and run concurrently with a write, seeing the
// last committed state.
//
// Tx.Put replaces the resource's search-index rows in the same transaction
// (prepared inserts, one per row), and Store implements store.Searcher with
// the SQL of package sqlq, on the read connections.
//
// Open does not change the schema; Migrate applies the numbered migrations
// embedded from migrations/*.sql and records them in schema_migrations.
package sqlite

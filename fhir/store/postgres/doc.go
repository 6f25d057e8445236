// Package postgres is the production store.Store on PostgreSQL, through
// pgx/v5 and a pgxpool connection pool.
//
//	s, err := postgres.Open(ctx, os.Getenv("TELEFHIR_DATABASE_URL"))
//	if err != nil { ... }
//	defer s.Close()
//	if err := s.Migrate(ctx); err != nil { ... }
//
// Every version is a row in resource_version (bodies as bytea, served back
// byte for byte); resource holds the pointer to the current version, so a
// read is one round trip joining two primary-key lookups. Writes run at READ
// COMMITTED: Tx.Current locks the current row with SELECT ... FOR UPDATE,
// and Tx.Put appends the version, moves the pointer and replaces the
// resource's search-index rows (one INSERT ... SELECT FROM unnest(arrays)
// per index table) in one statement, checking that the version is exactly
// the next one. Unique violations,
// serialization failures and deadlocks become store.ErrConflict, on which
// Write runs the callback again a bounded number of times.
//
// Store also implements store.Searcher with the SQL of package sqlq, and
// Explain shows the plan Postgres picks for a search.
//
// Open does not change the schema; Migrate applies the numbered migrations
// embedded from migrations/*.sql under an advisory lock, so several nodes
// can start at once. Tests get a throwaway schema from package pgtest.
package postgres

package sqlite

import "database/sql"

// DBs returns the store's writer (one connection; every write transaction
// must run on it, with BEGIN IMMEDIATE) and its read-only pool, for the
// components that keep their own tables in the same file (the SMART
// authorization server's smart/oauthstore/sqlitestore). Migrate creates
// their tables too.
func (s *Store) DBs() (writer, reader *sql.DB) { return s.w, s.r }

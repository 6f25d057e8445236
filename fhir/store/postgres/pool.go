package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool is the store's connection pool, for the components that keep their
// own tables in the same database (the SMART authorization server's
// smart/oauthstore/pgstore). Migrate creates their tables too.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

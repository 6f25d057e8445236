package postgres

import (
	"context"
	"fmt"
)

// Lock takes a transaction-scoped advisory lock on key (hashed to 64 bits
// by Postgres), released at commit or rollback.
func (t *tx) Lock(ctx context.Context, key string) error {
	if t.err != nil {
		return t.err
	}
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return t.fail(fmt.Errorf("postgres: lock: %w", translate(err)))
	}
	return nil
}

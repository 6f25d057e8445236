package sqlite

import "context"

// Lock is satisfied by the transaction itself: every write transaction
// holds SQLite's database-wide write lock (BEGIN IMMEDIATE) from its first
// statement to its end, so two transactions never run at once and the
// second sees what the first committed.
func (t *tx) Lock(ctx context.Context, key string) error {
	if t.err != nil {
		return t.err
	}
	return ctx.Err()
}

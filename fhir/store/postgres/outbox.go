package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/store"
)

// outboxLock is the first key of the advisory lock a drain holds; the
// second is the hash of the schema, so stores in different schemas
// (parallel tests) do not exclude each other.
const outboxLock int32 = 0x7e1ef42

const qOutboxPending = `SELECT o.seq, v.res_type, v.res_id, v.version, v.last_updated, v.deleted, v.method, v.body
FROM outbox o JOIN resource_version v ON v.seq = o.seq
ORDER BY o.seq
LIMIT $1`

// DrainOutbox implements store.Outbox. One transaction holds a
// transaction-scoped advisory lock while it reads, publishes and deletes a
// batch, so relays on several nodes take turns instead of publishing the
// same rows twice; a relay that finds the lock taken returns 0 at once.
// A node that dies mid-batch releases the lock with its connection and the
// rows, never deleted, go to the next drain.
func (s *Store) DrainOutbox(ctx context.Context, max int, publish func(ctx context.Context, cs []store.Change) error) (int, error) {
	if max <= 0 {
		return 0, fmt.Errorf("postgres: drain outbox: max must be positive, got %d", max)
	}
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: %w", translate(err))
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = ptx.Rollback(rctx) // no-op after Commit
	}()
	var locked bool
	if err := ptx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))`, outboxLock).Scan(&locked); err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: lock: %w", translate(err))
	}
	if !locked {
		return 0, nil
	}
	rows, err := ptx.Query(ctx, qOutboxPending, max)
	if err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: %w", translate(err))
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Change, error) {
		var c store.Change
		err := row.Scan(&c.Seq, &c.Type, &c.ID, &c.VersionID, &c.LastUpdated, &c.Deleted, &c.Method, &c.Body)
		c.LastUpdated = c.LastUpdated.UTC()
		return c, err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: %w", translate(err))
	}
	if len(cs) == 0 {
		return 0, nil
	}
	if err := publish(ctx, cs); err != nil {
		return 0, err
	}
	seqs := make([]int64, len(cs))
	for i, c := range cs {
		seqs[i] = c.Seq
	}
	if _, err := ptx.Exec(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, seqs); err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: delete: %w", translate(err))
	}
	if err := ptx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: drain outbox: commit: %w", translate(err))
	}
	return len(cs), nil
}

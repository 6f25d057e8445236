package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

var (
	_ store.AuditLog = (*Store)(nil)
	_ store.AuditTx  = (*tx)(nil)
)

// auditLock is the first key of the advisory lock sealers and purges
// hold; the second is the hash of the schema, as for migrateLock.
const auditLock int32 = 0x7e1ea0d

// QueueAudit implements store.AuditTx: one INSERT of every entry.
func (t *tx) QueueAudit(ctx context.Context, bodies ...[]byte) error {
	if t.err != nil {
		return t.err
	}
	for _, b := range bodies {
		if len(b) == 0 {
			return t.fail(errors.New("postgres: queue audit records: empty queue entry"))
		}
	}
	var err error
	switch len(bodies) {
	case 0:
		return nil
	case 1:
		_, err = t.tx.Exec(ctx, `INSERT INTO audit_queue (body) VALUES ($1)`, bodies[0])
	default:
		_, err = t.tx.Exec(ctx, `INSERT INTO audit_queue (body) SELECT unnest($1::bytea[])`, bodies)
	}
	if err != nil {
		return t.fail(fmt.Errorf("postgres: queue audit records: %w", translate(err)))
	}
	return nil
}

// lockAudit takes the sealer lock for the rest of the transaction.
func (t *tx) lockAudit(ctx context.Context) error {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, auditLock); err != nil {
		return t.fail(fmt.Errorf("postgres: audit lock: %w", translate(err)))
	}
	return nil
}

// SealAudit implements store.AuditLog. Sealers on several nodes take
// turns through an advisory lock; each sees the chain as the previous one
// committed it (read committed, statements after the lock).
func (s *Store) SealAudit(ctx context.Context, limit int, fn store.SealFunc) (int, error) {
	if limit < 1 {
		return 0, errors.New("postgres: seal audit: limit must be positive")
	}
	var n int
	err := s.Write(ctx, func(ctx context.Context, stx store.Tx) error {
		n = 0
		t := stx.(*tx)
		if err := t.lockAudit(ctx); err != nil {
			return err
		}
		head, err := auditHead(ctx, t.tx)
		if err != nil {
			return t.fail(err)
		}
		queued, err := queuedAudit(ctx, t.tx, limit)
		if err != nil {
			return t.fail(err)
		}
		if len(queued) == 0 {
			return nil
		}
		links, err := fn(ctx, t, head, queued)
		if err != nil {
			return err
		}
		if err := store.CheckSealed(head, links); err != nil {
			return t.fail(fmt.Errorf("postgres: seal audit: %w", err))
		}
		pos := make([]int64, len(links))
		ids := make([]string, len(links))
		times := make([]time.Time, len(links))
		hashes := make([][]byte, len(links))
		for i, l := range links {
			pos[i], ids[i], times[i], hashes[i] = l.Pos, l.ID, l.Recorded.Truncate(time.Millisecond), l.Hash
		}
		seqs := make([]int64, len(queued))
		for i, q := range queued {
			seqs[i] = q.Seq
		}
		if _, err := t.tx.Exec(ctx, `INSERT INTO audit_chain (pos, res_id, recorded, hash)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bytea[])`, pos, ids, times, hashes); err != nil {
			return t.fail(fmt.Errorf("postgres: seal audit: %w", translate(err)))
		}
		if _, err := t.tx.Exec(ctx, `DELETE FROM audit_queue WHERE qseq = ANY($1)`, seqs); err != nil {
			return t.fail(fmt.Errorf("postgres: seal audit: %w", translate(err)))
		}
		n = len(queued)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// auditHead returns the last link, or the anchor when there is none.
func auditHead(ctx context.Context, q querier) (store.AuditLink, error) {
	var l store.AuditLink
	err := q.QueryRow(ctx, sqlq.AuditHead).
		Scan(&l.Pos, &l.ID, &l.Recorded, &l.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return auditAnchor(ctx, q)
	}
	if err != nil {
		return store.AuditLink{}, fmt.Errorf("postgres: audit chain head: %w", translate(err))
	}
	l.Recorded = l.Recorded.UTC()
	return l, nil
}

func auditAnchor(ctx context.Context, q querier) (store.AuditLink, error) {
	var l store.AuditLink
	err := q.QueryRow(ctx, sqlq.AuditAnchor).Scan(&l.Pos, &l.Recorded, &l.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AuditLink{}, nil
	}
	if err != nil {
		return store.AuditLink{}, fmt.Errorf("postgres: audit anchor: %w", translate(err))
	}
	l.Recorded = l.Recorded.UTC()
	return l, nil
}

func queuedAudit(ctx context.Context, q querier, limit int) ([]store.AuditQueued, error) {
	rows, err := q.Query(ctx, sqlq.AuditQueued, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit queue: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditQueued, error) {
		var e store.AuditQueued
		err := row.Scan(&e.Seq, &e.Body)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: audit queue: %w", translate(err))
	}
	return out, nil
}

// AuditBacklog implements store.AuditLog.
func (s *Store) AuditBacklog(ctx context.Context) (store.AuditBacklog, error) {
	var b store.AuditBacklog
	err := s.pool.QueryRow(ctx, sqlq.AuditBacklog).
		Scan(&b.Count, &b.First, &b.Last)
	if err != nil {
		return store.AuditBacklog{}, fmt.Errorf("postgres: audit backlog: %w", translate(err))
	}
	return b, nil
}

// AuditAnchor implements store.AuditLog.
func (s *Store) AuditAnchor(ctx context.Context) (store.AuditLink, error) {
	return auditAnchor(ctx, s.pool)
}

// AuditChain implements store.AuditLog.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, sqlq.AuditChain(sqlq.Postgres), after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit chain: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		err := row.Scan(&e.Pos, &e.ID, &e.Recorded, &e.Hash, &e.Body, &e.CurrentVersion, &e.Deleted)
		e.Recorded = e.Recorded.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: audit chain: %w", translate(err))
	}
	return out, nil
}

// AuditPurgeBound implements store.AuditLog.
func (s *Store) AuditPurgeBound(ctx context.Context, cutoff time.Time) (int64, error) {
	var bound int64
	if err := s.pool.QueryRow(ctx, sqlq.AuditPurgeBound, cutoff).Scan(&bound); err != nil {
		return 0, fmt.Errorf("postgres: audit purge bound: %w", translate(err))
	}
	return bound, nil
}

// PurgeAudit implements store.AuditLog.
func (s *Store) PurgeAudit(ctx context.Context, through int64, record []byte) (int64, error) {
	var n int64
	err := s.Write(ctx, func(ctx context.Context, stx store.Tx) error {
		t := stx.(*tx)
		if err := t.lockAudit(ctx); err != nil {
			return err
		}
		var err error
		if n, err = purgeAudit(ctx, t.tx, through); err != nil {
			return t.fail(err)
		}
		return t.QueueAudit(ctx, record)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func purgeAudit(ctx context.Context, tx pgx.Tx, through int64) (int64, error) {
	var recorded time.Time
	var hash []byte
	err := tx.QueryRow(ctx, sqlq.AuditLinkAt, through).Scan(&recorded, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: purge audit through %d: no such chain position", through)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	// The rids of the purged AuditEvents, once, for every index table.
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE audit_purge ON COMMIT DROP AS
SELECT r.rid, c.res_id FROM audit_chain c JOIN resource r ON r.res_type = 'AuditEvent' AND r.res_id = c.res_id
WHERE c.pos <= $1`, through); err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	stmts := make([]string, 0, len(sqlq.Tables)+1)
	for _, tbl := range sqlq.Tables {
		stmts = append(stmts, `DELETE FROM `+tbl.Name+` x USING audit_purge p WHERE x.rid = p.rid`)
	}
	stmts = append(stmts, `DELETE FROM resource r USING audit_purge p WHERE r.res_type = 'AuditEvent' AND r.res_id = p.res_id`)
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
		}
	}
	// Change events of the purged versions still in the outbox go too.
	if _, err := tx.Exec(ctx, `DELETE FROM outbox o USING resource_version v, audit_chain c
WHERE o.seq = v.seq AND v.res_type = 'AuditEvent' AND v.res_id = c.res_id AND c.pos <= $1`, through); err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	if _, err := tx.Exec(ctx, `DELETE FROM resource_version v USING audit_chain c
WHERE v.res_type = 'AuditEvent' AND v.res_id = c.res_id AND c.pos <= $1`, through); err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	tag, err := tx.Exec(ctx, sqlq.AuditDeleteLinks, through)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	if _, err := tx.Exec(ctx, sqlq.AuditSetAnchor,
		through, recorded, hash); err != nil {
		return 0, fmt.Errorf("postgres: purge audit: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

var (
	_ store.AuditLog = (*Store)(nil)
	_ store.AuditTx  = (*tx)(nil)
)

// QueueAudit implements store.AuditTx.
func (t *tx) QueueAudit(ctx context.Context, bodies ...[]byte) error {
	if t.err != nil {
		return t.err
	}
	for _, b := range bodies {
		if len(b) == 0 {
			return t.fail(errors.New("sqlite: queue audit records: empty queue entry"))
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_queue (body) VALUES ($1)`, b); err != nil {
			return t.fail(fmt.Errorf("sqlite: queue audit records: %w", translate(err)))
		}
	}
	return nil
}

// SealAudit implements store.AuditLog. The write transaction is the
// sealer lock: SQLite runs one at a time.
func (s *Store) SealAudit(ctx context.Context, limit int, fn store.SealFunc) (int, error) {
	if limit < 1 {
		return 0, errors.New("sqlite: seal audit: limit must be positive")
	}
	var n int
	err := s.Write(ctx, func(ctx context.Context, stx store.Tx) error {
		n = 0
		t := stx.(*tx)
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
			return t.fail(fmt.Errorf("sqlite: seal audit: %w", err))
		}
		for _, l := range links {
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_chain (pos, res_id, recorded, hash) VALUES (?1, ?2, ?3, ?4)`,
				l.Pos, l.ID, l.Recorded.UnixMilli(), l.Hash); err != nil {
				return t.fail(fmt.Errorf("sqlite: seal audit: %w", translate(err)))
			}
		}
		// One writer at a time: no record can have joined the queue
		// between the queued ones since they were read.
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM audit_queue WHERE qseq BETWEEN ?1 AND ?2`,
			queued[0].Seq, queued[len(queued)-1].Seq); err != nil {
			return t.fail(fmt.Errorf("sqlite: seal audit: %w", translate(err)))
		}
		n = len(queued)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// querier is what *sql.Tx and *sql.DB have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// auditHead returns the last link, or the anchor when there is none.
func auditHead(ctx context.Context, q querier) (store.AuditLink, error) {
	var l store.AuditLink
	var ms int64
	err := q.QueryRowContext(ctx, sqlq.AuditHead).
		Scan(&l.Pos, &l.ID, &ms, &l.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return auditAnchor(ctx, q)
	}
	if err != nil {
		return store.AuditLink{}, fmt.Errorf("sqlite: audit chain head: %w", translate(err))
	}
	l.Recorded = fromMillis(ms)
	return l, nil
}

func auditAnchor(ctx context.Context, q querier) (store.AuditLink, error) {
	var l store.AuditLink
	var ms int64
	err := q.QueryRowContext(ctx, sqlq.AuditAnchor).Scan(&l.Pos, &ms, &l.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditLink{}, nil
	}
	if err != nil {
		return store.AuditLink{}, fmt.Errorf("sqlite: audit anchor: %w", translate(err))
	}
	l.Recorded = fromMillis(ms)
	return l, nil
}

func queuedAudit(ctx context.Context, q querier, limit int) ([]store.AuditQueued, error) {
	rows, err := q.QueryContext(ctx, sqlq.AuditQueued, limit)
	out, err := collect(rows, err, func(rows *sql.Rows) (e store.AuditQueued, err error) {
		err = rows.Scan(&e.Seq, &e.Body)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit queue: %w", err)
	}
	return out, nil
}

// collect scans every row of a query that returned rows and err.
func collect[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// AuditBacklog implements store.AuditLog.
func (s *Store) AuditBacklog(ctx context.Context) (store.AuditBacklog, error) {
	var b store.AuditBacklog
	err := s.r.QueryRowContext(ctx, sqlq.AuditBacklog).
		Scan(&b.Count, &b.First, &b.Last)
	if err != nil {
		return store.AuditBacklog{}, fmt.Errorf("sqlite: audit backlog: %w", translate(err))
	}
	return b, nil
}

// AuditAnchor implements store.AuditLog.
func (s *Store) AuditAnchor(ctx context.Context) (store.AuditLink, error) {
	return auditAnchor(ctx, s.r)
}

// AuditChain implements store.AuditLog.
func (s *Store) AuditChain(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, sqlq.AuditChain(sqlq.SQLite), after, limit)
	out, err := collect(rows, err, func(rows *sql.Rows) (e store.AuditEntry, err error) {
		var ms int64
		err = rows.Scan(&e.Pos, &e.ID, &ms, &e.Hash, &e.Body, &e.CurrentVersion, &e.Deleted)
		e.Recorded = fromMillis(ms)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit chain: %w", err)
	}
	return out, nil
}

// AuditPurgeBound implements store.AuditLog.
func (s *Store) AuditPurgeBound(ctx context.Context, cutoff time.Time) (int64, error) {
	var bound int64
	if err := s.r.QueryRowContext(ctx, sqlq.AuditPurgeBound, cutoff.UnixMilli()).Scan(&bound); err != nil {
		return 0, fmt.Errorf("sqlite: audit purge bound: %w", translate(err))
	}
	return bound, nil
}

// PurgeAudit implements store.AuditLog.
func (s *Store) PurgeAudit(ctx context.Context, through int64, record []byte) (int64, error) {
	var n int64
	err := s.Write(ctx, func(ctx context.Context, stx store.Tx) error {
		t := stx.(*tx)
		var err error
		n, err = purgeAudit(ctx, t.tx, through)
		if err != nil {
			return t.fail(err)
		}
		return t.QueueAudit(ctx, record)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func purgeAudit(ctx context.Context, tx *sql.Tx, through int64) (int64, error) {
	var ms int64
	var hash []byte
	err := tx.QueryRowContext(ctx, sqlq.AuditLinkAt, through).Scan(&ms, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: purge audit through %d: no such chain position", through)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge audit: %w", translate(err))
	}
	const purged = `SELECT res_id FROM audit_chain WHERE pos <= ?1`
	stmts := make([]string, 0, len(sqlq.Tables)+5)
	for _, tbl := range sqlq.Tables {
		stmts = append(stmts, `DELETE FROM `+tbl.Name+` WHERE rid IN (SELECT rid FROM resource WHERE res_type = 'AuditEvent' AND res_id IN (`+purged+`))`)
	}
	stmts = append(stmts,
		`DELETE FROM resource WHERE res_type = 'AuditEvent' AND res_id IN (`+purged+`)`,
		// Change events of the purged versions still in the outbox go too.
		`DELETE FROM outbox WHERE seq IN (SELECT seq FROM resource_version WHERE res_type = 'AuditEvent' AND res_id IN (`+purged+`))`,
		`DELETE FROM resource_version WHERE res_type = 'AuditEvent' AND res_id IN (`+purged+`)`,
	)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, through); err != nil {
			return 0, fmt.Errorf("sqlite: purge audit: %w", translate(err))
		}
	}
	res, err := tx.ExecContext(ctx, sqlq.AuditDeleteLinks, through)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge audit: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge audit: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sqlq.AuditSetAnchor,
		through, ms, hash); err != nil {
		return 0, fmt.Errorf("sqlite: purge audit: %w", translate(err))
	}
	return n, nil
}

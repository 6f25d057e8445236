package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/telefhir/telefhir/fhir/store"
)

const (
	qScanAll = `SELECT r.rid, r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.rid > ?1 AND r.deleted = 0
ORDER BY r.rid LIMIT ?2`

	qScanType = `SELECT r.rid, r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.res_type = ?3 AND r.rid > ?1 AND r.deleted = 0
ORDER BY r.rid LIMIT ?2`

	// qReindexKey finds the key of a resource whose current version is
	// still ?3 (the writer holds the write lock, so it cannot change).
	qReindexKey = `SELECT rid FROM resource
WHERE res_type = ?1 AND res_id = ?2 AND version = ?3 AND deleted = 0`
)

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, q store.ScanQuery) (store.ScanPage, error) {
	if q.Count <= 0 {
		return store.ScanPage{}, fmt.Errorf("sqlite: scan: count %d must be positive", q.Count)
	}
	query, args := qScanAll, []any{q.After, q.Count + 1}
	if q.Type != "" {
		query, args = qScanType, append(args, q.Type)
	}
	st, err := s.rs.get(ctx, query)
	if err != nil {
		return store.ScanPage{}, fmt.Errorf("sqlite: scan: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return store.ScanPage{}, fmt.Errorf("sqlite: scan: %w", translate(err))
	}
	defer rows.Close()
	var page store.ScanPage
	for rows.Next() {
		var e store.ScanEntry
		var ms int64
		if err := rows.Scan(&e.Key, &e.Type, &e.ID, &e.VersionID, &ms, &e.Method, &e.Body); err != nil {
			return store.ScanPage{}, fmt.Errorf("sqlite: scan: %w", translate(err))
		}
		e.LastUpdated = fromMillis(ms)
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return store.ScanPage{}, fmt.Errorf("sqlite: scan: %w", translate(err))
	}
	if len(page.Entries) > q.Count {
		page.Entries = page.Entries[:q.Count]
		page.Next = page.Entries[q.Count-1].Key
	}
	return page, nil
}

// Reindex implements store.Tx.
func (t *tx) Reindex(ctx context.Context, r store.Resource) (bool, error) {
	if t.err != nil {
		return false, t.err
	}
	if r.Type == "" || r.ID == "" || r.VersionID <= 0 {
		return false, t.fail(errors.New("sqlite: reindex: type, id and version are required"))
	}
	var rid int64
	err := t.tx.QueryRowContext(ctx, qReindexKey, r.Type, r.ID, r.VersionID).Scan(&rid)
	if err != nil {
		err = translate(err)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, t.fail(fmt.Errorf("sqlite: reindex %s version %d: %w", r.Type, r.VersionID, err))
	}
	// putIndex deletes the old rows when the version is above 1; a
	// reindex must always delete them.
	r.Deleted = false
	if err := t.putIndex(ctx, rid, r, true); err != nil {
		return false, t.fail(fmt.Errorf("sqlite: reindex %s version %d: %w", r.Type, r.VersionID, translate(err)))
	}
	return true, nil
}

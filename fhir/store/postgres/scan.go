package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

const (
	qScanAll = `SELECT r.rid, r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.rid > $1 AND NOT r.deleted
ORDER BY r.rid LIMIT $2`

	qScanType = `SELECT r.rid, r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.res_type = $3 AND r.rid > $1 AND NOT r.deleted
ORDER BY r.rid LIMIT $2`
)

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, q store.ScanQuery) (store.ScanPage, error) {
	if q.Count <= 0 {
		return store.ScanPage{}, fmt.Errorf("postgres: scan: count %d must be positive", q.Count)
	}
	query, args := qScanAll, []any{q.After, q.Count + 1}
	if q.Type != "" {
		query, args = qScanType, append(args, q.Type)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return store.ScanPage{}, fmt.Errorf("postgres: scan: %w", translate(err))
	}
	var page store.ScanPage
	var e store.ScanEntry
	_, err = pgx.ForEachRow(rows, []any{&e.Key, &e.Type, &e.ID, &e.VersionID, &e.LastUpdated, &e.Method, &e.Body}, func() error {
		e.LastUpdated = e.LastUpdated.UTC()
		page.Entries = append(page.Entries, e)
		e.Body = nil // Scan reuses the destinations; keep each body
		return nil
	})
	if err != nil {
		return store.ScanPage{}, fmt.Errorf("postgres: scan: %w", translate(err))
	}
	if len(page.Entries) > q.Count {
		page.Entries = page.Entries[:q.Count]
		page.Next = page.Entries[q.Count-1].Key
	}
	return page, nil
}

// qReindex replaces the index rows of a resource whose current version is
// still $3, like qPut without the version: c locks the resource row, so a
// concurrent Put of a newer version waits, or has committed and c is empty.
var qReindex, reindexArgs = reindexSQL()

func reindexSQL() (string, int) {
	var sb strings.Builder
	sb.WriteString(`WITH c AS (
	SELECT rid, res_type FROM resource
	WHERE res_type = $1 AND res_id = $2 AND version = $3 AND NOT deleted
	FOR UPDATE
)`)
	n := indexCTEs(&sb, 3)
	sb.WriteString("\nSELECT rid FROM c")
	return sb.String(), n
}

// Reindex implements store.Tx.
func (t *tx) Reindex(ctx context.Context, r store.Resource) (bool, error) {
	if t.err != nil {
		return false, t.err
	}
	if r.Type == "" || r.ID == "" || r.VersionID <= 0 {
		return false, t.fail(errors.New("postgres: reindex: type, id and version are required"))
	}
	if err := t.flush(ctx); err != nil {
		return false, err
	}
	args := make([]any, 0, reindexArgs)
	args = append(args, r.Type, r.ID, r.VersionID)
	for _, tbl := range sqlq.Tables {
		args = append(args, tbl.Arrays(r.Index)...)
	}
	var rid int64
	err := t.tx.QueryRow(ctx, qReindex, args...).Scan(&rid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(fmt.Errorf("postgres: reindex %s version %d: %w", r.Type, r.VersionID, translate(err)))
	}
	return true, nil
}

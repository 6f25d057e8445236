package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

var _ store.Searcher = (*Store)(nil)

// Search implements store.Searcher on the read connections. The page, the
// total and the included resources are separate statements, each seeing
// the last commit; the keyset cursor's snapshot bound keeps a walk over
// several pages from growing. TotalEstimate counts exactly.
func (s *Store) Search(ctx context.Context, q search.Query) (search.Page, error) {
	p, err := sqlq.Search(ctx, sqlq.SQLite, searchDB{s.r}, q)
	if err != nil {
		return search.Page{}, fmt.Errorf("sqlite: search: %w", translate(err))
	}
	return p, nil
}

// Search runs q inside the write transaction: it sees the transaction's
// own writes. Like every Tx call, a failure dooms the transaction.
func (t *tx) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if t.err != nil {
		return search.Page{}, t.err
	}
	p, err := sqlq.Search(ctx, sqlq.SQLite, txDB{t.tx}, q)
	if err != nil {
		return search.Page{}, t.fail(fmt.Errorf("sqlite: search: %w", translate(err)))
	}
	return p, nil
}

// txDB runs search statements in a transaction.
type txDB struct{ tx *sql.Tx }

func (db txDB) Query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := db.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// searchDB runs search statements on the read pool. They are not kept in
// the statement cache: their text varies with every query shape.
type searchDB struct{ db *sql.DB }

func (db searchDB) Query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

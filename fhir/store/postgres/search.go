package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

var _ store.Searcher = (*Store)(nil)

// Search implements store.Searcher. Its statements run on the pool outside
// any transaction: the page, the total and the included resources are
// each read at READ COMMITTED, and the keyset cursor's snapshot bound
// keeps a walk over several pages from growing.
//
// TotalEstimate counts exactly up to sqlq.ExactEstimate matches and beyond
// that reports the planner's row estimate of the search (EXPLAIN), never
// less than the exact part.
func (s *Store) Search(ctx context.Context, q search.Query) (search.Page, error) {
	p, err := sqlq.Search(ctx, sqlq.Postgres, searchDB{s.pool}, q)
	if err != nil {
		return search.Page{}, fmt.Errorf("postgres: search: %w", translate(err))
	}
	return p, nil
}

// Explain returns the plan Postgres chooses for the page statement of q
// (EXPLAIN without ANALYZE: nothing runs), for tests and benchmarks that
// check which indexes a search uses.
func (s *Store) Explain(ctx context.Context, q search.Query) (string, error) {
	sql, args, err := sqlq.PageSQL(sqlq.Postgres, q)
	if err != nil {
		return "", fmt.Errorf("postgres: explain: %w", err)
	}
	var lines []string
	err = searchDB{s.pool}.Query(ctx, "EXPLAIN "+sql, args, func(scan func(...any) error) error {
		var line string
		if err := scan(&line); err != nil {
			return err
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("postgres: explain: %w", translate(err))
	}
	return strings.Join(lines, "\n"), nil
}

// Search runs q inside the transaction, on its connection: it sees the
// transaction's own writes, and needs no second connection from the pool
// (a Store.Search from inside Write does, and a pool full of such
// transactions would wait forever). Like every Tx call, a failure dooms
// the transaction.
func (t *tx) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if err := t.flush(ctx); err != nil {
		return search.Page{}, err
	}
	p, err := sqlq.Search(ctx, sqlq.Postgres, txDB{t.tx}, q)
	if err != nil {
		return search.Page{}, t.fail(fmt.Errorf("postgres: search: %w", translate(err)))
	}
	return p, nil
}

// txDB runs search statements in a transaction.
type txDB struct{ tx pgx.Tx }

func (db txDB) Query(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	rows, err := db.tx.Query(ctx, sql, searchArgs(args)...)
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

// searchDB runs search statements on the pool.
type searchDB struct{ pool *pgxpool.Pool }

func (db searchDB) Query(ctx context.Context, sql string, args []any, row func(scan func(...any) error) error) error {
	rows, err := db.pool.Query(ctx, sql, searchArgs(args)...)
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

// Estimate implements sqlq.Estimator with the planner's row estimate.
func (db searchDB) Estimate(ctx context.Context, sql string, args []any) (int64, error) {
	var plan []byte
	if err := db.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
		return 0, err
	}
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &p); err != nil {
		return 0, fmt.Errorf("reading the plan estimate: %w", err)
	}
	if len(p) == 0 {
		return 0, errors.New("EXPLAIN returned no plan")
	}
	return int64(p[0].Plan.Rows), nil
}

// searchArgs runs a search statement unprepared (pgx's exec mode: an
// unnamed statement, planned at bind time for the actual values). A
// search's best plan depends on its values (a rare code versus one in
// every third Observation); a cached prepared statement would switch to a
// generic plan after five runs, which for such searches can be a thousand
// times slower.
func searchArgs(args []any) []any {
	return append([]any{pgx.QueryExecModeExec}, args...)
}

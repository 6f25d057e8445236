package sqlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir/search"
)

// DB runs the statements of a search, on a store's read connections.
type DB interface {
	// Query runs query with args and calls row once per result row, with
	// the function that scans that row.
	Query(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error
}

// Estimator is a DB whose query planner can estimate how many rows a
// query returns, for search.TotalEstimate.
type Estimator interface {
	Estimate(ctx context.Context, query string, args []any) (int64, error)
}

// Limits of a search.
const (
	// MaxIncluded caps the resources _include and _revinclude add to one
	// page; the rest are left out.
	MaxIncluded = 1000
	// MaxIncludeRounds bounds :iterate: the first round runs every
	// include over the page's matches, each later one the iterating
	// includes over what the round before added.
	MaxIncludeRounds = 5
	// ExactEstimate is the largest planner estimate TotalEstimate
	// replaces with an exact count, where the DB is an Estimator.
	ExactEstimate = 10000
)

// Search runs q on db: one page of matches in q.Sort order after q.After,
// the total q.Total asks for, and the included resources.
//
// Count 0 returns no matches, only a total; it is estimated when q.Total
// is TotalNone, since a total is then the whole answer.
func Search(ctx context.Context, d *Dialect, db DB, q search.Query) (search.Page, error) {
	if q.Count < 0 {
		return search.Page{}, fmt.Errorf("count %d is negative", q.Count)
	}
	if err := checkIncludes(q); err != nil {
		return search.Page{}, err
	}
	page := search.Page{Total: -1}
	snap := int64(-1) // not known yet
	if q.After != nil {
		snap = q.After.Snapshot
	}
	if q.Count > 0 {
		pq, err := buildPage(d, &q)
		if err != nil {
			return search.Page{}, err
		}
		var last []any
		err = db.Query(ctx, pq.sql, pq.args, func(scan func(...any) error) error {
			var m search.Match
			var ms, s int64
			vals := make([]any, len(pq.cols))
			dest := make([]any, 0, pageFixedCols+len(vals))
			dest = append(dest, &m.Key, &m.Type, &m.ID, &m.VersionID, &ms, &m.Body, &s)
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := scan(dest...); err != nil {
				return err
			}
			m.LastUpdated = time.UnixMilli(ms).UTC()
			page.Matches = append(page.Matches, m)
			if len(page.Matches) == q.Count {
				last = vals
			}
			if snap < 0 {
				snap = s
			}
			return nil
		})
		if err != nil {
			return search.Page{}, err
		}
		if len(page.Matches) > q.Count {
			page.Matches = page.Matches[:q.Count:q.Count]
			next := &search.Cursor{Values: make([]any, len(last)), Key: page.Matches[q.Count-1].Key, Snapshot: snap}
			for i, v := range last {
				if next.Values[i], err = value(pq.cols[i].kind, v); err != nil {
					return search.Page{}, fmt.Errorf("sort value %d: %w", i, err)
				}
			}
			page.Next = next
		}
	}

	total := q.Total
	if q.Count == 0 && total == search.TotalNone {
		total = search.TotalEstimate
	}
	switch total {
	case search.TotalNone:
	case search.TotalAccurate:
		n, err := count(ctx, d, db, &q, snap)
		if err != nil {
			return search.Page{}, err
		}
		page.Total = int(n)
	case search.TotalEstimate:
		n, err := estimate(ctx, d, db, &q, snap)
		if err != nil {
			return search.Page{}, err
		}
		page.Total = int(n)
	default:
		return search.Page{}, fmt.Errorf("unknown total mode %d", q.Total)
	}

	inc, err := includes(ctx, d, db, &q, page.Matches)
	if err != nil {
		return search.Page{}, err
	}
	page.Matches = append(page.Matches, inc...)
	return page, nil
}

// count counts the matches of q up to the snapshot.
func count(ctx context.Context, d *Dialect, db DB, q *search.Query, snap int64) (int64, error) {
	sql, args, err := buildCount(d, q, snap)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.Query(ctx, sql, args, func(scan func(...any) error) error {
		return scan(&n)
	})
	return n, err
}

// estimate asks the planner, where the DB has one, and counts exactly
// when the planner expects at most ExactEstimate matches (or there is no
// planner). Counting first, up to a limit, would be exact more often but
// makes the planner pick a fast-start plan that is slow for selective
// searches.
func estimate(ctx context.Context, d *Dialect, db DB, q *search.Query, snap int64) (int64, error) {
	if e, ok := db.(Estimator); ok {
		sql, args, err := buildMatches(d, q, snap)
		if err != nil {
			return 0, err
		}
		n, err := e.Estimate(ctx, sql, args)
		if err != nil || n > ExactEstimate {
			return n, err
		}
	}
	return count(ctx, d, db, q, snap)
}

func checkIncludes(q search.Query) error {
	for _, inc := range q.Include {
		if inc.Type == "" || inc.Param == "" {
			return errors.New("_include needs a source type and a parameter")
		}
	}
	for _, inc := range q.RevInclude {
		if inc.Type == "" || inc.Param == "" {
			return errors.New("_revinclude needs a source type and a parameter")
		}
	}
	return nil
}

// includes returns the resources q.Include and q.RevInclude add to
// matches: each once, none of matches, at most MaxIncluded, in the order
// the includes are listed and, within one, by resource key.
func includes(ctx context.Context, d *Dialect, db DB, q *search.Query, matches []search.Match) ([]search.Match, error) {
	if len(matches) == 0 || len(q.Include)+len(q.RevInclude) == 0 {
		return nil, nil
	}
	seen := make(map[int64]bool, len(matches))
	for _, m := range matches {
		seen[m.Key] = true
	}
	var added []search.Match
	run := func(sql string, args []any) error {
		return db.Query(ctx, sql, args, func(scan func(...any) error) error {
			var m search.Match
			var ms int64
			if err := scan(&m.Key, &m.Type, &m.ID, &m.VersionID, &ms, &m.Body); err != nil {
				return err
			}
			if seen[m.Key] || len(added) >= MaxIncluded {
				return nil
			}
			seen[m.Key] = true
			m.LastUpdated = time.UnixMilli(ms).UTC()
			m.Included = true
			added = append(added, m)
			return nil
		})
	}
	// Each statement asks for enough rows to fill the budget even when
	// all it has seen already comes back.
	limit := func() int { return MaxIncluded - len(added) + len(seen) }

	sources := matches
	for round := 0; round < MaxIncludeRounds && len(sources) > 0 && len(added) < MaxIncluded; round++ {
		from := len(added)
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			var keys []int64
			for _, s := range sources {
				if inc.Type == "*" || s.Type == inc.Type {
					keys = append(keys, s.Key)
				}
			}
			if len(keys) == 0 || len(added) >= MaxIncluded {
				continue
			}
			sql, args := buildInclude(d, inc, keys, limit())
			if err := run(sql, args); err != nil {
				return nil, fmt.Errorf("_include %s:%s: %w", inc.Type, inc.Param, err)
			}
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			var targets []search.Match
			for _, s := range sources {
				if inc.Target == "" || s.Type == inc.Target {
					targets = append(targets, s)
				}
			}
			if len(targets) == 0 || len(added) >= MaxIncluded {
				continue
			}
			sql, args := buildRevInclude(d, inc, targets, limit())
			if err := run(sql, args); err != nil {
				return nil, fmt.Errorf("_revinclude %s:%s: %w", inc.Type, inc.Param, err)
			}
		}
		sources = added[from:]
	}
	return added, nil
}

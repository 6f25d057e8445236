package sqlq

import (
	"github.com/telefhir/telefhir/fhir/search"
)

// buildCount is the SQL counting the matches of q up to the snapshot
// (snap < 0: all of them).
//
// Index rows exist only for current, non-deleted resources (Put replaces
// them, a delete marker removes them), so when one clause of q is a plain
// value test of one parameter, the distinct keys of that parameter's
// matching index rows are already current resources of the right type:
// the count starts from them and tests the other clauses by key, never
// reading the resource table. With rid in the value indexes, counting
// code=http://loinc.org|8867-4 over a million Observations is an
// index-only scan of the matching rows. Otherwise it counts the rows of
// buildMatches.
func buildCount(d *Dialect, q *search.Query, snap int64) (string, []any, error) {
	if i := countDriver(q); i >= 0 {
		b := &builder{d: d}
		sc := scope{r: "r"}
		for _, t := range q.Types {
			sc.types = append(sc.types, b.arg(t))
		}
		c := q.Where[i]
		t, param, err := target(c.Or[0])
		if err != nil {
			return "", nil, err
		}
		x := b.next("x")
		var conds []string
		if tc := sc.typeCond(x + ".res_type"); tc != "" {
			conds = append(conds, tc)
		}
		conds, err = b.groupConds(conds, param, c.Or, x)
		if err != nil {
			return "", nil, err
		}
		sql := "SELECT count(*) FROM (SELECT DISTINCT " + x + ".rid FROM " + t.Name + " " + x + " WHERE " + and(conds) + ") r"
		var rest []string
		for j, c := range q.Where {
			if j == i {
				continue
			}
			cond, err := b.clauseCond(c, sc, false)
			if err != nil {
				return "", nil, err
			}
			rest = append(rest, cond)
		}
		if snap >= 0 {
			rest = append(rest, "r.rid <= "+b.arg(snap))
		}
		if len(rest) > 0 {
			sql += "\nWHERE " + and(rest)
		}
		return sql, b.args, nil
	}
	matches, args, err := buildMatches(d, q, snap)
	if err != nil {
		return "", nil, err
	}
	return "SELECT count(*) FROM (\n" + matches + "\n) c", args, nil
}

// countDriver returns the index of the clause buildCount can start from:
// the first whose predicates are all plain value tests of one parameter
// in one index table; -1 when there is none, or when some clause tests
// the resource row itself (_id, _lastUpdated, _type, _has), which needs the
// resource table anyway.
func countDriver(q *search.Query) int {
	driver := -1
	for i, c := range q.Where {
		if len(c.Or) == 0 {
			return -1
		}
		one := true
		t0, p0, err := target(c.Or[0])
		for _, p := range c.Or {
			if p.Has != nil || p.Param == search.ParamID || p.Param == search.ParamLastUpdated || p.Param == search.ParamType {
				return -1
			}
			if !plain(p) || err != nil {
				one = false
				continue
			}
			t, param, err := target(p)
			if err != nil || t != t0 || param != p0 {
				one = false
			}
		}
		if one && driver < 0 {
			driver = i
		}
	}
	return driver
}

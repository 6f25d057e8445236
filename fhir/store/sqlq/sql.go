package sqlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/telefhir/telefhir/fhir/search"
)

// valueKind is the Go type of a sort value in a cursor.
type valueKind int

const (
	kString valueKind = iota // string
	kInt                     // int64
	kFloat                   // float64
	kTime                    // int64, Unix milliseconds
)

// sortCol is one sort key as SQL.
type sortCol struct {
	expr string // the value, for ORDER BY and the keyset test
	sel  string // the value as selected into the cursor
	kind valueKind
	desc bool
	// notNull marks columns of the resource row, which always have a
	// value: their ORDER BY terms leave out NULLS LAST, which would keep
	// Postgres from reading them in order from an index.
	notNull bool
}

// order is the ORDER BY term of c, with missing values last either way.
func (c sortCol) order(expr string) string {
	var o string
	if c.desc {
		o = " DESC"
	}
	if !c.notNull {
		o += " NULLS LAST"
	}
	return expr + o
}

// sortKey is the SQL value of one sort key of the resource aliased r: a
// column of the resource row, or an aggregate over its index rows (NULL
// when it has none). Strings and tokens sort by their least value,
// numbers and quantities by their least value, dates ascending by their
// earliest start and descending by their latest end.
func (b *builder) sortKey(k search.SortKey, r string) (sortCol, error) {
	switch k.Param {
	case search.ParamID:
		return sortCol{expr: r + ".res_id", sel: r + ".res_id", kind: kString, desc: k.Desc, notNull: true}, nil
	case search.ParamLastUpdated:
		return sortCol{expr: r + ".last_updated", sel: b.d.Millis(r + ".last_updated"), kind: kTime, desc: k.Desc, notNull: true}, nil
	}
	t := tableFor(k.Type)
	x := b.next("x")
	var value string
	kind := kString
	switch k.Type {
	case search.TypeString:
		value = "min(" + x + ".norm)"
	case search.TypeToken:
		value = "min(" + x + ".code)"
	case search.TypeURI:
		value = "min(" + x + ".uri)"
	case search.TypeReference:
		value = "min(CASE WHEN " + x + ".target_id = '' THEN " + x + ".url ELSE " + x + ".target_type || '/' || " + x + ".target_id END)"
	case search.TypeDate:
		kind = kInt
		value = "min(" + x + ".low)"
		if k.Desc {
			value = "max(" + x + ".high)"
		}
	case search.TypeNumber, search.TypeQuantity:
		kind = kFloat
		value = "min(" + x + ".value)"
	default:
		return sortCol{}, fmt.Errorf("cannot sort by %s of type %q", k.Param, k.Type)
	}
	expr := "(SELECT " + value + " FROM " + t.Name + " " + x + " WHERE " + x + ".rid = " + r + ".rid AND " + x + ".param = " + b.arg(k.Param) + ")"
	return sortCol{expr: expr, sel: expr, kind: kind, desc: k.Desc}, nil
}

// keyset is the test that the resource aliased r comes after the cursor in
// the order (cols..., rid), missing values last. When the first key is a
// column of the resource row, the test starts with the bound it implies
// (last_updated <= $1 AND (...)), a range an index can serve.
func (b *builder) keyset(cols []sortCol, vals []any, key int64, r string) string {
	var bound string
	var ors, eqs []string
	for i, c := range cols {
		v := vals[i]
		if v == nil {
			// Nothing but another missing value sorts after a missing one.
			eqs = append(eqs, c.expr+" IS NULL")
			continue
		}
		if c.kind == kTime {
			v = b.d.Time(v.(int64))
		}
		p := b.arg(v)
		op, orEq := " > ", " >= "
		if c.desc {
			op, orEq = " < ", " <= "
		}
		if i == 0 && c.notNull {
			bound = c.expr + orEq + p + " AND "
		}
		after := "(" + c.expr + op + p + " OR " + c.expr + " IS NULL)"
		if c.notNull {
			after = c.expr + op + p
		}
		ors = append(ors, "("+and(slices.Concat(eqs, []string{after}))+")")
		eqs = append(eqs, c.expr+" = "+p)
	}
	ors = append(ors, "("+and(slices.Concat(eqs, []string{r + ".rid > " + b.arg(key)}))+")")
	if len(ors) == 1 {
		return ors[0]
	}
	return bound + "(" + strings.Join(ors, "\n\t\tOR ") + ")"
}

// snapshotNow is the snapshot of a first page: the highest resource key.
// Within one statement it bounds every key the statement sees (one
// statement reads one database snapshot), so statements select it but
// never test r.rid against it: the test would always hold, and the
// planner, which cannot know that, would misjudge how many rows pass.
const snapshotNow = "(SELECT coalesce(max(rid), 0) FROM resource)"

// pageQuery is the SQL of one page of q and the sort columns it selects.
type pageQuery struct {
	sql  string
	args []any
	cols []sortCol
}

// Rows of a page statement: rid, res_type, res_id, version, last_updated
// (Unix ms), body, snapshot, then one value per sort key.
const pageFixedCols = 7

// PageSQL returns the statement that fetches the page of q, with its
// arguments: for EXPLAIN, and for golden tests of the generated SQL.
func PageSQL(d *Dialect, q search.Query) (string, []any, error) {
	if q.Count <= 0 {
		return "", nil, fmt.Errorf("count %d: a page statement needs a positive count", q.Count)
	}
	pq, err := buildPage(d, &q)
	return pq.sql, pq.args, err
}

func buildPage(d *Dialect, q *search.Query) (pageQuery, error) {
	b := &builder{d: d}
	const r = "r"
	cols := make([]sortCol, len(q.Sort))
	for i, k := range q.Sort {
		c, err := b.sortKey(k, r)
		if err != nil {
			return pageQuery{}, err
		}
		cols[i] = c
	}
	conds, err := b.where(q.Types, q.Where, r)
	if err != nil {
		return pageQuery{}, err
	}
	snap := snapshotNow
	if q.After != nil {
		vals, err := cursorValues(cols, q.After)
		if err != nil {
			return pageQuery{}, err
		}
		snap = b.arg(q.After.Snapshot)
		conds = append(conds, b.keyset(cols, vals, q.After.Key, r), r+".rid <= "+snap)
	}

	var inner, outer []string
	for i, c := range cols {
		s := "s" + strconv.Itoa(i)
		if c.expr == c.sel {
			inner = append(inner, c.order(s))
		} else {
			inner = append(inner, c.order(c.expr))
		}
		outer = append(outer, c.order("p."+s))
	}
	inner = append(inner, r+".rid")
	outer = append(outer, "p.rid")

	var sb strings.Builder
	sb.WriteString("SELECT p.rid, p.res_type, p.res_id, v.version, " + d.Millis("v.last_updated") + ", v.body, p.snap")
	for i := range cols {
		sb.WriteString(", p.s" + strconv.Itoa(i))
	}
	// A bare placeholder in a select list would be typed text by Postgres.
	sb.WriteString("\nFROM (\n\tSELECT r.rid, r.res_type, r.res_id, r.seq, CAST(" + snap + " AS bigint) AS snap")
	for i, c := range cols {
		sb.WriteString(",\n\t\t" + c.sel + " AS s" + strconv.Itoa(i))
	}
	sb.WriteString("\n\tFROM resource r\n\tWHERE " + strings.Join(conds, "\n\t\tAND "))
	sb.WriteString("\n\tORDER BY " + strings.Join(inner, ", "))
	sb.WriteString("\n\tLIMIT " + b.arg(int64(q.Count)+1))
	sb.WriteString("\n) p\nJOIN resource_version v ON v.seq = p.seq\nORDER BY " + strings.Join(outer, ", "))
	return pageQuery{sql: sb.String(), args: b.args, cols: cols}, nil
}

// buildMatches is the SQL selecting every match of q up to the snapshot
// (snap < 0: the current highest key), the base of counts and estimates:
// "SELECT 1 FROM resource r WHERE ...".
func buildMatches(d *Dialect, q *search.Query, snap int64) (string, []any, error) {
	b := &builder{d: d}
	conds, err := b.where(q.Types, q.Where, "r")
	if err != nil {
		return "", nil, err
	}
	if snap >= 0 {
		conds = append(conds, "r.rid <= "+b.arg(snap))
	}
	return "SELECT 1 FROM resource r\nWHERE " + strings.Join(conds, "\n\tAND "), b.args, nil
}

// matchCols is the select list of include statements, the first six
// columns of a page row.
const matchCols = "r.rid, r.res_type, r.res_id, v.version, %s, v.body"

// buildInclude is the SQL of one _include over the resources with keys
// sources: the current resources they refer to through inc.Param (any
// reference parameter for "*"), of type inc.Target when set.
func buildInclude(d *Dialect, inc search.Include, sources []int64, limit int) (string, []any) {
	b := &builder{d: d}
	conds := []string{d.IsFalse("r.deleted")}
	if inc.Target != "" {
		conds = append(conds, "r.res_type = "+b.arg(inc.Target))
	}
	x := []string{in(b, "x.rid", sources)}
	if inc.Param != "*" {
		x = append(x, "x.param = "+b.arg(inc.Param))
	}
	x = append(x, "x.target_type = r.res_type", "x.target_id = r.res_id")
	conds = append(conds, exists(ReferenceTable, "x", x))
	return "SELECT " + fmt.Sprintf(matchCols, d.Millis("v.last_updated")) +
		"\nFROM resource r JOIN resource_version v ON v.seq = r.seq\nWHERE " + strings.Join(conds, "\n\tAND ") +
		"\nORDER BY r.rid\nLIMIT " + b.arg(int64(limit)), b.args
}

// buildRevInclude is the SQL of one _revinclude over targets: the current
// resources of type inc.Type (any for "*") that refer to one of them
// through inc.Param (any reference parameter for "*").
func buildRevInclude(d *Dialect, inc search.Include, targets []search.Match, limit int) (string, []any) {
	b := &builder{d: d}
	conds := []string{d.IsFalse("r.deleted")}
	var x []string
	x = append(x, "x.rid = r.rid")
	if inc.Type != "*" {
		t := b.arg(inc.Type)
		conds = append(conds, "r.res_type = "+t)
		x = append(x, "x.res_type = "+t)
	}
	if inc.Param != "*" {
		x = append(x, "x.param = "+b.arg(inc.Param))
	}
	vals := make([]string, len(targets))
	for i, m := range targets {
		vals[i] = "(" + b.arg(m.ID) + ", " + b.arg(m.Type) + ")"
	}
	x = append(x, "(x.target_id, x.target_type) IN (VALUES "+strings.Join(vals, ", ")+")")
	conds = append(conds, exists(ReferenceTable, "x", x))
	return "SELECT " + fmt.Sprintf(matchCols, d.Millis("v.last_updated")) +
		"\nFROM resource r JOIN resource_version v ON v.seq = r.seq\nWHERE " + strings.Join(conds, "\n\tAND ") +
		"\nORDER BY r.rid\nLIMIT " + b.arg(int64(limit)), b.args
}

// cursorValues checks the cursor against the sort keys and converts its
// values to the kinds the keys compare as (a cursor may have made a round
// trip through JSON, which turns every number into a float64).
func cursorValues(cols []sortCol, c *search.Cursor) ([]any, error) {
	if len(c.Values) != len(cols) {
		return nil, fmt.Errorf("cursor has %d sort values, the query %d sort keys", len(c.Values), len(cols))
	}
	if c.Key < 0 || c.Snapshot < 0 {
		return nil, errors.New("cursor key and snapshot must not be negative")
	}
	out := make([]any, len(cols))
	for i, col := range cols {
		v, err := value(col.kind, c.Values[i])
		if err != nil {
			return nil, fmt.Errorf("cursor value %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// value converts v, a cursor value or a scanned sort value, to kind k.
func value(k valueKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n, ok := v.(json.Number); ok {
		if k == kFloat {
			return n.Float64()
		}
		return n.Int64()
	}
	switch k {
	case kString:
		switch v := v.(type) {
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		}
	case kInt, kTime:
		switch v := v.(type) {
		case int64:
			return v, nil
		case int:
			return int64(v), nil
		case int32:
			return int64(v), nil
		case float64:
			// The extremes of int64 (open-ended periods) come back from
			// a float as ±2⁶³.
			switch {
			case v >= math.MaxInt64:
				return int64(math.MaxInt64), nil
			case v <= math.MinInt64:
				return int64(math.MinInt64), nil
			case v == math.Trunc(v):
				return int64(v), nil
			}
		}
	case kFloat:
		switch v := v.(type) {
		case float64:
			return v, nil
		case float32:
			return float64(v), nil
		case int64:
			return float64(v), nil
		case int:
			return float64(v), nil
		}
	}
	return nil, fmt.Errorf("a %T is not a valid sort value here", v)
}

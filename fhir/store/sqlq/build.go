package sqlq

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/telefhir/telefhir/fhir/search"
)

// builder accumulates one statement's bind arguments and table aliases.
// Every value that comes from a query is a bind argument; only column
// names, aliases and placeholders are written into the SQL text.
type builder struct {
	d     *Dialect
	args  []any
	alias int
}

// arg binds v and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

// next returns a fresh table alias.
func (b *builder) next(prefix string) string {
	b.alias++
	return prefix + strconv.Itoa(b.alias)
}

// in is "col = $1" or "col IN ($1, $2, ...)"; "" for no values.
func in[T any](b *builder, col string, vals []T) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return col + " = " + b.arg(vals[0])
	}
	ps := make([]string, len(vals))
	for i, v := range vals {
		ps[i] = b.arg(v)
	}
	return col + " IN (" + strings.Join(ps, ", ") + ")"
}

func and(conds []string) string {
	return strings.Join(conds, " AND ")
}

func exists(t *Table, x string, conds []string) string {
	return "EXISTS (SELECT 1 FROM " + t.Name + " " + x + " WHERE " + and(conds) + ")"
}

// not negates the test s when neg is set.
func not(neg bool, s string) string {
	switch {
	case !neg:
		return s
	case strings.HasPrefix(s, "EXISTS ("):
		return "NOT " + s
	}
	return "NOT (" + s + ")"
}

// scope is the resource a predicate tests: its alias, and the
// placeholders of the types it may have (none: any type).
type scope struct {
	r     string
	types []string
}

// typeCond is the test that col holds one of the scope's types; "" when
// any type will do.
func (s scope) typeCond(col string) string {
	switch len(s.types) {
	case 0:
		return ""
	case 1:
		return col + " = " + s.types[0]
	}
	return col + " IN (" + strings.Join(s.types, ", ") + ")"
}

// key is the join of index rows aliased x to the scope's resource: by rid,
// and by type too, so that the (res_type, param, value) indexes apply when
// a search starts from the value.
func (s scope) key(x string) []string {
	conds := []string{x + ".rid = " + s.r + ".rid"}
	if c := s.typeCond(x + ".res_type"); c != "" {
		conds = append(conds, c)
	}
	return conds
}

// where returns the conditions, to be ANDed, under which the resource
// aliased r is current, not deleted, of one of types (any when empty) and
// matches every clause.
func (b *builder) where(types []string, clauses []search.Clause, r string) ([]string, error) {
	sc := scope{r: r}
	for _, t := range types {
		sc.types = append(sc.types, b.arg(t))
	}
	var conds []string
	if c := sc.typeCond(r + ".res_type"); c != "" {
		conds = append(conds, c)
	}
	conds = append(conds, b.d.IsFalse(r+".deleted"))
	driver := -1
	for i, c := range clauses {
		if drives(c) {
			driver = i
			break
		}
	}
	for i, c := range clauses {
		if len(c.Or) == 0 {
			return nil, fmt.Errorf("clause %d has no predicates", i)
		}
		cond, err := b.clauseCond(c, sc, i == driver)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
	}
	return conds, nil
}

func name(p search.Predicate) string {
	if p.Has != nil {
		return "_has:" + p.Has.Type + ":" + p.Has.Param
	}
	return p.Param
}

// drives reports whether c is selective enough to start a search from: a
// reference to a given target (subject=Patient/1, a compartment). where
// writes the first such clause as "r.rid IN (SELECT x.rid ...)" rather
// than EXISTS: SQLite runs a correlated EXISTS once per candidate resource
// but starts from an IN subquery's rows; Postgres plans both as the same
// semi-join.
func drives(c search.Clause) bool {
	if len(c.Or) == 0 {
		return false
	}
	for _, p := range c.Or {
		m := p.Reference
		if !plain(p) || p.Type != search.TypeReference || m == nil || m.Chain != nil ||
			(m.ID == "" && m.URL == "" && m.Identifier == nil) || p.Param != c.Or[0].Param {
			return false
		}
		if (m.Identifier == nil) != (c.Or[0].Reference.Identifier == nil) {
			return false // two index tables
		}
	}
	return true
}

// clause returns the tests of a clause's predicates, to be ORed. Plain
// value tests of one parameter share one EXISTS, its conditions ORed
// (code=a,b is one semi-join, not two subplans per resource). With in,
// the clause is one such group, written as "r.rid IN (SELECT x.rid ...)".
func (b *builder) clause(ps []search.Predicate, sc scope, in bool) ([]string, error) {
	type group struct {
		t     *Table
		param string
		ps    []search.Predicate
	}
	var groups []*group
	byParam := make(map[string]*group)
	for _, p := range ps {
		if !plain(p) {
			groups = append(groups, &group{ps: []search.Predicate{p}})
			continue
		}
		t, param, err := target(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Param, err)
		}
		k := t.Name + " " + param
		if g := byParam[k]; g != nil {
			g.ps = append(g.ps, p)
			continue
		}
		g := &group{t: t, param: param, ps: []search.Predicate{p}}
		byParam[k] = g
		groups = append(groups, g)
	}
	ors := make([]string, 0, len(groups))
	for _, g := range groups {
		if g.t == nil {
			s, err := b.predicate(g.ps[0], sc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name(g.ps[0]), err)
			}
			ors = append(ors, s)
			continue
		}
		x := b.next("x")
		var conds []string
		if in {
			if c := sc.typeCond(x + ".res_type"); c != "" {
				conds = append(conds, c)
			}
		} else {
			conds = sc.key(x)
		}
		conds, err := b.groupConds(conds, g.param, g.ps, x)
		if err != nil {
			return nil, err
		}
		if in {
			ors = append(ors, sc.r+".rid IN (SELECT "+x+".rid FROM "+g.t.Name+" "+x+" WHERE "+and(conds)+")")
			continue
		}
		ors = append(ors, exists(g.t, x, conds))
	}
	return ors, nil
}

// groupConds appends to conds the tests that an index row aliased x is a
// row of param satisfying one of ps (plain value tests of that parameter).
func (b *builder) groupConds(conds []string, param string, ps []search.Predicate, x string) ([]string, error) {
	conds = append(conds, x+".param = "+b.arg(param))
	alts := make([]string, len(ps))
	for i, p := range ps {
		c, err := b.match(p, x)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Param, err)
		}
		switch {
		case len(c) == 0:
			alts[i] = b.d.True
		case len(ps) == 1:
			alts[i] = and(c)
		default:
			alts[i] = "(" + and(c) + ")"
		}
	}
	if len(alts) == 1 {
		if alts[0] != b.d.True {
			conds = append(conds, alts[0])
		}
	} else {
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	return conds, nil
}

// clauseCond is the test of one clause: its predicates' tests ORed.
func (b *builder) clauseCond(c search.Clause, sc scope, in bool) (string, error) {
	ors, err := b.clause(c.Or, sc, in)
	if err != nil {
		return "", err
	}
	if len(ors) == 1 {
		return ors[0], nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// plain reports whether p is a positive test of values in an index table.
func plain(p search.Predicate) bool {
	return p.Has == nil && !p.Not && p.Missing == nil && len(p.Composite) == 0 &&
		p.Param != search.ParamID && p.Param != search.ParamLastUpdated && p.Param != search.ParamType
}

// predicate is the test of one predicate on the resource of sc: an EXISTS
// over the parameter's index table, or a test of the resource row for the
// special parameters.
func (b *builder) predicate(p search.Predicate, sc scope) (string, error) {
	switch {
	case p.Has != nil:
		s, err := b.has(p.Has, sc.r)
		return not(p.Not, s), err
	case p.Param == search.ParamID:
		return b.id(p, sc.r)
	case p.Param == search.ParamLastUpdated:
		return b.lastUpdated(p, sc.r)
	case p.Param == search.ParamType:
		return b.resType(p, sc.r)
	case p.Missing != nil:
		return b.missing(p, sc)
	case len(p.Composite) > 0:
		s, err := b.composite(p.Composite, sc)
		return not(p.Not, s), err
	}
	s, err := b.exists(p, sc)
	return not(p.Not, s), err
}

// exists is the EXISTS of an index row of p's parameter that satisfies p.
func (b *builder) exists(p search.Predicate, sc scope) (string, error) {
	t, param, err := target(p)
	if err != nil {
		return "", err
	}
	x := b.next("x")
	conds := append(sc.key(x), x+".param = "+b.arg(param))
	c, err := b.match(p, x)
	if err != nil {
		return "", err
	}
	return exists(t, x, append(conds, c...)), nil
}

// missing is :missing: whether the resource has no row of the parameter.
func (b *builder) missing(p search.Predicate, sc scope) (string, error) {
	t, param := tableFor(p.Type), p.Param
	if len(p.Composite) > 0 {
		// A composite is present when its first component is.
		t, param = tableFor(p.Composite[0].Type), p.Composite[0].Param
	}
	if t == nil {
		return "", fmt.Errorf("parameter type %q has no index table", p.Type)
	}
	x := b.next("x")
	s := exists(t, x, append(sc.key(x), x+".param = "+b.arg(param)))
	return not(*p.Missing, s), nil
}

// composite nests one EXISTS per component, each inner one demanding the
// same grp as the one around it, so all components match one element.
func (b *builder) composite(cs []search.Predicate, sc scope) (string, error) {
	for i, c := range cs {
		if !plain(c) {
			return "", fmt.Errorf("composite component %d (%s) must be a plain value test", i, c.Param)
		}
	}
	// Built from the innermost out; aliases are numbered outermost first.
	aliases := make([]string, len(cs))
	base := b.alias
	for i := range cs {
		aliases[i] = "x" + strconv.Itoa(base+1+i)
	}
	b.alias += len(cs)
	var build func(i int) (string, error)
	build = func(i int) (string, error) {
		c := cs[i]
		t, param, err := target(c)
		if err != nil {
			return "", fmt.Errorf("component %s: %w", c.Param, err)
		}
		x := aliases[i]
		conds := append(sc.key(x), x+".param = "+b.arg(param))
		m, err := b.match(c, x)
		if err != nil {
			return "", fmt.Errorf("component %s: %w", c.Param, err)
		}
		conds = append(conds, m...)
		if i > 0 {
			conds = append(conds, x+".grp = "+aliases[i-1]+".grp")
		}
		if i+1 < len(cs) {
			inner, err := build(i + 1)
			if err != nil {
				return "", err
			}
			conds = append(conds, inner)
		}
		return exists(t, x, conds), nil
	}
	return build(0)
}

// target is the index table and parameter name that p's values are in.
func target(p search.Predicate) (*Table, string, error) {
	if p.Type == search.TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		// :identifier runs on the token rows of "<param>:identifier".
		return TokenTable, p.Param + ":identifier", nil
	}
	t := tableFor(p.Type)
	if t == nil {
		return nil, "", fmt.Errorf("parameter type %q cannot be searched", p.Type)
	}
	return t, p.Param, nil
}

// match returns the conditions under which the index row aliased x holds a
// value satisfying p (none: any value does).
func (b *builder) match(p search.Predicate, x string) ([]string, error) {
	if p.Type == search.TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		return b.token(p.Reference.Identifier, x), nil
	}
	switch p.Type {
	case search.TypeString:
		if p.String != nil {
			return b.str(p.String, x)
		}
	case search.TypeToken:
		if p.Token != nil {
			return b.token(p.Token, x), nil
		}
	case search.TypeDate:
		if p.Date != nil {
			s, err := b.dates(p.Date, x+".low", x+".high", p.Date.Low, p.Date.High)
			return []string{s}, err
		}
	case search.TypeNumber:
		if m := p.Number; m != nil {
			s, err := b.numbers(m.Prefix, x+".low", x+".high", x+".value", m.Value, m.Low, m.High)
			return []string{s}, err
		}
	case search.TypeQuantity:
		if p.Quantity != nil {
			return b.quantity(p.Quantity, x)
		}
	case search.TypeReference:
		if p.Reference != nil {
			return b.reference(p.Reference, x)
		}
	case search.TypeURI:
		if p.URI != nil {
			return b.uri(p.URI, x), nil
		}
	default:
		return nil, fmt.Errorf("parameter type %q cannot be searched", p.Type)
	}
	return nil, errNoValue
}

var errNoValue = search.ErrNoValue

func (b *builder) str(m *search.StringMatch, x string) ([]string, error) {
	switch m.Mode {
	case search.StringStartsWith:
		return b.prefix(x+".norm", truncate(m.Value, MaxNorm)), nil
	case search.StringExact:
		return []string{x + ".exact = " + b.arg(m.Value)}, nil
	case search.StringContains:
		return []string{x + ".norm LIKE " + b.arg("%"+EscapeLike(m.Value)+"%") + b.d.EscapeLike}, nil
	}
	return nil, fmt.Errorf("unknown string mode %d", m.Mode)
}

func (b *builder) token(m *search.TokenMatch, x string) []string {
	if m.Text != "" {
		return b.prefix(x+".text", m.Text)
	}
	var conds []string
	switch {
	case len(m.Codes) > 0:
		conds = append(conds, in(b, x+".code", m.Codes))
	case m.Code != "":
		conds = append(conds, x+".code = "+b.arg(m.Code))
	}
	if m.SystemSet {
		conds = append(conds, x+".system = "+b.arg(m.System))
	}
	return conds
}

// dates compares a row range [lo, hi] (column or expression) with the
// search range [sLo, sHi]; ap means the ranges overlap.
func (b *builder) dates(m *search.DateMatch, lo, hi string, sLo, sHi any) (string, error) {
	return b.ranges(m.Prefix, lo, hi, sLo, sHi, func(sl, sh func() string) string {
		return lo + " <= " + sh() + " AND " + hi + " >= " + sl()
	})
}

// numbers compares number and quantity rows: the row's precision range
// [lo, hi] with the search value's [sLo, sHi]; ap means the row's value
// is within 10% of the searched value (or within its precision range,
// when that is wider).
func (b *builder) numbers(pre search.Prefix, lo, hi, val string, v, sLo, sHi float64) (string, error) {
	return b.ranges(pre, lo, hi, sLo, sHi, func(_, _ func() string) string {
		d := math.Abs(v) / 10
		return val + " >= " + b.arg(min(sLo, v-d)) + " AND " + val + " <= " + b.arg(max(sHi, v+d))
	})
}

// ranges is the FHIR prefix test between a row range [lo, hi] and the
// search range [sLo, sHi], both inclusive:
//
//	eq  the search range contains the row range: lo >= sLo AND hi <= sHi
//	ne  not eq
//	gt  the row range reaches above the search range: hi > sHi
//	lt  the row range reaches below the search range: lo < sLo
//	ge  gt or eq, written hi >= sLo AND (hi > sHi OR lo >= sLo) so that
//	    the first term can drive a (param, high) index
//	le  lt or eq, likewise lo <= sHi AND (lo < sLo OR hi <= sHi)
//	sa  the row range starts after the search range: lo > sHi
//	eb  the row range ends before the search range: hi < sLo
//	ap  ap(), which binds what it needs
//
// Search bounds are bound only when used: Postgres rejects arguments the
// statement does not mention.
func (b *builder) ranges(pre search.Prefix, lo, hi string, sLo, sHi any, ap func(sl, sh func() string) string) (string, error) {
	var pl, ph string
	sl := func() string {
		if pl == "" {
			pl = b.arg(sLo)
		}
		return pl
	}
	sh := func() string {
		if ph == "" {
			ph = b.arg(sHi)
		}
		return ph
	}
	switch pre {
	case "", search.Eq:
		return lo + " >= " + sl() + " AND " + hi + " <= " + sh(), nil
	case search.Ne:
		return "(" + lo + " < " + sl() + " OR " + hi + " > " + sh() + ")", nil
	case search.Gt:
		return hi + " > " + sh(), nil
	case search.Lt:
		return lo + " < " + sl(), nil
	case search.Ge:
		return hi + " >= " + sl() + " AND (" + hi + " > " + sh() + " OR " + lo + " >= " + sl() + ")", nil
	case search.Le:
		return lo + " <= " + sh() + " AND (" + lo + " < " + sl() + " OR " + hi + " <= " + sh() + ")", nil
	case search.Sa:
		return lo + " > " + sh(), nil
	case search.Eb:
		return hi + " < " + sl(), nil
	case search.Ap:
		return ap(sl, sh), nil
	}
	return "", fmt.Errorf("unknown prefix %q", pre)
}

func (b *builder) quantity(m *search.QuantityMatch, x string) ([]string, error) {
	var conds []string
	lo, hi, val := x+".low", x+".high", x+".value"
	switch {
	case m.Canonical:
		// Canonical rows have a value, not a precision range.
		lo, hi, val = x+".canon_value", x+".canon_value", x+".canon_value"
		conds = append(conds, x+".canon_code <> ''")
		if m.Code != "" {
			conds = append(conds, x+".canon_code = "+b.arg(m.Code))
		}
	case m.System != "":
		conds = append(conds, x+".system = "+b.arg(m.System))
		if m.Code != "" {
			conds = append(conds, x+".code = "+b.arg(m.Code))
		}
	case m.Code != "":
		// value||unit: the code or the unit as written.
		c := b.arg(m.Code)
		conds = append(conds, "("+x+".code = "+c+" OR "+x+".unit = "+c+")")
	}
	s, err := b.numbers(m.Prefix, lo, hi, val, m.Value, m.Low, m.High)
	return append(conds, s), err
}

func (b *builder) reference(m *search.ReferenceMatch, x string) ([]string, error) {
	var conds []string
	switch {
	case m.Chain != nil:
		types := m.Chain.Types
		if len(types) == 0 && m.Type != "" {
			types = []string{m.Type}
		}
		if c := in(b, x+".target_type", types); c != "" {
			conds = append(conds, c)
		}
		r := b.next("r")
		inner, err := b.where(types, m.Chain.Where, r)
		if err != nil {
			return nil, fmt.Errorf("chain: %w", err)
		}
		inner = append([]string{r + ".res_type = " + x + ".target_type", r + ".res_id = " + x + ".target_id"}, inner...)
		conds = append(conds, "EXISTS (SELECT 1 FROM resource "+r+" WHERE "+and(inner)+")")
	case m.URL != "":
		conds = append(conds, x+".url = "+b.arg(m.URL))
	case m.ID != "":
		conds = append(conds, x+".target_id = "+b.arg(m.ID))
		if m.Type != "" {
			conds = append(conds, x+".target_type = "+b.arg(m.Type))
		}
	case m.Type != "":
		conds = append(conds, x+".target_type = "+b.arg(m.Type))
	}
	return conds, nil
}

func (b *builder) uri(m *search.URIMatch, x string) []string {
	switch {
	case m.Below:
		return b.prefix(x+".uri", m.Value)
	case m.Above:
		// The row is a prefix of the value.
		return []string{x + ".uri <> ''", "substr(" + b.arg(m.Value) + ", 1, length(" + x + ".uri)) = " + x + ".uri"}
	}
	return []string{x + ".uri = " + b.arg(m.Value)}
}

// has is _has: some current resource of h.Type refers to the resource
// aliased r through h.Param and matches h.Where.
func (b *builder) has(h *search.Has, r string) (string, error) {
	if h.Type == "" || h.Param == "" {
		return "", errors.New("_has needs a type and a parameter")
	}
	x, r2 := b.next("x"), b.next("r")
	conds := []string{
		x + ".res_type = " + b.arg(h.Type),
		x + ".param = " + b.arg(h.Param),
		x + ".target_id = " + r + ".res_id",
		x + ".target_type = " + r + ".res_type",
	}
	inner, err := b.where([]string{h.Type}, h.Where, r2)
	if err != nil {
		return "", err
	}
	conds = append(conds, inner...)
	return "EXISTS (SELECT 1 FROM " + ReferenceTable.Name + " " + x + " JOIN resource " + r2 + " ON " + r2 + ".rid = " + x + ".rid WHERE " + and(conds) + ")", nil
}

// id is _id, on the resource row.
func (b *builder) id(p search.Predicate, r string) (string, error) {
	if p.Missing != nil {
		return b.literal(!*p.Missing), nil // every resource has an id
	}
	ids, err := p.IDs()
	if err != nil {
		return "", err
	}
	return not(p.Not, in(b, r+".res_id", ids)), nil
}

// resType is a _type predicate, on the resource row.
func (b *builder) resType(p search.Predicate, r string) (string, error) {
	var types []string
	switch {
	case p.Missing != nil || p.Token == nil:
	case len(p.Token.Codes) > 0:
		types = p.Token.Codes
	case p.Token.Code != "":
		types = []string{p.Token.Code}
	}
	if len(types) == 0 {
		return "", errors.New("_type takes resource types")
	}
	return not(p.Not, in(b, r+".res_type", types)), nil
}

// lastUpdated is _lastUpdated, on the resource row: a range of one instant.
func (b *builder) lastUpdated(p search.Predicate, r string) (string, error) {
	if p.Missing != nil {
		return b.literal(!*p.Missing), nil
	}
	if p.Date == nil {
		return "", errNoValue
	}
	col := r + ".last_updated"
	s, err := b.dates(p.Date, col, col, b.d.Time(p.Date.Low), b.d.Time(p.Date.High))
	if err != nil {
		return "", err
	}
	return not(p.Not, s), nil
}

func (b *builder) literal(v bool) string {
	if v {
		return b.d.True
	}
	return b.d.False
}

// prefix is the test that col starts with v, as a range so that a B-tree
// on col serves it in both stores: col >= v AND col < PrefixEnd(v).
func (b *builder) prefix(col, v string) []string {
	conds := []string{col + " >= " + b.arg(v)}
	if end, ok := PrefixEnd(v); ok {
		conds = append(conds, col+" < "+b.arg(end))
	}
	return conds
}

// PrefixEnd returns the least string greater than every UTF-8 string that
// starts with s, in byte (code point) order, and false when there is none
// (s is empty or all U+10FFFF). It increments the last rune that can be
// incremented and drops the runes after it.
func PrefixEnd(s string) (string, bool) {
	if !utf8.ValidString(s) {
		// Not UTF-8 (Postgres would reject it): work on bytes.
		for i := len(s) - 1; i >= 0; i-- {
			if s[i] < 0xff {
				return s[:i] + string([]byte{s[i] + 1}), true
			}
		}
		return "", false
	}
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
		if r < utf8.MaxRune {
			r++
			if r == 0xd800 { // surrogates have no UTF-8 encoding
				r = 0xe000
			}
			return s + string(r), true
		}
	}
	return "", false
}

// EscapeLike escapes the LIKE wildcards % and _, and the escape character
// \ itself, so that s matches literally in a pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var sb strings.Builder
	for _, c := range []byte(s) {
		if c == '%' || c == '_' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

package search

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNeedsStore is returned by Matches for predicates that depend on other
// resources (chains and _has): only a store search can evaluate them.
var ErrNeedsStore = errors.New("the criteria follow references to other resources; only a store search can evaluate them")

// Target is one resource version as Matches sees it: what the stores keep on
// the resource row and in the index tables.
type Target struct {
	Type        string
	ID          string
	LastUpdated time.Time
	Index       *Index
}

// Matches reports whether t matches q: t's type is one of q.Types (any, when
// empty) and t satisfies every clause of q.Where. It evaluates the clauses
// over t's index rows with exactly the semantics of the stores' SQL search
// (fhir/store/sqlq), so that a resource matches in memory exactly when a
// store search would return it. Chains and _has return ErrNeedsStore.
// Paging, sorting, totals and includes do not affect matching.
func Matches(q *Query, t *Target) (bool, error) {
	if len(q.Types) > 0 && !slices.Contains(q.Types, t.Type) {
		return false, nil
	}
	return MatchWhere(q.Where, t)
}

// MatchWhere reports whether t satisfies every clause (see Matches).
func MatchWhere(where []Clause, t *Target) (bool, error) {
	x := t.Index
	if x == nil {
		x = &Index{}
	}
	m := matcher{t: t, x: x}
	for i, c := range where {
		if len(c.Or) == 0 {
			return false, fmt.Errorf("clause %d has no predicates", i)
		}
		ok := false
		for _, p := range c.Or {
			r, err := m.predicate(&p)
			if err != nil {
				return false, fmt.Errorf("%s: %w", name(p), err)
			}
			if r {
				ok = true
				break
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func name(p Predicate) string {
	if p.Has != nil {
		return "_has:" + p.Has.Type + ":" + p.Has.Param
	}
	return p.Param
}

type matcher struct {
	t *Target
	x *Index
}

func (m matcher) predicate(p *Predicate) (bool, error) {
	switch {
	case p.Has != nil:
		return false, ErrNeedsStore
	case p.Param == ParamID:
		return m.id(p)
	case p.Param == ParamLastUpdated:
		return m.lastUpdated(p)
	case p.Missing != nil:
		return m.missing(p)
	case len(p.Composite) > 0:
		ok, err := m.composite(p.Composite)
		return ok != p.Not, err
	}
	ok, err := m.exists(p, -1)
	return ok != p.Not, err
}

// exists reports whether some row of p's parameter (in group grp, when
// grp >= 0) satisfies p.
func (m matcher) exists(p *Predicate, grp int) (bool, error) {
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		tm := p.Reference.Identifier
		return anyRow(m.x.Tokens, IdentifierParam(p.Param), grp, func(r *TokenRow) int { return r.Group },
			func(r *TokenRow) string { return r.Param }, func(r *TokenRow) (bool, error) { return matchToken(tm, r), nil })
	}
	switch p.Type {
	case TypeString:
		if sm := p.String; sm != nil {
			return anyRow(m.x.Strings, p.Param, grp, func(r *StringRow) int { return r.Group },
				func(r *StringRow) string { return r.Param }, func(r *StringRow) (bool, error) { return matchString(sm, r) })
		}
	case TypeToken:
		if tm := p.Token; tm != nil {
			return anyRow(m.x.Tokens, p.Param, grp, func(r *TokenRow) int { return r.Group },
				func(r *TokenRow) string { return r.Param }, func(r *TokenRow) (bool, error) { return matchToken(tm, r), nil })
		}
	case TypeDate:
		if dm := p.Date; dm != nil {
			return anyRow(m.x.Dates, p.Param, grp, func(r *DateRow) int { return r.Group },
				func(r *DateRow) string { return r.Param }, func(r *DateRow) (bool, error) { return matchDates(dm, r.Low, r.High) })
		}
	case TypeNumber:
		if nm := p.Number; nm != nil {
			return anyRow(m.x.Numbers, p.Param, grp, func(r *NumberRow) int { return r.Group },
				func(r *NumberRow) string { return r.Param }, func(r *NumberRow) (bool, error) {
					return matchNumbers(nm.Prefix, r.Low, r.High, r.Value, nm.Value, nm.Low, nm.High)
				})
		}
	case TypeQuantity:
		if qm := p.Quantity; qm != nil {
			return anyRow(m.x.Quantities, p.Param, grp, func(r *QuantityRow) int { return r.Group },
				func(r *QuantityRow) string { return r.Param }, func(r *QuantityRow) (bool, error) { return matchQuantity(qm, r) })
		}
	case TypeReference:
		if rm := p.Reference; rm != nil {
			if rm.Chain != nil {
				return false, ErrNeedsStore
			}
			return anyRow(m.x.References, p.Param, grp, func(r *ReferenceRow) int { return r.Group },
				func(r *ReferenceRow) string { return r.Param }, func(r *ReferenceRow) (bool, error) { return matchReference(rm, r), nil })
		}
	case TypeURI:
		if um := p.URI; um != nil {
			return anyRow(m.x.URIs, p.Param, grp, func(r *URIRow) int { return r.Group },
				func(r *URIRow) string { return r.Param }, func(r *URIRow) (bool, error) { return matchURI(um, r), nil })
		}
	default:
		return false, fmt.Errorf("parameter type %q cannot be searched", p.Type)
	}
	return false, ErrNoValue
}

// ErrNoValue: a predicate carries no value of its type.
var ErrNoValue = errors.New("the predicate has no value of its type")

// anyRow reports whether some row of rows has parameter param (and group
// grp, when grp >= 0) and satisfies ok.
func anyRow[R any](rows []R, param string, grp int, group func(*R) int, rparam func(*R) string, ok func(*R) (bool, error)) (bool, error) {
	for i := range rows {
		r := &rows[i]
		if rparam(r) != param || (grp >= 0 && group(r) != grp) {
			continue
		}
		m, err := ok(r)
		if err != nil || m {
			return m, err
		}
	}
	return false, nil
}

// eachRow calls fn with the parameter and group of every row in the
// table of type typ.
func (m matcher) eachRow(typ Type, fn func(param string, group int)) error {
	x := m.x
	switch typ {
	case TypeString:
		for _, r := range x.Strings {
			fn(r.Param, r.Group)
		}
	case TypeToken:
		for _, r := range x.Tokens {
			fn(r.Param, r.Group)
		}
	case TypeDate:
		for _, r := range x.Dates {
			fn(r.Param, r.Group)
		}
	case TypeReference:
		for _, r := range x.References {
			fn(r.Param, r.Group)
		}
	case TypeQuantity:
		for _, r := range x.Quantities {
			fn(r.Param, r.Group)
		}
	case TypeNumber:
		for _, r := range x.Numbers {
			fn(r.Param, r.Group)
		}
	case TypeURI:
		for _, r := range x.URIs {
			fn(r.Param, r.Group)
		}
	default:
		return fmt.Errorf("parameter type %q has no index table", typ)
	}
	return nil
}

// hasParam reports whether the index holds any row of param in the table
// of type typ.
func (m matcher) hasParam(typ Type, param string) (bool, error) {
	found := false
	err := m.eachRow(typ, func(p string, _ int) { found = found || p == param })
	return found, err
}

// missing is :missing: whether the resource has no row of the parameter
// (a composite is present when its first component is).
func (m matcher) missing(p *Predicate) (bool, error) {
	typ, param := p.Type, p.Param
	if len(p.Composite) > 0 {
		typ, param = p.Composite[0].Type, p.Composite[0].Param
	}
	present, err := m.hasParam(typ, param)
	return present != *p.Missing, err
}

// composite: some element (group) in which every component matches.
func (m matcher) composite(cs []Predicate) (bool, error) {
	for i := range cs {
		c := &cs[i]
		if c.Has != nil || c.Not || c.Missing != nil || len(c.Composite) > 0 || c.Param == ParamID || c.Param == ParamLastUpdated {
			return false, fmt.Errorf("composite component %d (%s) must be a plain value test", i, c.Param)
		}
	}
	for _, g := range m.groups(&cs[0]) {
		all := true
		for i := range cs {
			ok, err := m.exists(&cs[i], g)
			if err != nil {
				return false, fmt.Errorf("component %s: %w", cs[i].Param, err)
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	// Report a component without a value even when no group exists.
	for i := range cs {
		if _, err := m.exists(&cs[i], -1); err != nil {
			return false, fmt.Errorf("component %s: %w", cs[i].Param, err)
		}
	}
	return false, nil
}

// groups lists the groups of p's parameter rows.
func (m matcher) groups(p *Predicate) []int {
	var gs []int
	_ = m.eachRow(p.Type, func(param string, g int) {
		if param == p.Param && !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	})
	return gs
}

// id is _id, on the resource itself.
func (m matcher) id(p *Predicate) (bool, error) {
	if p.Missing != nil {
		return !*p.Missing, nil // every resource has an id
	}
	ids, err := p.IDs()
	if err != nil {
		return false, err
	}
	return slices.Contains(ids, m.t.ID) != p.Not, nil
}

// IDs are the ids an _id predicate searches for, in whichever form the
// parser gave them.
func (p *Predicate) IDs() ([]string, error) {
	switch {
	case p.Token != nil && len(p.Token.Codes) > 0:
		return p.Token.Codes, nil
	case p.Token != nil && p.Token.Code != "":
		return []string{p.Token.Code}, nil
	case p.String != nil:
		return []string{p.String.Value}, nil
	case p.Reference != nil && p.Reference.ID != "":
		return []string{p.Reference.ID}, nil
	}
	return nil, ErrNoValue
}

// lastUpdated is _lastUpdated: a range of one instant, in milliseconds.
func (m matcher) lastUpdated(p *Predicate) (bool, error) {
	if p.Missing != nil {
		return !*p.Missing, nil
	}
	if p.Date == nil {
		return false, ErrNoValue
	}
	ms := m.t.LastUpdated.UnixMilli()
	ok, err := matchDates(p.Date, ms, ms)
	return ok != p.Not, err
}

// MaxNorm is the longest normalised string value the stores index, in
// bytes (cut at a rune boundary by Truncate): a Postgres B-tree entry must
// fit in a third of a page. Longer values match default and :contains
// searches on their first MaxNorm bytes; :exact compares the whole value.
const MaxNorm = 1024

// Truncate cuts s to at most n bytes at a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func matchString(sm *StringMatch, r *StringRow) (bool, error) {
	norm := Truncate(r.Norm, MaxNorm)
	switch sm.Mode {
	case StringStartsWith:
		return strings.HasPrefix(norm, Truncate(sm.Value, MaxNorm)), nil
	case StringExact:
		return r.Exact == sm.Value, nil
	case StringContains:
		return strings.Contains(norm, sm.Value), nil
	}
	return false, fmt.Errorf("unknown string mode %d", sm.Mode)
}

func matchToken(m *TokenMatch, r *TokenRow) bool {
	if m.Text != "" {
		return strings.HasPrefix(r.Text, m.Text)
	}
	switch {
	case len(m.Codes) > 0:
		if !slices.Contains(m.Codes, r.Code) {
			return false
		}
	case m.Code != "":
		if r.Code != m.Code {
			return false
		}
	}
	return !m.SystemSet || r.System == m.System
}

func matchDates(m *DateMatch, lo, hi int64) (bool, error) {
	return matchRange(m.Prefix, lo, hi, m.Low, m.High, func() bool { return lo <= m.High && hi >= m.Low })
}

// numbers: ap means the row's value is within 10% of the searched value,
// or within its precision range when that is wider.
func matchNumbers(pre Prefix, lo, hi, val, v, sLo, sHi float64) (bool, error) {
	return matchRange(pre, lo, hi, sLo, sHi, func() bool {
		d := math.Abs(v) / 10
		return val >= min(sLo, v-d) && val <= max(sHi, v+d)
	})
}

// ranges is the FHIR prefix test between a row range [lo, hi] and the
// search range [sLo, sHi] (see sqlq's builder.ranges).
func matchRange[T int64 | float64](pre Prefix, lo, hi, sLo, sHi T, ap func() bool) (bool, error) {
	switch pre {
	case "", Eq:
		return lo >= sLo && hi <= sHi, nil
	case Ne:
		return lo < sLo || hi > sHi, nil
	case Gt:
		return hi > sHi, nil
	case Lt:
		return lo < sLo, nil
	case Ge:
		return hi >= sLo && (hi > sHi || lo >= sLo), nil
	case Le:
		return lo <= sHi && (lo < sLo || hi <= sHi), nil
	case Sa:
		return lo > sHi, nil
	case Eb:
		return hi < sLo, nil
	case Ap:
		return ap(), nil
	}
	return false, fmt.Errorf("unknown prefix %q", pre)
}

func matchQuantity(m *QuantityMatch, r *QuantityRow) (bool, error) {
	lo, hi, val := r.Low, r.High, r.Value
	switch {
	case m.Canonical:
		lo, hi, val = r.CanonValue, r.CanonValue, r.CanonValue
		if r.CanonCode == "" || (m.Code != "" && r.CanonCode != m.Code) {
			return false, nil
		}
	case m.System != "":
		if r.System != m.System || (m.Code != "" && r.Code != m.Code) {
			return false, nil
		}
	case m.Code != "":
		if r.Code != m.Code && r.Unit != m.Code {
			return false, nil
		}
	}
	return matchNumbers(m.Prefix, lo, hi, val, m.Value, m.Low, m.High)
}

func matchReference(m *ReferenceMatch, r *ReferenceRow) bool {
	switch {
	case m.URL != "":
		return r.URL == m.URL
	case m.ID != "":
		return r.ID == m.ID && (m.Type == "" || r.Type == m.Type)
	case m.Type != "":
		return r.Type == m.Type
	}
	return true
}

func matchURI(m *URIMatch, r *URIRow) bool {
	switch {
	case m.Below:
		return strings.HasPrefix(r.URI, m.Value)
	case m.Above:
		return r.URI != "" && strings.HasPrefix(m.Value, r.URI)
	}
	return r.URI == m.Value
}

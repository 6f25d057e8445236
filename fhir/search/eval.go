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

// Target is one resource version as Eval sees it: its type, id and
// lastUpdated (the special parameters) and its index rows.
type Target struct {
	Type        string
	ID          string
	LastUpdated time.Time
	Index       *Index
}

// ErrNotEvaluable is returned (wrapped) by Eval and Evaluable for
// predicates that need other resources: chains and _has.
var ErrNotEvaluable = errors.New("the predicate needs other resources and cannot be evaluated on one resource's index")

// Eval reports whether t satisfies every clause of where, with the
// semantics the stores give the same clauses in SQL (the shared store
// suite checks that they agree). Chains and _has cannot be decided on one
// resource: they are an error wrapping ErrNotEvaluable, as is a malformed
// predicate.
func Eval(where []Clause, t Target) (bool, error) {
	for i, c := range where {
		if len(c.Or) == 0 {
			return false, fmt.Errorf("clause %d has no predicates", i)
		}
		any := false
		for _, p := range c.Or {
			ok, err := evalPredicate(p, t)
			if err != nil {
				return false, fmt.Errorf("%s: %w", p.Param, err)
			}
			if ok {
				any = true
				break
			}
		}
		if !any {
			return false, nil
		}
	}
	return true, nil
}

// Evaluable returns an error when Eval cannot decide some clause of where
// on a single resource (a chain, a _has or a malformed predicate), so that
// callers can refuse such clauses before they meet a resource.
func Evaluable(where []Clause) error {
	for i, c := range where {
		if len(c.Or) == 0 {
			return fmt.Errorf("clause %d has no predicates", i)
		}
		for _, p := range c.Or {
			if err := checkPredicate(p); err != nil {
				return fmt.Errorf("%s: %w", p.Param, err)
			}
		}
	}
	return nil
}

// checkPredicate is the static part of evalPredicate: what fails
// whatever the resource.
func checkPredicate(p Predicate) error {
	switch {
	case p.Has != nil:
		return fmt.Errorf("_has: %w", ErrNotEvaluable)
	case p.Param == ParamID:
		if p.Missing == nil && len(specialValues(p)) == 0 {
			return errNoValue
		}
		return nil
	case p.Param == ParamType:
		_, err := evalType(p, "")
		return err
	case p.Param == ParamLastUpdated:
		if p.Missing == nil && p.Date == nil {
			return errNoValue
		}
		return checkPrefix(p)
	case p.Missing != nil:
		if len(p.Composite) > 0 {
			p = p.Composite[0]
		}
		if !searchable(p.Type) {
			return fmt.Errorf("parameter type %q cannot be searched", p.Type)
		}
		return nil
	case len(p.Composite) > 0:
		for i, c := range p.Composite {
			if !plainValue(c) {
				return fmt.Errorf("composite component %d (%s) must be a plain value test", i, c.Param)
			}
			if err := checkPredicate(c); err != nil {
				return err
			}
		}
		return nil
	}
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Chain != nil {
		return fmt.Errorf("chain: %w", ErrNotEvaluable)
	}
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		return nil
	}
	var has bool
	switch p.Type {
	case TypeString:
		has = p.String != nil
		if has && p.String.Mode != StringStartsWith && p.String.Mode != StringExact && p.String.Mode != StringContains {
			return fmt.Errorf("unknown string mode %d", p.String.Mode)
		}
	case TypeToken:
		has = p.Token != nil
	case TypeDate:
		has = p.Date != nil
	case TypeNumber:
		has = p.Number != nil
	case TypeQuantity:
		has = p.Quantity != nil
	case TypeReference:
		has = p.Reference != nil
	case TypeURI:
		has = p.URI != nil
	default:
		return fmt.Errorf("parameter type %q cannot be searched", p.Type)
	}
	if !has {
		return errNoValue
	}
	return checkPrefix(p)
}

func checkPrefix(p Predicate) error {
	var pre Prefix
	switch {
	case p.Date != nil:
		pre = p.Date.Prefix
	case p.Number != nil:
		pre = p.Number.Prefix
	case p.Quantity != nil:
		pre = p.Quantity.Prefix
	}
	_, err := ranges(pre, 0, 0, 0, 0, overlap)
	return err
}

func searchable(t Type) bool {
	switch t {
	case TypeString, TypeToken, TypeDate, TypeReference, TypeQuantity, TypeNumber, TypeURI:
		return true
	}
	return false
}

// plainValue reports whether p is a positive test of index values.
func plainValue(p Predicate) bool {
	return p.Has == nil && !p.Not && p.Missing == nil && len(p.Composite) == 0 &&
		p.Param != ParamID && p.Param != ParamLastUpdated && p.Param != ParamType
}

func evalPredicate(p Predicate, t Target) (bool, error) {
	switch {
	case p.Has != nil:
		return false, fmt.Errorf("_has: %w", ErrNotEvaluable)
	case p.Param == ParamID:
		return evalID(p, t.ID)
	case p.Param == ParamType:
		return evalType(p, t.Type)
	case p.Param == ParamLastUpdated:
		if p.Missing != nil {
			return !*p.Missing, nil
		}
		if p.Date == nil {
			return false, errNoValue
		}
		ms := t.LastUpdated.UnixMilli()
		ok, err := ranges(p.Date.Prefix, ms, ms, p.Date.Low, p.Date.High, overlap)
		return ok != p.Not, err
	case p.Missing != nil:
		param, typ := p.Param, p.Type
		if len(p.Composite) > 0 {
			param, typ = p.Composite[0].Param, p.Composite[0].Type // present when its first component is
		}
		has, err := hasRows(t.Index, typ, param)
		return has != *p.Missing, err
	case len(p.Composite) > 0:
		ok, err := evalComposite(p.Composite, t.Index)
		return ok != p.Not, err
	}
	ok, err := anyRow(p, t.Index, -1)
	return ok != p.Not, err
}

var errNoValue = errors.New("the predicate has no value of its type")

// specialValues is the list of codes an _id or _type predicate names.
func specialValues(p Predicate) []string {
	switch {
	case p.Token != nil && len(p.Token.Codes) > 0:
		return p.Token.Codes
	case p.Token != nil && p.Token.Code != "":
		return []string{p.Token.Code}
	case p.String != nil:
		return []string{p.String.Value}
	case p.Reference != nil && p.Reference.ID != "":
		return []string{p.Reference.ID}
	}
	return nil
}

func evalID(p Predicate, id string) (bool, error) {
	if p.Missing != nil {
		return !*p.Missing, nil // every resource has an id
	}
	ids := specialValues(p)
	if len(ids) == 0 {
		return false, errNoValue
	}
	return slices.Contains(ids, id) != p.Not, nil
}

func evalType(p Predicate, typ string) (bool, error) {
	types := specialValues(p)
	if p.Missing != nil || len(types) == 0 {
		return false, errors.New("_type takes resource types")
	}
	return slices.Contains(types, typ) != p.Not, nil
}

// hasRows reports whether x has a row of param in the table of typ.
func hasRows(x *Index, typ Type, param string) (bool, error) {
	found := false
	err := eachRow(x, typ, param, -1, func(any, int) (bool, error) {
		found = true
		return true, nil
	})
	return found, err
}

// anyRow reports whether some row of p's parameter (in group, when it is
// not negative) satisfies p's value test.
func anyRow(p Predicate, x *Index, group int) (bool, error) {
	typ, param := p.Type, p.Param
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		// :identifier runs on the token rows of "<param>:identifier".
		typ, param = TypeToken, IdentifierParam(p.Param)
	}
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Chain != nil {
		return false, fmt.Errorf("chain: %w", ErrNotEvaluable)
	}
	found := false
	err := eachRow(x, typ, param, group, func(row any, _ int) (bool, error) {
		ok, err := matchRow(p, row)
		found = ok
		return ok, err
	})
	return found, err
}

// eachRow calls f with each row of param in the table of typ (and group,
// when not negative) until f returns true or an error.
func eachRow(x *Index, typ Type, param string, group int, f func(row any, group int) (bool, error)) error {
	if x == nil {
		return nil
	}
	switch typ {
	case TypeString:
		return scanRows(x.Strings, param, group, func(r *StringRow) (string, int) { return r.Param, r.Group }, f)
	case TypeToken:
		return scanRows(x.Tokens, param, group, func(r *TokenRow) (string, int) { return r.Param, r.Group }, f)
	case TypeDate:
		return scanRows(x.Dates, param, group, func(r *DateRow) (string, int) { return r.Param, r.Group }, f)
	case TypeReference:
		return scanRows(x.References, param, group, func(r *ReferenceRow) (string, int) { return r.Param, r.Group }, f)
	case TypeQuantity:
		return scanRows(x.Quantities, param, group, func(r *QuantityRow) (string, int) { return r.Param, r.Group }, f)
	case TypeNumber:
		return scanRows(x.Numbers, param, group, func(r *NumberRow) (string, int) { return r.Param, r.Group }, f)
	case TypeURI:
		return scanRows(x.URIs, param, group, func(r *URIRow) (string, int) { return r.Param, r.Group }, f)
	}
	return fmt.Errorf("parameter type %q cannot be searched", typ)
}

func scanRows[R any](rows []R, param string, group int, key func(*R) (string, int), f func(row any, group int) (bool, error)) error {
	for i := range rows {
		r := &rows[i]
		p, g := key(r)
		if p != param || (group >= 0 && g != group) {
			continue
		}
		if stop, err := f(r, g); stop || err != nil {
			return err
		}
	}
	return nil
}

// evalComposite is true when one element (group) has a row satisfying
// each component.
func evalComposite(cs []Predicate, x *Index) (bool, error) {
	for i, c := range cs {
		if !plainValue(c) {
			return false, fmt.Errorf("composite component %d (%s) must be a plain value test", i, c.Param)
		}
	}
	var groups []int
	err := eachRow(x, cs[0].Type, cs[0].Param, -1, func(row any, g int) (bool, error) {
		ok, err := matchRow(cs[0], row)
		if ok {
			groups = append(groups, g)
		}
		return false, err
	})
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		all := true
		for _, c := range cs[1:] {
			ok, err := anyRow(c, x, g)
			if err != nil {
				return false, err
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
	return false, nil
}

// matchRow is the value test of p on one row of its table.
func matchRow(p Predicate, row any) (bool, error) {
	if p.Type == TypeReference && p.Reference != nil && p.Reference.Identifier != nil {
		return matchToken(p.Reference.Identifier, row.(*TokenRow)), nil
	}
	switch r := row.(type) {
	case *StringRow:
		if p.String != nil {
			return matchString(p.String, r)
		}
	case *TokenRow:
		if p.Token != nil {
			return matchToken(p.Token, r), nil
		}
	case *DateRow:
		if m := p.Date; m != nil {
			return ranges(m.Prefix, r.Low, r.High, m.Low, m.High, overlap)
		}
	case *NumberRow:
		if m := p.Number; m != nil {
			return ranges(m.Prefix, r.Low, r.High, m.Low, m.High, near(r.Value, m.Value))
		}
	case *QuantityRow:
		if p.Quantity != nil {
			return matchQuantity(p.Quantity, r)
		}
	case *ReferenceRow:
		if p.Reference != nil {
			return matchReference(p.Reference, r), nil
		}
	case *URIRow:
		if p.URI != nil {
			return matchURI(p.URI, r), nil
		}
	}
	return false, errNoValue
}

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

func matchString(m *StringMatch, r *StringRow) (bool, error) {
	switch m.Mode {
	case StringStartsWith:
		return strings.HasPrefix(Truncate(r.Norm, MaxNorm), Truncate(m.Value, MaxNorm)), nil
	case StringExact:
		return r.Exact == m.Value, nil
	case StringContains:
		return strings.Contains(Truncate(r.Norm, MaxNorm), m.Value), nil
	}
	return false, fmt.Errorf("unknown string mode %d", m.Mode)
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

func matchQuantity(m *QuantityMatch, r *QuantityRow) (bool, error) {
	lo, hi, val := r.Low, r.High, r.Value
	switch {
	case m.Canonical:
		// Canonical rows have a value, not a precision range.
		if r.CanonCode == "" || (m.Code != "" && r.CanonCode != m.Code) {
			return false, nil
		}
		lo, hi, val = r.CanonValue, r.CanonValue, r.CanonValue
	case m.System != "":
		if r.System != m.System || (m.Code != "" && r.Code != m.Code) {
			return false, nil
		}
	case m.Code != "":
		// value||unit: the code or the unit as written.
		if r.Code != m.Code && r.Unit != m.Code {
			return false, nil
		}
	}
	return ranges(m.Prefix, lo, hi, m.Low, m.High, near(val, m.Value))
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
		// The row is a prefix of the value.
		return r.URI != "" && strings.HasPrefix(m.Value, r.URI)
	}
	return r.URI == m.Value
}

// overlap is ap for dates: the ranges overlap.
func overlap(lo, hi, sLo, sHi int64) bool { return lo <= sHi && hi >= sLo }

// near is ap for numbers and quantities: the row's value is within 10% of
// the searched value v, or within the search range when that is wider.
func near(val, v float64) func(lo, hi, sLo, sHi float64) bool {
	return func(_, _, sLo, sHi float64) bool {
		d := math.Abs(v) / 10
		return val >= min(sLo, v-d) && val <= max(sHi, v+d)
	}
}

// ranges is the FHIR prefix test between a row range [lo, hi] and the
// search range [sLo, sHi], both inclusive, exactly as the stores write it
// in SQL (see fhir/store/sqlq); ap is the test of the ap prefix. Dates
// compare as int64 milliseconds, numbers and quantities as float64.
func ranges[T int64 | float64](pre Prefix, lo, hi, sLo, sHi T, ap func(lo, hi, sLo, sHi T) bool) (bool, error) {
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
		return ap(lo, hi, sLo, sHi), nil
	}
	return false, fmt.Errorf("unknown prefix %q", pre)
}

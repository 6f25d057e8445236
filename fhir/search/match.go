package search

import (
	"errors"
	"slices"
)

// ErrNeedsStore is returned (wrapped) by Matches for predicates that
// depend on other resources (chains and _has): only a store search can
// evaluate them. It is ErrNotEvaluable.
var ErrNeedsStore = ErrNotEvaluable

// Matches reports whether t matches q: t's type is one of q.Types (any,
// when empty) and t satisfies every clause of q.Where, evaluated by Eval
// with the semantics of the stores' SQL search. Chains and _has return
// ErrNeedsStore. Paging, sorting, totals and includes do not affect
// matching.
func Matches(q *Query, t *Target) (bool, error) {
	if len(q.Types) > 0 && !slices.Contains(q.Types, t.Type) {
		return false, nil
	}
	return Eval(q.Where, *t)
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

// ErrNoValue: a predicate carries no value of its type.
var ErrNoValue = errors.New("the predicate has no value of its type")

package fhir

import (
	"context"

	"github.com/telefhir/telefhir/fhir/search"
)

// Action is what a caller does with resources, in the terms of SMART v2
// scopes (c, r, u, d, s). Each interaction needs one or more:
//
//	read, vread, instance history          ActionRead
//	search (type, system, compartment),
//	type and system history, $everything,
//	the criteria of conditional interactions,
//	chains and _has (on the types they reach)   ActionSearch
//	create, update or conditional update
//	that creates                           ActionCreate
//	update, patch                          ActionUpdate
//	delete, conditional delete             ActionDelete
//
// _include and _revinclude keep a resource the caller may read or search.
type Action uint8

// The actions.
const (
	ActionCreate Action = iota + 1
	ActionRead
	ActionUpdate
	ActionDelete
	ActionSearch
)

func (a Action) String() string {
	switch a {
	case ActionCreate:
		return "create"
	case ActionRead:
		return "read"
	case ActionUpdate:
		return "update"
	case ActionDelete:
		return "delete"
	case ActionSearch:
		return "search"
	}
	return "unknown action"
}

// Authorizer decides what the caller of a request may do; the Service
// consults it at the start of every interaction and applies the Permit it
// returns to everything the interaction reads or writes. smart/access
// implements it for SMART access tokens.
type Authorizer interface {
	// Permit returns which resources of type typ the caller on ctx may act
	// on with a. It returns an *outcome.Error of KindUnauthorized when ctx
	// carries no caller (or an expired one), and a denying Permit, not an
	// error, when the caller may not act on typ at all.
	Permit(ctx context.Context, typ string, a Action) (Permit, error)
}

// Permit says which resources of one type an action may touch: all of
// them, those satisfying every clause of at least one of Any, or none.
//
// The clauses are search clauses of that type (a compartment clause such
// as search.CompartmentClause gives, the clauses of a granular filter):
// searches add them to the query, so that paging and totals count only
// what the caller may see, and single resources are tested against them
// with search.Eval. They must therefore be decidable on one resource's
// index (search.Evaluable): no chains and no _has.
type Permit struct {
	All bool
	Any [][]search.Clause
}

// Denied reports whether p lets no resource through.
func (p Permit) Denied() bool { return !p.All && len(p.Any) == 0 }

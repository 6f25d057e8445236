package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// guard applies the Service's Authorizer within one interaction, keeping
// the permits it asked for. A nil guard (no Authorizer: enforcement is
// off) permits everything.
type guard struct {
	s       *Service
	permits map[permitKey]*permit
}

type permitKey struct {
	typ string
	a   Action
}

// permit is a Permit of one type and action, with what applying it needs
// worked out once.
type permit struct {
	Permit
	typ string
	a   Action
	// cnf is the permit as one conjunction of clauses (for queries);
	// cnfErr says why it could not be built.
	cnf    []search.Clause
	cnfErr error
	// tested are all the clauses of Any, which ExtractJSONFor indexes.
	tested []search.Clause
}

var permitAll = &permit{Permit: Permit{All: true}}

// MaxPermitClauses bounds the clauses a permit with several granular
// filters becomes in a query; scopes that would need more are refused.
const MaxPermitClauses = 64

func (s *Service) guard() *guard {
	if s.Authorizer == nil {
		return nil
	}
	return &guard{s: s, permits: map[permitKey]*permit{}}
}

// permit returns the caller's permit for a on typ.
func (g *guard) permit(ctx context.Context, typ string, a Action) (*permit, error) {
	if g == nil {
		return permitAll, nil
	}
	k := permitKey{typ, a}
	if p, ok := g.permits[k]; ok {
		return p, nil
	}
	pm, err := g.s.Authorizer.Permit(ctx, typ, a)
	if err != nil {
		var oe *outcome.Error
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, outcome.Internal(fmt.Errorf("authorizer: %w", err))
	}
	p := &permit{Permit: pm, typ: typ, a: a}
	if !p.All && len(p.Any) > 0 {
		if g.s.Registry == nil {
			return nil, outcome.Internal(errors.New("restricted access needs the search registry"))
		}
		for _, alt := range p.Any {
			p.tested = append(p.tested, alt...)
		}
		if err := search.Evaluable(p.tested); err != nil {
			return nil, outcome.Internal(fmt.Errorf("authorizer: permit of %s %s: %w", a, typ, err))
		}
		p.cnf, p.cnfErr = conjunction(p.Any)
	}
	g.permits[k] = p
	return p, nil
}

// require returns the permit for a on typ, or a 403 when it denies
// everything.
func (g *guard) require(ctx context.Context, typ string, a Action) (*permit, error) {
	p, err := g.permit(ctx, typ, a)
	if err != nil {
		return nil, err
	}
	if p.Denied() {
		return nil, forbidden(typ, a)
	}
	return p, nil
}

// requireAny returns a 403 unless the caller may do one of as on typ.
func (g *guard) requireAny(ctx context.Context, typ string, as ...Action) error {
	for _, a := range as {
		p, err := g.permit(ctx, typ, a)
		if err != nil {
			return err
		}
		if !p.Denied() {
			return nil
		}
	}
	return forbidden(typ, as[0])
}

// requireAll returns a 403 unless the caller may do each of as on typ.
func (g *guard) requireAll(ctx context.Context, typ string, as ...Action) error {
	for _, a := range as {
		if _, err := g.require(ctx, typ, a); err != nil {
			return err
		}
	}
	return nil
}

func forbidden(typ string, a Action) error {
	return outcome.New(outcome.KindForbidden, "This access token does not permit %s on %s resources", a, typ)
}

// visible reports whether the permit lets r through, testing r.Index
// when it has one (a version about to be written) and otherwise the rows
// ExtractJSONFor takes from its body. A delete marker is visible when the
// version it deleted was.
func (g *guard) visible(ctx context.Context, p *permit, r store.Resource) (bool, error) {
	switch {
	case p.All:
		return true, nil
	case p.Denied():
		return false, nil
	case r.Deleted:
		if r.VersionID <= 1 {
			return false, nil
		}
		prev, err := g.s.Store.VRead(ctx, r.Type, r.ID, r.VersionID-1)
		if err != nil {
			return false, storeError(err, r.Type, r.ID)
		}
		if prev.Deleted {
			return false, nil
		}
		return g.visible(ctx, p, prev)
	}
	idx := r.Index
	if idx == nil {
		var err error
		if idx, err = g.s.Registry.ExtractJSONFor(r.Type, r.Body, p.tested); err != nil {
			return false, outcome.Internal(fmt.Errorf("indexing %s/%s for access control: %w", r.Type, r.ID, err))
		}
	}
	t := search.Target{Type: r.Type, ID: r.ID, LastUpdated: r.LastUpdated, Index: idx}
	for _, alt := range p.Any {
		ok, err := search.Eval(alt, t)
		if err != nil {
			return false, outcome.Internal(fmt.Errorf("access control on %s/%s: %w", r.Type, r.ID, err))
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// reveal returns notFound unless the caller may read r: out-of-scope
// resources are answered exactly as resources that do not exist, so that
// their existence is not revealed.
func (g *guard) reveal(ctx context.Context, p *permit, r store.Resource, notFound error) error {
	ok, err := g.visible(ctx, p, r)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	return nil
}

// mayChange checks that the caller may do a (update, patch or delete) to
// cur, the current version: a 403 when it may read cur but not change
// it, a 404 when it may not even see it. Creates have no current version
// to check.
func (g *guard) mayChange(ctx context.Context, a Action, cur store.Resource) error {
	if g == nil || a == ActionCreate {
		return nil
	}
	p, err := g.require(ctx, cur.Type, a)
	if err != nil {
		return err
	}
	ok, err := g.visible(ctx, p, cur)
	if err != nil || ok {
		return err
	}
	rp, err := g.permit(ctx, cur.Type, ActionRead)
	if err != nil {
		return err
	}
	if seen, err := g.visible(ctx, rp, cur); err != nil {
		return err
	} else if !seen {
		return outcome.New(outcome.KindNotFound, "Resource %s/%s is not known", cur.Type, cur.ID)
	}
	return outcome.New(outcome.KindForbidden, "This access token does not permit %s on %s/%s", a, cur.Type, cur.ID)
}

// admit checks that r, a version about to be written by a, stays within
// what the caller may write: a patient's token cannot create a resource
// in another patient's compartment, nor move one out of its own.
func (g *guard) admit(ctx context.Context, a Action, r store.Resource) error {
	if g == nil {
		return nil
	}
	p, err := g.require(ctx, r.Type, a)
	if err != nil {
		return err
	}
	ok, err := g.visible(ctx, p, r)
	if err != nil || ok {
		return err
	}
	e := outcome.New(outcome.KindForbidden, "This access token does not permit %s of this %s: the resource must satisfy %s", a, r.Type, describePermit(p))
	e.Issues[0].Expression = g.expressions(r.Type, p)
	return e
}

// describePermit renders what a restricted permit demands, for 403s:
// "subject or performer = Patient/123, and category = http://...|vital-signs".
// It names only the caller's own context and scopes.
func describePermit(p *permit) string {
	alts := make([]string, 0, len(p.Any))
	for _, alt := range p.Any {
		cs := make([]string, 0, len(alt))
		for _, c := range alt {
			cs = append(cs, describeClause(c))
		}
		alts = append(alts, strings.Join(cs, ", and "))
	}
	return strings.Join(alts, "; or ")
}

func describeClause(c search.Clause) string {
	// Predicates with the same value share it: "subject or performer = Patient/1".
	var out []string
	var params []string
	last := ""
	flush := func() {
		if len(params) > 0 {
			out = append(out, strings.Join(params, " or ")+" = "+last)
		}
		params = nil
	}
	for _, p := range c.Or {
		v := describeValue(p)
		if v != last {
			flush()
			last = v
		}
		params = append(params, p.Param)
	}
	flush()
	return strings.Join(out, ", or ")
}

func describeValue(p search.Predicate) string {
	switch {
	case p.Missing != nil:
		return fmt.Sprintf("(missing: %v)", *p.Missing)
	case p.Reference != nil && p.Reference.ID != "":
		return strings.TrimPrefix(p.Reference.Type+"/"+p.Reference.ID, "/")
	case p.Reference != nil && p.Reference.URL != "":
		return p.Reference.URL
	case p.Token != nil && p.Token.Code != "":
		if p.Token.SystemSet {
			return p.Token.System + "|" + p.Token.Code
		}
		return p.Token.Code
	case p.Token != nil && len(p.Token.Codes) > 0:
		return strings.Join(p.Token.Codes, ",")
	case p.String != nil:
		return p.String.Value
	case p.URI != nil:
		return p.URI.Value
	}
	return "the granted value"
}

// expressions are the FHIRPath expressions of the parameters a permit
// tests, as the location of a write it refuses.
func (g *guard) expressions(typ string, p *permit) []string {
	var out []string
	for _, c := range p.tested {
		for _, pr := range c.Or {
			if prm, ok := g.s.Registry.Lookup(typ, pr.Param); ok && prm.Expression != "" && !slices.Contains(out, prm.Expression) {
				out = append(out, prm.Expression)
			}
		}
	}
	return out
}

// conjunction turns alternatives (a disjunction of conjunctions) into
// one conjunction of clauses, as queries need. Clauses every alternative
// shares (a compartment) are kept once; the rest are distributed:
// (a ∧ b) ∨ c = (a ∨ c) ∧ (b ∨ c).
func conjunction(any [][]search.Clause) ([]search.Clause, error) {
	if len(any) == 1 {
		return any[0], nil
	}
	keys := make([][]string, len(any))
	for i, alt := range any {
		for _, c := range alt {
			keys[i] = append(keys[i], clauseKey(c))
		}
	}
	var common []search.Clause
	var commonKeys []string
	for j, k := range keys[0] {
		shared := true
		for _, ks := range keys[1:] {
			if !slices.Contains(ks, k) {
				shared = false
				break
			}
		}
		if shared && !slices.Contains(commonKeys, k) {
			common = append(common, any[0][j])
			commonKeys = append(commonKeys, k)
		}
	}
	rest := make([][]search.Clause, len(any))
	for i, alt := range any {
		for j, c := range alt {
			if !slices.Contains(commonKeys, keys[i][j]) {
				rest[i] = append(rest[i], c)
			}
		}
		if len(rest[i]) == 0 {
			return common, nil // this alternative needs only what all share
		}
	}
	product := [][]search.Predicate{nil}
	for _, alt := range rest {
		if len(product)*len(alt) > MaxPermitClauses {
			return nil, outcome.New(outcome.KindForbidden, "The granular filters of this access token's scopes combine into more than %d conditions, too many to enforce; ask for fewer scopes", MaxPermitClauses)
		}
		next := make([][]search.Predicate, 0, len(product)*len(alt))
		for _, ors := range product {
			for _, c := range alt {
				next = append(next, append(slices.Clip(ors), c.Or...))
			}
		}
		product = next
	}
	out := common
	for _, ors := range product {
		out = append(out, search.Clause{Or: ors})
	}
	return out, nil
}

func clauseKey(c search.Clause) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func typeNot(types []string) search.Predicate {
	return search.Predicate{Param: search.ParamType, Type: search.TypeToken, Not: true, Token: &search.TokenMatch{Codes: types}}
}

// restrict narrows q to what the caller may see with a: types it may not
// act on are refused (when q names them) or left out (when q searches
// every type), the permits' clauses are added to the query, per type, and
// every chain and _has is restricted to what the caller may search of
// the types it reaches, or refused. ok is false when no type is left (q
// must then not run: no types means all).
func (g *guard) restrict(ctx context.Context, q *search.Query, a Action) (ok bool, err error) {
	if g == nil {
		return true, nil
	}
	for i := range q.Where {
		for j := range q.Where[i].Or {
			if err := g.restrictPredicate(ctx, &q.Where[i].Or[j]); err != nil {
				return false, err
			}
		}
	}
	return g.restrictTypes(ctx, q, a)
}

// restrictRecord is restrict for a patient's record ($everything): the
// types the caller may not search are left out, not refused.
func (g *guard) restrictRecord(ctx context.Context, q *search.Query) (bool, error) {
	if g == nil {
		return true, nil
	}
	types := q.Types[:0:0]
	for _, t := range q.Types {
		p, err := g.permit(ctx, t, ActionSearch)
		if err != nil {
			return false, err
		}
		if !p.Denied() {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return false, nil
	}
	q.Types = types
	return g.restrict(ctx, q, ActionSearch)
}

// restrictPredicate restricts the chains and _has of one predicate.
func (g *guard) restrictPredicate(ctx context.Context, p *search.Predicate) error {
	switch {
	case p.Has != nil:
		h := *p.Has
		for i := range h.Where {
			for j := range h.Where[i].Or {
				if err := g.restrictPredicate(ctx, &h.Where[i].Or[j]); err != nil {
					return err
				}
			}
		}
		pm, err := g.require(ctx, h.Type, ActionSearch)
		if outcome.Is(err, outcome.KindForbidden) {
			return chainForbidden("_has", h.Type)
		} else if err != nil {
			return err
		}
		if !pm.All {
			if pm.cnfErr != nil {
				return pm.cnfErr
			}
			h.Where = append(slices.Clip(h.Where), pm.cnf...)
		}
		p.Has = &h
	case p.Reference != nil && p.Reference.Chain != nil:
		chain := *p.Reference.Chain
		if len(chain.Types) == 0 && p.Reference.Type != "" {
			chain.Types = []string{p.Reference.Type}
		}
		ok, err := g.restrict(ctx, &chain, ActionSearch)
		if outcome.Is(err, outcome.KindForbidden) && len(chain.Types) > 0 {
			return chainForbidden("the chain", strings.Join(chain.Types, " or "))
		} else if err != nil {
			return err
		}
		if !ok {
			return chainForbidden("the chain", "any type")
		}
		ref := *p.Reference
		ref.Chain = &chain
		p.Reference = &ref
	}
	return nil
}

// chainForbidden refuses a chain or _has through resources the caller may
// not search: answering it would reveal what those resources hold.
func chainForbidden(what, types string) error {
	return outcome.New(outcome.KindForbidden, "This access token does not permit searching %s resources, which %s searches through", types, what)
}

// restrictTypes applies the permits of q's types (all types when q names
// none).
func (g *guard) restrictTypes(ctx context.Context, q *search.Query, a Action) (bool, error) {
	named := len(q.Types) > 0
	types := q.Types
	if !named {
		types = g.s.Registry.Types()
	}
	var kept, dropped []string
	var restricted []*permit
	for _, t := range types {
		p, err := g.permit(ctx, t, a)
		if err != nil {
			return false, err
		}
		switch {
		case p.Denied() && named:
			return false, forbidden(t, a)
		case p.Denied():
			dropped = append(dropped, t)
			continue
		case !p.All:
			if p.cnfErr != nil {
				return false, p.cnfErr
			}
			restricted = append(restricted, p)
		}
		kept = append(kept, t)
	}
	switch {
	case len(kept) == 0:
		return false, nil
	case !named && len(dropped) > 0 && len(dropped) < len(kept):
		// "Every type but AuditEvent" is shorter as a clause than a list.
		q.Where = append(q.Where, search.Clause{Or: []search.Predicate{typeNot(dropped)}})
	case !named && len(dropped) > 0:
		q.Types = kept
	}
	if len(kept) == 1 && len(restricted) == 1 {
		q.Where = append(q.Where, restricted[0].cnf...)
		return true, nil
	}
	// Several types: each clause holds for the types whose permit has it,
	// and is true of every other type. Types sharing a clause share it.
	var order []string
	groups := map[string]*struct {
		c     search.Clause
		types []string
	}{}
	for _, p := range restricted {
		for _, c := range p.cnf {
			k := clauseKey(c)
			if groups[k] == nil {
				groups[k] = &struct {
					c     search.Clause
					types []string
				}{c: c}
				order = append(order, k)
			}
			groups[k].types = append(groups[k].types, p.typ)
		}
	}
	for _, k := range order {
		gr := groups[k]
		q.Where = append(q.Where, search.Clause{Or: append([]search.Predicate{typeNot(gr.types)}, gr.c.Or...)})
	}
	return true, nil
}

// keepIncluded drops the resources _include and _revinclude added that
// the caller may neither read nor search; the matches themselves were
// restricted by the query.
func (g *guard) keepIncluded(ctx context.Context, ms []search.Match) ([]search.Match, error) {
	if g == nil {
		return ms, nil
	}
	out := ms[:0]
	for _, m := range ms {
		if m.Included {
			ok, err := g.visibleByAny(ctx, matchResource(m), ActionRead, ActionSearch)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// visibleByAny reports whether one of as lets r through.
func (g *guard) visibleByAny(ctx context.Context, r store.Resource, as ...Action) (bool, error) {
	for _, a := range as {
		p, err := g.permit(ctx, r.Type, a)
		if err != nil {
			return false, err
		}
		if ok, err := g.visible(ctx, p, r); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// maxHistoryRounds bounds the store pages one history page may read while
// it skips versions the caller may not see; a page that runs out of rounds
// is short and links to the next.
const maxHistoryRounds = 10

// history is Store.History without the versions the caller may not see:
// versions of types it may not read (instance level) or search (type and
// system level), versions outside its permits, and delete markers of
// versions it could not see. It reads further store pages to fill the
// page, at most maxHistoryRounds of them, so Next stays a plain cursor.
func (s *Service) history(ctx context.Context, g *guard, rd store.Reader, q store.HistoryQuery) (store.HistoryPage, error) {
	a := ActionSearch
	if q.ID != "" {
		a = ActionRead
	}
	if g != nil && q.Type != "" {
		p, err := g.require(ctx, q.Type, a)
		if err != nil {
			return store.HistoryPage{}, err
		}
		if p.All {
			g = nil
		}
	}
	if g != nil && q.Type == "" {
		if err := g.requireSome(ctx, a); err != nil {
			return store.HistoryPage{}, err
		}
	}
	if g == nil {
		page, err := rd.History(ctx, q)
		if err != nil {
			return store.HistoryPage{}, outcome.Internal(err)
		}
		return page, nil
	}
	var out store.HistoryPage
	for round := 1; ; round++ {
		page, err := rd.History(ctx, q)
		if err != nil {
			return store.HistoryPage{}, outcome.Internal(err)
		}
		for i, e := range page.Entries {
			p, err := g.permit(ctx, e.Type, a)
			if err != nil {
				return store.HistoryPage{}, err
			}
			ok, err := g.visible(ctx, p, e.Resource)
			if err != nil {
				return store.HistoryPage{}, err
			}
			if !ok {
				continue
			}
			out.Entries = append(out.Entries, e)
			if len(out.Entries) == q.Count {
				out.Next = 0
				if i < len(page.Entries)-1 || page.Next != 0 {
					out.Next = e.Seq
				}
				return out, nil
			}
		}
		out.Next = page.Next
		if page.Next == 0 || round == maxHistoryRounds {
			return out, nil
		}
		q.Before = page.Next
	}
}

// requireSome returns a 403 unless the caller may do a on some type.
func (g *guard) requireSome(ctx context.Context, a Action) error {
	for _, t := range resource.Types() {
		p, err := g.permit(ctx, t, a)
		if err != nil {
			return err
		}
		if !p.Denied() {
			return nil
		}
	}
	return outcome.New(outcome.KindForbidden, "This access token does not permit %s on any resources", a)
}

// Visible reports whether the caller on ctx may see r through at least one
// of as (read, search): what components acting on a caller's behalf
// outside a request, such as subscription delivery, check before they
// pass a resource on. With no Authorizer every resource is visible.
func (s *Service) Visible(ctx context.Context, r store.Resource, as ...Action) (bool, error) {
	g := s.guard()
	if g == nil {
		return true, nil
	}
	return g.visibleByAny(ctx, r, as...)
}

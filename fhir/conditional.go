package fhir

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// MaxConditionalDelete bounds how many resources one conditional delete
// may remove when Service.ConditionalDeleteMultiple allows more than one.
const MaxConditionalDelete = 100

// conditionalMatches runs the search criteria of a conditional interaction
// inside tx, after locking the criteria so that concurrent conditional
// interactions with the same criteria run one after the other (the second
// sees what the first committed). Unknown parameters are errors: ignoring
// one would widen the match. At most limit matches are returned.
func (s *Service) conditionalMatches(ctx context.Context, tx store.Tx, typ string, criteria url.Values, limit int) ([]search.Match, error) {
	if s.Registry == nil {
		return nil, outcome.New(outcome.KindNotSupported, "conditional interactions need search, which is not enabled on this server")
	}
	if len(criteria) == 0 {
		return nil, outcome.New(outcome.KindInvalid, "a conditional interaction needs search criteria")
	}
	for k := range criteria {
		if strings.HasPrefix(k, "_") && (k == "_count" || k == "_sort" || k == "_include" || k == "_revinclude" || k == "_summary" || k == "_elements" || k == "_total") {
			return nil, outcome.New(outcome.KindInvalid, "%s is a result parameter and cannot be a condition", k)
		}
	}
	q, _, err := s.Registry.Parse(typ, criteria, search.ParseOptions{Strict: true, DefaultCount: limit, MaxCount: limit})
	if err != nil {
		return nil, err
	}
	q.Count, q.Total = limit, search.TotalNone
	if ok, err := s.guard().restrict(ctx, &q, ActionSearch); err != nil {
		return nil, err
	} else if !ok {
		return nil, forbidden(typ, ActionSearch)
	}
	if err := tx.Lock(ctx, "conditional:"+typ+"?"+canonicalQuery(criteria)); err != nil {
		return nil, err
	}
	page, err := tx.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	return page.Matches, nil
}

// canonicalQuery is criteria with its names and values in a fixed order,
// so that the same conditions written differently take the same lock.
func canonicalQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vals := append([]string(nil), v[k]...)
		sort.Strings(vals)
		for _, x := range vals {
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(x) + "&")
		}
	}
	return b.String()
}

// CreateIfNoneExist is a conditional create (If-None-Exist): it creates
// body only when no resource of typ matches criteria. When exactly one
// does, it returns that resource unchanged (Result.Created false); when
// several do, 412.
func (s *Service) CreateIfNoneExist(ctx context.Context, typ string, body []byte, criteria url.Values) (Result, error) {
	if err := CheckType(typ); err != nil {
		return Result{}, err
	}
	if err := s.guard().requireAll(ctx, typ, ActionCreate, ActionSearch); err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(body, typ)
	if err != nil {
		return Result{}, err
	}
	var out Result
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		match, found, err := s.existingMatch(ctx, tx, typ, criteria)
		if err != nil || found {
			out = Result{Resource: match}
			return err
		}
		out, err = s.createIn(ctx, tx, p, resource.NewID())
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, "")
	}
	return out, nil
}

// existingMatch is the search of a conditional create inside tx: the one
// resource of typ matching criteria (found), none, or a 412 for several.
func (s *Service) existingMatch(ctx context.Context, tx store.Tx, typ string, criteria url.Values) (store.Resource, bool, error) {
	matches, err := s.conditionalMatches(ctx, tx, typ, criteria, 2)
	switch {
	case err != nil:
		return store.Resource{}, false, err
	case len(matches) == 1:
		return matchResource(matches[0]), true, nil
	case len(matches) > 1:
		return store.Resource{}, false, outcome.New(outcome.KindPreconditionFailed, "If-None-Exist matches more than one %s; the create was not performed", typ)
	}
	return store.Resource{}, false, nil
}

// ConditionalUpdate updates the one resource of typ matching criteria, or
// creates body when none does; several matches are a 412. An id in body
// must agree with the match.
func (s *Service) ConditionalUpdate(ctx context.Context, typ string, body []byte, criteria url.Values, pre Preconditions) (Result, error) {
	if err := CheckType(typ); err != nil {
		return Result{}, err
	}
	g := s.guard()
	if err := g.requireAll(ctx, typ, ActionSearch); err != nil {
		return Result{}, err
	}
	if err := g.requireAny(ctx, typ, ActionUpdate, ActionCreate); err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(body, typ)
	if err != nil {
		return Result{}, err
	}
	var out Result
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		id, method, err := s.updateTarget(ctx, tx, p, criteria)
		if err != nil {
			return err
		}
		out, err = s.updateIn(ctx, tx, p, id, pre, method)
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, "")
	}
	return out, nil
}

// updateTarget is the search of a conditional update inside tx: the id to
// update (the one match, or for none the id in p or a new one) and the
// method to record (POST when the server chose the id).
func (s *Service) updateTarget(ctx context.Context, tx store.Tx, p *resource.Parsed, criteria url.Values) (id, method string, err error) {
	typ := p.Type
	matches, err := s.conditionalMatches(ctx, tx, typ, criteria, 2)
	if err != nil {
		return "", "", err
	}
	switch len(matches) {
	case 0:
		if p.ID == "" {
			return resource.NewID(), "POST", nil
		}
		return p.ID, "PUT", nil
	case 1:
		id = matches[0].ID
		if p.ID != "" && p.ID != id {
			return "", "", outcome.Invalid(typ+".id", "The resource id %q does not match the resource the criteria found (%s/%s)", p.ID, typ, id)
		}
		return id, "PUT", nil
	}
	return "", "", outcome.New(outcome.KindPreconditionFailed, "The criteria match more than one %s; the update was not performed", typ)
}

// ConditionalDelete deletes the resources of typ matching criteria: none
// is a success with nothing done, one is deleted, several are deleted only
// when ConditionalDeleteMultiple is set (at most MaxConditionalDelete),
// otherwise 412. It returns the delete markers written.
func (s *Service) ConditionalDelete(ctx context.Context, typ string, criteria url.Values) ([]store.Resource, error) {
	if err := CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.guard().requireAll(ctx, typ, ActionDelete, ActionSearch); err != nil {
		return nil, err
	}
	var deleted []store.Resource
	err := s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		deleted, err = s.conditionalDeleteIn(ctx, tx, typ, criteria)
		return err
	})
	if err != nil {
		return nil, writeError(err, typ, "")
	}
	return deleted, nil
}

// conditionalDeleteIn is the conditional delete interaction inside tx.
func (s *Service) conditionalDeleteIn(ctx context.Context, tx store.Tx, typ string, criteria url.Values) ([]store.Resource, error) {
	limit := 2
	if s.ConditionalDeleteMultiple {
		limit = MaxConditionalDelete + 1
	}
	matches, err := s.conditionalMatches(ctx, tx, typ, criteria, limit)
	if err != nil {
		return nil, err
	}
	switch {
	case len(matches) > 1 && !s.ConditionalDeleteMultiple:
		return nil, outcome.New(outcome.KindPreconditionFailed, "The criteria match more than one %s and this server deletes only one at a time", typ)
	case len(matches) > MaxConditionalDelete:
		return nil, outcome.New(outcome.KindPreconditionFailed, "The criteria match more than %d %s resources; narrow them", MaxConditionalDelete, typ)
	}
	var deleted []store.Resource
	for _, m := range matches {
		cur, found, err := current(ctx, tx, typ, m.ID)
		if err != nil {
			return nil, err
		}
		if !found || cur.Deleted {
			continue
		}
		res, err := s.deleteVersion(ctx, tx, cur)
		if err != nil {
			return nil, err
		}
		deleted = append(deleted, res.Resource)
	}
	return deleted, nil
}

func matchResource(m search.Match) store.Resource {
	return store.Resource{Type: m.Type, ID: m.ID, VersionID: m.VersionID, LastUpdated: m.LastUpdated, Body: m.Body}
}

package fhir

import (
	"context"
	"errors"
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
	if _, err := s.guard().restrict(ctx, &q, ActionSearch); err != nil {
		return nil, err
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
	g := s.guard()
	if err := g.requireAll(ctx, typ, ActionCreate, ActionSearch); err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(body, typ)
	if err != nil {
		return Result{}, err
	}
	var out Result
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		out = Result{}
		matches, err := s.conditionalMatches(ctx, tx, typ, criteria, 2)
		if err != nil {
			return err
		}
		switch len(matches) {
		case 0:
			id := resource.NewID()
			out.Created = true
			if out.Resource, err = s.version(ctx, p.Raw, typ, id, store.Resource{}, "POST"); err != nil {
				return err
			}
			if err := g.admit(ctx, ActionCreate, out.Resource); err != nil {
				return err
			}
			return tx.Put(ctx, out.Resource)
		case 1:
			out.Resource = matchResource(matches[0])
			return nil
		}
		return outcome.New(outcome.KindPreconditionFailed, "If-None-Exist matches more than one %s; the create was not performed", typ)
	})
	if err != nil {
		return Result{}, writeError(err, typ, "")
	}
	return out, nil
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
		out = Result{}
		matches, err := s.conditionalMatches(ctx, tx, typ, criteria, 2)
		if err != nil {
			return err
		}
		var id string
		switch len(matches) {
		case 0:
			id = p.ID
			if id == "" {
				id = resource.NewID()
			}
		case 1:
			id = matches[0].ID
			if p.ID != "" && p.ID != id {
				return outcome.Invalid(typ+".id", "The resource id %q does not match the resource the criteria found (%s/%s)", p.ID, typ, id)
			}
		default:
			return outcome.New(outcome.KindPreconditionFailed, "The criteria match more than one %s; the update was not performed", typ)
		}
		cur, found, err := current(ctx, tx, typ, id)
		if err != nil {
			return err
		}
		if err := pre.check(cur, found, typ, id); err != nil {
			return err
		}
		out.Created = !found || cur.Deleted
		act := writeAction(out.Created)
		if err := g.mayChange(ctx, act, cur); err != nil {
			return err
		}
		method := "PUT"
		if !found && p.ID == "" {
			method = "POST"
		}
		if out.Resource, err = s.version(ctx, p.Raw, typ, id, cur, method); err != nil {
			return err
		}
		if err := g.admit(ctx, act, out.Resource); err != nil {
			return err
		}
		return tx.Put(ctx, out.Resource)
	})
	if err != nil {
		return Result{}, writeError(err, typ, "")
	}
	return out, nil
}

// ConditionalDelete deletes the resources of typ matching criteria: none
// is a success with nothing done, one is deleted, several are deleted only
// when ConditionalDeleteMultiple is set (at most MaxConditionalDelete),
// otherwise 412. It returns the delete markers written.
func (s *Service) ConditionalDelete(ctx context.Context, typ string, criteria url.Values) ([]store.Resource, error) {
	if err := CheckType(typ); err != nil {
		return nil, err
	}
	g := s.guard()
	if err := g.requireAll(ctx, typ, ActionDelete, ActionSearch); err != nil {
		return nil, err
	}
	var deleted []store.Resource
	err := s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		deleted = deleted[:0]
		limit := 2
		if s.ConditionalDeleteMultiple {
			limit = MaxConditionalDelete + 1
		}
		matches, err := s.conditionalMatches(ctx, tx, typ, criteria, limit)
		if err != nil {
			return err
		}
		switch {
		case len(matches) > 1 && !s.ConditionalDeleteMultiple:
			return outcome.New(outcome.KindPreconditionFailed, "The criteria match more than one %s and this server deletes only one at a time", typ)
		case len(matches) > MaxConditionalDelete:
			return outcome.New(outcome.KindPreconditionFailed, "The criteria match more than %d %s resources; narrow them", MaxConditionalDelete, typ)
		}
		for _, m := range matches {
			cur, found, err := current(ctx, tx, typ, m.ID)
			if err != nil {
				return err
			}
			if !found || cur.Deleted {
				continue
			}
			if err := g.mayChange(ctx, ActionDelete, cur); err != nil {
				return err
			}
			r := store.Resource{Type: typ, ID: m.ID, VersionID: cur.VersionID + 1, LastUpdated: s.nextTimestamp(cur.LastUpdated), Deleted: true, Method: "DELETE"}
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
			deleted = append(deleted, r)
		}
		return nil
	})
	if err != nil {
		var oe *outcome.Error
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, writeError(err, typ, "")
	}
	return deleted, nil
}

func matchResource(m search.Match) store.Resource {
	return store.Resource{Type: m.Type, ID: m.ID, VersionID: m.VersionID, LastUpdated: m.LastUpdated, Body: m.Body}
}

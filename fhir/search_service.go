package fhir

import (
	"context"
	"errors"
	"net/url"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// SearchRequest is one search: type level (Type set), system level (Type
// empty, _type in Params), or compartment (Compartment set).
type SearchRequest struct {
	Type   string
	Params url.Values
	// Compartment restricts the search to one compartment
	// (Patient/123/Observation).
	Compartment *Reference
	// Strict is Prefer: handling=strict: unknown parameters are errors.
	Strict bool
	// After continues a walk from a previous page's cursor.
	After *search.Cursor
	// DefaultCount and MaxCount bound the page size.
	DefaultCount, MaxCount int
}

// Reference names one resource.
type Reference struct{ Type, ID string }

// SearchResult is one page of a search.
type SearchResult struct {
	Page  search.Page
	Query search.Query
	// Issues are warnings about the request (ignored parameters, a lowered
	// _count) to report in the Bundle.
	Issues []outcome.Issue
}

// Search runs a search and returns one page.
func (s *Service) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	return s.searchIn(ctx, s.Store, req)
}

// searchIn is the search interaction on rd: the store, or an open
// transaction.
func (s *Service) searchIn(ctx context.Context, rd store.Reader, req SearchRequest) (SearchResult, error) {
	if s.Registry == nil {
		return SearchResult{}, outcome.New(outcome.KindNotSupported, "search is not enabled on this server")
	}
	if req.Type != "" {
		if err := CheckType(req.Type); err != nil {
			return SearchResult{}, err
		}
	}
	params := req.Params
	if params.Get("_summary") == "count" {
		// Only the total: no page, and an exact count.
		params = cloneValues(params)
		params.Set("_count", "0")
		params.Set("_total", "accurate")
	}
	q, issues, err := s.Registry.Parse(req.Type, params, search.ParseOptions{
		Strict: req.Strict, DefaultCount: req.DefaultCount, MaxCount: req.MaxCount,
	})
	if err != nil {
		return SearchResult{}, err
	}
	if c := req.Compartment; c != nil {
		if err := checkTypeID(c.Type, c.ID); err != nil {
			return SearchResult{}, err
		}
		clause, ok := s.Registry.CompartmentClause(c.Type, c.ID, req.Type)
		if !ok {
			return SearchResult{}, outcome.New(outcome.KindInvalid, "%s resources are not part of the %s compartment", req.Type, c.Type)
		}
		q.Where = append(q.Where, clause)
	}
	g := s.guard()
	if ok, err := g.restrict(ctx, &q, ActionSearch); err != nil {
		return SearchResult{}, err
	} else if !ok {
		return SearchResult{}, outcome.New(outcome.KindForbidden, "This access token does not permit searching any resources")
	}
	if req.After != nil && len(req.After.Values) != len(q.Sort) {
		return SearchResult{}, outcome.New(outcome.KindInvalid, "the paging token does not belong to this search (its sort differs); start again from the first page")
	}
	q.After = req.After
	page, err := rd.Search(ctx, q)
	if err != nil {
		var oe *outcome.Error
		if errors.As(err, &oe) {
			return SearchResult{}, oe
		}
		return SearchResult{}, outcome.Internal(err)
	}
	if page.Matches, err = g.keepIncluded(ctx, page.Matches); err != nil {
		return SearchResult{}, err
	}
	return SearchResult{Page: page, Query: q, Issues: issues}, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

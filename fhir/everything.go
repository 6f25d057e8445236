package fhir

import (
	"context"
	"net/url"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// EverythingRequest is Patient/[id]/$everything.
type EverythingRequest struct {
	ID string
	// Params may carry _count (the other parameters of the operation,
	// _since, _type, start and end, are refused as unsupported).
	Params                 url.Values
	After                  *search.Cursor
	DefaultCount, MaxCount int
}

// Everything returns one page of a patient's record: the Patient itself
// (first page only) and every current resource in its Patient
// compartment, i.e. that refers to it through one of the compartment's
// parameters.
func (s *Service) Everything(ctx context.Context, req EverythingRequest) (SearchResult, error) {
	return s.everythingIn(ctx, s.Store, req)
}

// everythingIn is $everything on rd: the store, or an open transaction.
func (s *Service) everythingIn(ctx context.Context, rd store.Reader, req EverythingRequest) (SearchResult, error) {
	if s.Registry == nil {
		return SearchResult{}, outcome.New(outcome.KindNotSupported, "$everything needs search, which is not enabled on this server")
	}
	for k := range req.Params {
		switch k {
		case "_count", "_format", "_pretty", "_cursor":
		default:
			return SearchResult{}, outcome.New(outcome.KindNotSupported, "$everything does not support the parameter %s", k)
		}
	}
	if err := CheckID(req.ID); err != nil {
		return SearchResult{}, err
	}
	patient, err := s.readIn(ctx, rd, "Patient", req.ID)
	if err != nil {
		return SearchResult{}, err
	}
	count := url.Values{}
	if c := req.Params.Get("_count"); c != "" {
		count.Set("_count", c)
	}
	q, issues, err := s.Registry.Parse("Patient", count, search.ParseOptions{Strict: true, DefaultCount: req.DefaultCount, MaxCount: req.MaxCount})
	if err != nil {
		return SearchResult{}, err
	}
	// One clause over every type of the compartment: a resource matches
	// when one of the compartment's reference parameters names the patient.
	var clause search.Clause
	seen := map[string]bool{}
	for _, typ := range s.Registry.Types() {
		c, ok := s.Registry.CompartmentClause("Patient", req.ID, typ)
		if !ok {
			continue
		}
		member := false
		for _, p := range c.Or {
			if p.Param == search.ParamID {
				continue // the Patient itself is added below, by type and id
			}
			member = true
			if !seen[p.Param] {
				seen[p.Param] = true
				clause.Or = append(clause.Or, p)
			}
		}
		if member {
			q.Types = append(q.Types, typ)
		}
	}
	q.Where = []search.Clause{clause}
	q.After = req.After
	if req.After != nil && len(req.After.Values) != 0 {
		return SearchResult{}, outcome.New(outcome.KindInvalid, "the paging token does not belong to this $everything")
	}
	// The record holds what the caller may search of each type.
	some, err := s.guard().restrictRecord(ctx, &q)
	if err != nil {
		return SearchResult{}, err
	}
	page := search.Page{Total: -1}
	if some {
		if page, err = rd.Search(ctx, q); err != nil {
			return SearchResult{}, outcome.Internal(err)
		}
	}
	if req.After == nil {
		page.Matches = append([]search.Match{patientMatch(patient)}, removeMatch(page.Matches, "Patient", req.ID)...)
	} else {
		page.Matches = removeMatch(page.Matches, "Patient", req.ID)
	}
	return SearchResult{Page: page, Query: q, Issues: issues}, nil
}

func patientMatch(r store.Resource) search.Match {
	return search.Match{Type: r.Type, ID: r.ID, VersionID: r.VersionID, LastUpdated: r.LastUpdated, Body: r.Body}
}

func removeMatch(ms []search.Match, typ, id string) []search.Match {
	out := ms[:0]
	for _, m := range ms {
		if m.Type != typ || m.ID != id {
			out = append(out, m)
		}
	}
	return out
}

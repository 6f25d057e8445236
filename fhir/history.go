package fhir

import (
	"net/url"
	"strconv"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store"
)

// CursorParam carries the keyset cursor of paging links.
const CursorParam = "_cursor"

// ParseHistoryParams reads the parameters of a history interaction
// (_count, _since, _at and the _cursor of its paging links) into a query
// of the given page sizes; the caller sets Type and ID.
func ParseHistoryParams(v url.Values, defaultCount, maxCount int) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Count: defaultCount}
	if s := v.Get("_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, outcome.New(outcome.KindInvalid, "_count must be a positive integer, not %q", s)
		}
		q.Count = min(n, maxCount)
	}
	if s := v.Get("_since"); s != "" {
		t, err := parseInstantParam(s)
		if err != nil {
			return q, outcome.New(outcome.KindInvalid, "_since must be a FHIR instant such as 2026-01-02T15:04:05Z, not %q", s)
		}
		q.Since = t
	}
	if s := v.Get("_at"); s != "" {
		t, err := parseInstantParam(s)
		if err != nil {
			return q, outcome.New(outcome.KindInvalid, "_at must be a FHIR dateTime such as 2026-01-02T15:04:05Z, not %q", s)
		}
		q.At = t
	}
	if s := v.Get(CursorParam); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, outcome.New(outcome.KindInvalid, "%s %q is not a paging cursor issued by this server", CursorParam, s)
		}
		q.Before = n
	}
	return q, nil
}

// parseInstantParam parses a FHIR dateTime as a point in time: full
// instants with a zone, or partial dates (YYYY, YYYY-MM, YYYY-MM-DD) meaning
// their first moment in UTC. A time without a zone is taken as UTC.
func parseInstantParam(s string) (time.Time, error) {
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"}
	var err error
	for _, l := range layouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

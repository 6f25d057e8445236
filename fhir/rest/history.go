package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store"
)

func (a *API) historySystem(c echo.Context) error {
	return a.history(c, "", "")
}

func (a *API) historyType(c echo.Context) error {
	return a.history(c, c.Param("type"), "")
}

func (a *API) historyInstance(c echo.Context) error {
	return a.history(c, c.Param("type"), c.Param("id"))
}

// cursorParam carries the keyset cursor of history paging links.
const cursorParam = "_cursor"

func (a *API) history(c echo.Context, typ, id string) error {
	q, err := a.historyQuery(c.QueryParams())
	if err != nil {
		return err
	}
	q.Type, q.ID = typ, id
	page, err := a.svc.History(c.Request().Context(), q)
	if err != nil {
		return err
	}
	b, err := a.historyBundle(c.Request().URL, page)
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, http.StatusOK, b)
}

func (a *API) historyQuery(v url.Values) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Count: a.cfg.DefaultCount}
	if s := v.Get("_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, outcome.New(outcome.KindInvalid, "_count must be a positive integer, not %q", s)
		}
		q.Count = min(n, a.cfg.MaxCount)
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
	if s := v.Get(cursorParam); s != "" {
		n, err := historyCursor(s)
		if err != nil {
			return q, err
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

// bundleEntry and friends are the JSON shape of history Bundle entries.
// Resources are embedded as the stored bytes (json.RawMessage), never
// re-marshalled.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status       string `json:"status"`
	Location     string `json:"location,omitempty"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         bundleMeta    `json:"meta"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []bundleLink  `json:"link"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

func (a *API) historyBundle(reqURL *url.URL, page store.HistoryPage) ([]byte, error) {
	b := bundle{
		ResourceType: "Bundle",
		ID:           uuid.NewString(),
		Meta:         bundleMeta{LastUpdated: instant(time.Now())},
		Type:         "history",
		Link:         []bundleLink{{Relation: "self", URL: a.pageURL(reqURL, -1)}},
		Entry:        make([]bundleEntry, 0, len(page.Entries)),
	}
	if page.Next != 0 {
		b.Link = append(b.Link, bundleLink{Relation: "next", URL: a.pageURL(reqURL, page.Next)})
	}
	for _, e := range page.Entries {
		b.Entry = append(b.Entry, a.historyEntry(e.Resource))
	}
	return marshal(b)
}

func (a *API) historyEntry(r store.Resource) bundleEntry {
	ref := r.Type + "/" + r.ID
	e := bundleEntry{
		FullURL: a.cfg.BaseURL + "/" + ref,
		Response: &entryResponse{
			Etag:         etag(r.VersionID),
			LastModified: instant(r.LastUpdated),
		},
	}
	switch {
	case r.Deleted:
		e.Request = &entryRequest{Method: http.MethodDelete, URL: ref}
		e.Response.Status = "204 No Content"
	case r.Method == http.MethodPost:
		e.Resource = r.Body
		e.Request = &entryRequest{Method: http.MethodPost, URL: r.Type}
		e.Response.Status = "201 Created"
		e.Response.Location = ref + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	default:
		// PATCH versions are reported as PUT: Bundle.entry.request.method
		// in a history Bundle describes the resulting state change.
		e.Resource = r.Body
		e.Request = &entryRequest{Method: http.MethodPut, URL: ref}
		e.Response.Status = "200 OK"
		if r.VersionID == 1 {
			e.Response.Status = "201 Created"
		}
	}
	return e
}

// pageURL rebuilds the request URL on the public base, replacing the cursor
// (cursor < 0 keeps the request's own).
func (a *API) pageURL(reqURL *url.URL, cursor int64) string {
	q := reqURL.Query()
	if cursor >= 0 {
		q.Set(cursorParam, strconv.FormatInt(cursor, 10))
	}
	u := a.cfg.BaseURL + reqURL.Path
	if enc := q.Encode(); enc != "" {
		u += "?" + strings.ReplaceAll(enc, "%2C", ",")
	}
	return u
}

// historyCursor parses the integer _cursor of history paging links.
func historyCursor(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, outcome.New(outcome.KindInvalid, "%s %q is not a paging cursor issued by this server", cursorParam, s)
	}
	return n, nil
}

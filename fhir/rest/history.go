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

	"github.com/telefhir/telefhir/fhir"
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

// cursorParam carries the keyset cursor of paging links.
const cursorParam = fhir.CursorParam

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
	return fhir.ParseHistoryParams(v, a.cfg.DefaultCount, a.cfg.MaxCount)
}

// bundleEntry and friends are the JSON shape of history Bundle entries.
// Resources are embedded as the stored bytes (json.RawMessage), never
// re-marshalled.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
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

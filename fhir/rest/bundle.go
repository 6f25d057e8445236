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
)

// bundle is POST [base]: a transaction or batch Bundle.
func (a *API) bundle(c echo.Context) error {
	body, err := readBody(c, a.cfg.MaxBundleBytes, mimeFHIRJSON, mimeJSON)
	if err != nil {
		return err
	}
	b, err := fhir.ParseBundle(body, a.cfg.BaseURL, a.cfg.MaxBundleEntries)
	if err != nil {
		return err
	}
	// What only rendering reads is checked before anything is written.
	for _, e := range b.Entries {
		if e.Request.Method == http.MethodGet || e.Request.Method == http.MethodHead {
			if _, err := parseSummary(e.Target.Query); err != nil {
				return outcome.From(err).Locate(func(string) string { return e.Where("request.url") })
			}
		}
	}
	ctx := c.Request().Context()
	opts := fhir.BundleOptions{DefaultCount: a.cfg.DefaultCount, MaxCount: a.cfg.MaxCount, Strict: preferStrict(c.Request())}
	var results []fhir.EntryResult
	if b.Type == fhir.BundleTransaction {
		if results, err = a.svc.Transaction(ctx, b, opts); err != nil {
			return err
		}
	} else {
		results = a.svc.Batch(ctx, b, opts)
	}
	out, err := a.bundleResponse(c.Request(), b, results)
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, http.StatusOK, out)
}

// responseBundle is a transaction-response or batch-response.
type responseBundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         bundleMeta    `json:"meta"`
	Type         string        `json:"type"`
	Entry        []bundleEntry `json:"entry"`
}

// bundleResponse renders the results of b's entries, in entry order. The
// resources written are included when Prefer asks for them
// (return=representation), an informational outcome per entry for
// return=OperationOutcome; what GET entries read is always included.
func (a *API) bundleResponse(r *http.Request, b *fhir.Bundle, results []fhir.EntryResult) ([]byte, error) {
	prefer, stated := preferReturnOf(r)
	if !stated {
		prefer = returnMinimal
	}
	out := responseBundle{
		ResourceType: "Bundle",
		ID:           uuid.NewString(),
		Meta:         bundleMeta{LastUpdated: instant(time.Now())},
		Type:         b.Type + "-response",
		Entry:        make([]bundleEntry, len(results)),
	}
	for i, res := range results {
		e, err := a.responseEntry(&b.Entries[i], res, prefer)
		if err != nil {
			return nil, err
		}
		out.Entry[i] = e
	}
	return marshal(out)
}

func (a *API) responseEntry(e *fhir.Entry, res fhir.EntryResult, prefer preferReturn) (bundleEntry, error) {
	out := bundleEntry{Response: &entryResponse{Status: fhir.StatusLine(res.Status)}}
	if res.Err != nil {
		out.Response.Outcome = res.Err.JSON()
		return out, nil
	}
	read := e.Request.Method == http.MethodGet || e.Request.Method == http.MethodHead
	switch {
	case res.Search != nil:
		if e.Request.Method == http.MethodHead {
			return out, nil
		}
		sum, _ := parseSummary(e.Target.Query) // checked before processing
		body, err := a.searchBundle(entryPath(e.Target), e.Target.Query, pageToken{}, *res.Search, sum)
		out.Resource = body
		return out, err
	case res.History != nil:
		if e.Request.Method == http.MethodHead {
			return out, nil
		}
		u := &url.URL{Path: entryPath(e.Target), RawQuery: e.Target.Query.Encode()}
		body, err := a.historyBundle(u, *res.History)
		out.Resource = body
		return out, err
	case len(res.Deleted) == 1:
		out.Response.Etag = etag(res.Deleted[0].VersionID)
	}
	r := res.Resource
	if r.VersionID == 0 {
		return out, nil
	}
	ref := r.Type + "/" + r.ID
	out.FullURL = a.cfg.BaseURL + "/" + ref
	out.Response.Etag = etag(r.VersionID)
	out.Response.LastModified = instant(r.LastUpdated)
	if !read && !r.Deleted {
		out.Response.Location = ref + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	}
	switch {
	case read:
		if e.Request.Method == http.MethodGet && res.Status == http.StatusOK {
			out.Resource = r.Body
		}
	case r.Deleted:
	case prefer == returnRepresentation:
		out.Resource = r.Body
	case prefer == returnOutcome:
		verb := "Updated"
		if res.Status == http.StatusCreated {
			verb = "Created"
		}
		oo, err := json.Marshal(outcome.Info("%s %s version %d", verb, ref, r.VersionID))
		if err != nil {
			return out, err
		}
		out.Response.Outcome = oo
	}
	return out, nil
}

// entryPath is the URL path below the base of a GET entry's target, for
// the links of the Bundles it answers with.
func entryPath(t fhir.Target) string {
	var parts []string
	if c := t.Compartment; c != nil {
		parts = append(parts, c.Type, c.ID)
	}
	if t.Type != "" {
		parts = append(parts, t.Type)
	}
	if t.ID != "" {
		parts = append(parts, t.ID)
	}
	if t.Operation != "" {
		parts = append(parts, t.Operation)
	}
	if t.History {
		parts = append(parts, "_history")
	}
	return "/" + strings.Join(parts, "/")
}

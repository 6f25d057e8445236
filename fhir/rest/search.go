package rest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
)

func (a *API) searchType(c echo.Context) error {
	return a.search(c, c.Param("type"), nil)
}

func (a *API) searchSystem(c echo.Context) error {
	return a.search(c, "", nil)
}

func (a *API) searchCompartment(c echo.Context) error {
	return a.search(c, c.Param("type"), &fhir.Reference{Type: c.Param("ctype"), ID: c.Param("cid")})
}

// searchParams returns the search parameters of a GET (the query) or a
// POST _search (the query and the form body).
func (a *API) searchParams(c echo.Context) (url.Values, error) {
	params := c.Request().URL.Query()
	if c.Request().Method != http.MethodPost {
		return params, nil
	}
	if ct := c.Request().Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/x-www-form-urlencoded" {
			return nil, outcome.New(outcome.KindUnsupportedMediaType, "POST _search takes application/x-www-form-urlencoded parameters, not %s", mt)
		}
	}
	if c.Request().ContentLength == 0 {
		return params, nil // a POST _search with every parameter in the URL
	}
	body, err := readBody(c, a.cfg.MaxBodyBytes, "application/x-www-form-urlencoded")
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, outcome.New(outcome.KindInvalid, "the _search form body cannot be parsed: %v", err)
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

func (a *API) search(c echo.Context, typ string, compartment *fhir.Reference) error {
	params, err := a.searchParams(c)
	if err != nil {
		return err
	}
	sum, err := parseSummary(params)
	if err != nil {
		return err
	}
	var token pageToken
	if s := params.Get(cursorParam); s != "" {
		if token, err = decodeToken(s); err != nil {
			return err
		}
	}
	parseParams := cloneValues(params)
	parseParams.Del(cursorParam)
	req := fhir.SearchRequest{
		Type:         typ,
		Params:       parseParams,
		Compartment:  compartment,
		Strict:       preferStrict(c.Request()),
		DefaultCount: a.cfg.DefaultCount,
		MaxCount:     a.cfg.MaxCount,
	}
	if n := len(token.Trail); n > 0 {
		req.After = token.Trail[n-1].cursor()
	}
	res, err := a.svc.Search(c.Request().Context(), req)
	if err != nil {
		return err
	}
	b, err := a.searchBundle(searchPath(c.Request()), params, token, res, sum)
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, http.StatusOK, b)
}

func preferStrict(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(strings.TrimSpace(k), "handling") && strings.EqualFold(strings.Trim(strings.TrimSpace(val), `"`), "strict") {
				return true
			}
		}
	}
	return false
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

type searchEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource"`
	Search   entrySearch     `json:"search"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

type searchBundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         bundleMeta    `json:"meta"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []bundleLink  `json:"link"`
	Entry        []searchEntry `json:"entry,omitempty"`
}

// searchBundle renders one page of a search of the URL path (below the
// base) and params as a searchset Bundle.
func (a *API) searchBundle(path string, params url.Values, token pageToken, res fhir.SearchResult, sum summary) ([]byte, error) {
	b := searchBundle{
		ResourceType: "Bundle",
		ID:           uuid.NewString(),
		Meta:         bundleMeta{LastUpdated: instant(time.Now())},
		Type:         "searchset",
	}
	if res.Page.Total >= 0 && res.Query.Total != search.TotalNone {
		t := res.Page.Total
		b.Total = &t
	}
	link := func(rel string, trail []tokenCursor) {
		p := cloneValues(params)
		p.Del(cursorParam)
		if len(trail) > 0 {
			p.Set(cursorParam, encodeToken(pageToken{Trail: trail}))
		}
		b.Link = append(b.Link, bundleLink{Relation: rel, URL: a.cfg.BaseURL + path + encodeQuery(p)})
	}
	link("self", token.Trail)
	if res.Page.Next != nil {
		trail := append(append([]tokenCursor(nil), token.Trail...), toTokenCursor(res.Page.Next))
		link("next", trail)
	}
	if n := len(token.Trail); n > 0 {
		link("previous", token.Trail[:n-1])
	}
	for _, m := range res.Page.Matches {
		body := m.Body
		if sum.active() {
			var err error
			if body, err = sum.apply(m.Type, body); err != nil {
				return nil, err
			}
		}
		mode := "match"
		if m.Included {
			mode = "include"
		}
		b.Entry = append(b.Entry, searchEntry{
			FullURL:  a.cfg.BaseURL + "/" + m.Type + "/" + m.ID,
			Resource: body,
			Search:   entrySearch{Mode: mode},
		})
	}
	if len(res.Issues) > 0 {
		oo, err := json.Marshal(outcome.OperationOutcome{ResourceType: "OperationOutcome", Issue: res.Issues})
		if err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, searchEntry{Resource: oo, Search: entrySearch{Mode: "outcome"}})
	}
	return marshal(b)
}

// searchPath is the request path for links: POST .../_search is linked as
// the equivalent GET.
func searchPath(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/_search")
	if p == "" {
		p = "/"
	}
	return p
}

func encodeQuery(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + strings.NewReplacer("%2C", ",", "%7C", "|", "%3A", ":").Replace(v.Encode())
}

// summary is _summary and _elements.
type summary struct {
	mode     summaryMode
	elements map[string]bool // _elements
}

type summaryMode int

const (
	summaryFalse summaryMode = iota
	summaryTrue
	summaryText
	summaryData
	summaryCount
)

func (s summary) active() bool { return s.mode != summaryFalse || s.elements != nil }

func parseSummary(params url.Values) (summary, error) {
	var s summary
	switch v := params.Get("_summary"); v {
	case "", "false":
	case "true":
		s.mode = summaryTrue
	case "text":
		s.mode = summaryText
	case "data":
		s.mode = summaryData
	case "count":
		s.mode = summaryCount
	default:
		return s, outcome.New(outcome.KindInvalid, "_summary must be true, false, text, data or count, not %q", v)
	}
	if v := params.Get("_elements"); v != "" {
		if s.mode != summaryFalse {
			return s, outcome.New(outcome.KindInvalid, "_summary and _elements cannot be combined")
		}
		s.elements = map[string]bool{}
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if i := strings.IndexByte(e, '.'); i >= 0 {
				e = e[i+1:] // Patient.name → name
			}
			if e != "" {
				s.elements[e] = true
			}
		}
	}
	return s, nil
}

// apply reduces one resource to the requested subset, keeping member order
// and value bytes, and marks it SUBSETTED as the spec requires.
func (s summary) apply(typ string, body []byte) ([]byte, error) {
	if s.mode == summaryCount {
		return body, nil
	}
	keep := func(name string) bool {
		switch name {
		case "resourceType", "id", "meta":
			return true
		}
		switch s.mode {
		case summaryTrue:
			return isSummaryElement(typ, name)
		case summaryText:
			return name == "text" || isRequiredElement(typ, name)
		case summaryData:
			return name != "text"
		}
		return s.elements[name] || isRequiredElement(typ, name)
	}
	return subset(body, keep)
}

// subset keeps the top-level members for which keep is true and adds the
// SUBSETTED tag to meta.
func subset(body []byte, keep func(string) bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteByte('{')
	first := true
	write := func(k string, v []byte) {
		if !first {
			out.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	}
	sawMeta := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if !keep(k) {
			continue
		}
		if k == "meta" {
			sawMeta = true
			if v, err = tagSubsetted(v); err != nil {
				return nil, err
			}
		}
		write(k, v)
	}
	if !sawMeta {
		m, _ := tagSubsetted([]byte(`{}`))
		write("meta", m)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

var subsettedTag = json.RawMessage(`{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"Resource encoded in summary mode"}`)

func tagSubsetted(meta []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, err
	}
	var tags []json.RawMessage
	if t, ok := m["tag"]; ok {
		if err := json.Unmarshal(t, &tags); err != nil {
			return nil, err
		}
	}
	tags = append(tags, subsettedTag)
	m["tag"], _ = json.Marshal(tags)
	return json.Marshal(m)
}

// everything is Patient/[id]/$everything.
func (a *API) everything(c echo.Context) error {
	if c.Param("type") != "Patient" {
		return outcome.New(outcome.KindNotFound, "$everything is defined on Patient only, not on %s", c.Param("type"))
	}
	params := c.QueryParams()
	var token pageToken
	if s := params.Get(cursorParam); s != "" {
		var err error
		if token, err = decodeToken(s); err != nil {
			return err
		}
	}
	req := fhir.EverythingRequest{ID: c.Param("id"), Params: params, DefaultCount: a.cfg.DefaultCount, MaxCount: a.cfg.MaxCount}
	if n := len(token.Trail); n > 0 {
		req.After = token.Trail[n-1].cursor()
	}
	res, err := a.svc.Everything(c.Request().Context(), req)
	if err != nil {
		return err
	}
	b, err := a.searchBundle(searchPath(c.Request()), params, token, res, summary{})
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, http.StatusOK, b)
}

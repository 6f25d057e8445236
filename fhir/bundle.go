package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// DefaultMaxBundleEntries is how many entries a transaction or batch
// Bundle may have when Service.MaxBundleEntries is not set.
const DefaultMaxBundleEntries = 10000

// Bundle types this server processes.
const (
	BundleTransaction = "transaction"
	BundleBatch       = "batch"
)

// Bundle is a transaction or batch Bundle as POSTed to the base: its
// entries, each with its request split into what it asks for. ParseBundle
// builds it; only the envelope is checked there, each entry's resource is
// validated when the entry is processed.
type Bundle struct {
	// Type is BundleTransaction or BundleBatch.
	Type    string
	Entries []Entry
}

// Entry is one entry of a Bundle.
type Entry struct {
	// Index is the entry's position in Bundle.entry.
	Index   int
	FullURL string
	// Resource is entry.resource as sent (nil when absent).
	Resource json.RawMessage
	Request  EntryRequest
	// Target is Request.URL parsed.
	Target Target
}

// EntryRequest is Bundle.entry.request.
type EntryRequest struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch"`
	IfModifiedSince string `json:"ifModifiedSince"`
	IfMatch         string `json:"ifMatch"`
	IfNoneExist     string `json:"ifNoneExist"`
}

// Target is what a request URL names, relative to the server base:
//
//	Type                          Type = "Patient"
//	Type/id                       ID
//	Type/id/_history/vid          Version
//	Type/_history, _history       History
//	Type/id/_history              History, ID
//	Type/id/$everything           Operation = "$everything"
//	CType/cid/Type                Compartment
//	Type?criteria, ?_type=...     Query, Conditional
type Target struct {
	Type        string
	ID          string
	Version     string
	History     bool
	Operation   string
	Compartment *Reference
	// Query is the URL's query; Conditional says it had one ('?').
	Query       url.Values
	Conditional bool
}

// Where is the FHIRPath of a part of the entry, for errors:
// Where("request.url") = "Bundle.entry[3].request.url".
func (e *Entry) Where(part string) string {
	w := fmt.Sprintf("Bundle.entry[%d]", e.Index)
	if part != "" {
		w += "." + part
	}
	return w
}

// ParseBundle parses the body of a POST to the server base: a transaction
// or batch Bundle of at most maxEntries entries (more is a 413). base is
// the server's base URL, which request URLs may start with. Every problem
// with the envelope is an *outcome.Error located in the Bundle
// (Bundle.entry[2].request.method).
func ParseBundle(body []byte, base string, maxEntries int) (*Bundle, error) {
	var env struct {
		ResourceType *string           `json:"resourceType"`
		Type         *string           `json:"type"`
		Entry        []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, jsonError(body, err, "Bundle")
	}
	switch {
	case env.ResourceType == nil:
		return nil, outcome.New(outcome.KindInvalid, "The body has no resourceType: POST to the base takes a transaction or batch Bundle")
	case *env.ResourceType != "Bundle":
		return nil, outcome.Invalid("Bundle.resourceType", "POST to the base takes a transaction or batch Bundle, not a %s", quoteValue(*env.ResourceType))
	case env.Type == nil:
		return nil, outcome.Invalid("Bundle.type", "The Bundle has no type: POST to the base takes a transaction or batch Bundle")
	case *env.Type != BundleTransaction && *env.Type != BundleBatch:
		return nil, outcome.Invalid("Bundle.type", "POST to the base processes transaction and batch Bundles, not %s", quoteValue(*env.Type))
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxBundleEntries
	}
	if len(env.Entry) > maxEntries {
		return nil, outcome.At(outcome.KindTooLarge, "Bundle.entry", "The Bundle has %d entries; this server processes at most %d in one Bundle: split it", len(env.Entry), maxEntries)
	}
	b := &Bundle{Type: *env.Type, Entries: make([]Entry, len(env.Entry))}
	fullURLs := make(map[string]int, len(env.Entry))
	base = strings.TrimRight(base, "/")
	for i, raw := range env.Entry {
		e := &b.Entries[i]
		e.Index = i
		if err := parseEntry(raw, e, base, b.Type); err != nil {
			return nil, err
		}
		if e.FullURL == "" {
			continue
		}
		if j, dup := fullURLs[e.FullURL]; dup {
			return nil, outcome.Invalid(e.Where("fullUrl"), "fullUrl %s is also the fullUrl of entry %d: each entry needs its own", quoteValue(e.FullURL), j)
		}
		fullURLs[e.FullURL] = i
	}
	return b, nil
}

// parseEntry parses one entry into e.
func parseEntry(raw json.RawMessage, e *Entry, base, bundleType string) error {
	var in struct {
		FullURL  *string         `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  *EntryRequest   `json:"request"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return jsonError(raw, err, e.Where(""))
	}
	if in.Request == nil {
		return outcome.Invalid(e.Where("request"), "Each entry of a %s needs a request (method and url)", bundleType)
	}
	e.Request = *in.Request
	if in.FullURL != nil {
		e.FullURL = *in.FullURL
		if !absoluteURI(e.FullURL) {
			return outcome.Invalid(e.Where("fullUrl"), "fullUrl must be an absolute URI (urn:uuid:..., urn:oid:... or http(s)://...), not %s", quoteValue(e.FullURL))
		}
	}
	if len(in.Resource) > 0 && !bytes.Equal(in.Resource, []byte("null")) {
		e.Resource = in.Resource
	}
	t, err := parseTarget(e, base)
	if err != nil {
		return err
	}
	e.Target = t
	switch e.Request.Method {
	case "POST", "PUT", "PATCH":
		if e.Resource == nil {
			return outcome.Invalid(e.Where("resource"), "A %s entry needs a resource", e.Request.Method)
		}
	}
	if e.Request.IfNoneExist != "" && e.Request.Method != "POST" {
		return outcome.Invalid(e.Where("request.ifNoneExist"), "ifNoneExist applies to POST entries only")
	}
	return nil
}

// parseTarget checks the entry's method and splits its URL.
func parseTarget(e *Entry, base string) (Target, error) {
	method := e.Request.Method
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	case "":
		return Target{}, outcome.Invalid(e.Where("request.method"), "The request has no method")
	default:
		return Target{}, outcome.Invalid(e.Where("request.method"), "Method %s is not one of GET, HEAD, POST, PUT, PATCH and DELETE", quoteValue(method))
	}
	where := e.Where("request.url")
	raw := strings.TrimSpace(e.Request.URL)
	if raw == "" {
		return Target{}, outcome.Invalid(where, "The request has no url")
	}
	if strings.Contains(raw, "://") {
		rest, ok := strings.CutPrefix(raw, base+"/")
		if base == "" || !ok {
			return Target{}, outcome.Invalid(where, "The url %s is not on this server: give it relative to the base (Patient/123)", quoteValue(raw))
		}
		raw = rest
	}
	raw = strings.TrimPrefix(raw, "/")
	path, query, conditional := strings.Cut(raw, "?")
	var t Target
	if strings.ContainsAny(path, "#") {
		return Target{}, outcome.Invalid(where, "The url %s has a fragment", quoteValue(raw))
	}
	if conditional {
		q, err := url.ParseQuery(query)
		if err != nil {
			return Target{}, outcome.Invalid(where, "The query of %s cannot be parsed: %v", quoteValue(raw), err)
		}
		t.Query, t.Conditional = q, true
	}
	segs := strings.Split(path, "/")
	if path == "" {
		segs = nil
	}
	bad := func(what string) (Target, error) {
		return Target{}, outcome.Invalid(where, "%s %s is not %s", method, quoteValue(e.Request.URL), what)
	}
	checkType := func(typ string) error {
		if !resource.IsType(typ) {
			return outcome.Invalid(where, "%s is not an R4 resource type supported by this server", quoteValue(typ))
		}
		return nil
	}
	checkID := func(id string) error {
		if !resource.ValidID(id) {
			return outcome.Invalid(where, "%s is not a valid resource id: ids are 1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'", quoteValue(id))
		}
		return nil
	}
	// Split the path: [Type [id [_history [vid]] | _history | $op | CType cid Type].
	switch {
	case len(segs) == 0:
	case len(segs) == 1 && segs[0] == "_history":
		t.History = true
	default:
		if err := checkType(segs[0]); err != nil {
			return Target{}, err
		}
		t.Type = segs[0]
		switch {
		case len(segs) == 1:
		case len(segs) == 2 && segs[1] == "_history":
			t.History = true
		case len(segs) >= 2:
			if err := checkID(segs[1]); err != nil {
				return Target{}, err
			}
			t.ID = segs[1]
			switch {
			case len(segs) == 2:
			case len(segs) == 3 && segs[2] == "_history":
				t.History = true
			case len(segs) == 4 && segs[2] == "_history":
				t.Version = segs[3]
			case len(segs) == 3 && strings.HasPrefix(segs[2], "$"):
				t.Operation = segs[2]
			case len(segs) == 3:
				if err := checkType(segs[2]); err != nil {
					return Target{}, err
				}
				t.Compartment = &Reference{Type: t.Type, ID: t.ID}
				t.Type, t.ID = segs[2], ""
			default:
				return bad("a FHIR interaction URL")
			}
		}
	}
	// What each method may name.
	instance := t.ID != "" && !t.History && t.Version == "" && t.Operation == "" && t.Compartment == nil
	typeLevel := t.Type != "" && t.ID == "" && !t.History && t.Compartment == nil
	switch method {
	case "POST":
		if !typeLevel || t.Conditional {
			return bad("a create (POST Type; conditions go in ifNoneExist)")
		}
	case "PUT", "DELETE":
		switch {
		case instance && !t.Conditional:
		case typeLevel && t.Conditional:
		default:
			return bad("an update or delete (Type/id, or Type?criteria)")
		}
	case "PATCH":
		if !instance || t.Conditional {
			return bad("a patch (Type/id)")
		}
	default: // GET, HEAD
		if t.Operation != "" && (t.Operation != "$everything" || t.Type != "Patient") {
			return Target{}, outcome.At(outcome.KindNotSupported, where, "The operation %s is not supported in a Bundle (only Patient/[id]/$everything)", quoteValue(t.Operation))
		}
		if _, ok := t.Query[CursorParam]; ok && !t.History {
			return Target{}, outcome.Invalid(where, "search paging links (%s) cannot be followed inside a Bundle; GET them directly", CursorParam)
		}
	}
	return t, nil
}

// absoluteURI reports whether s looks like an absolute URI: a scheme, a
// colon and something after it.
func absoluteURI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !strings.ContainsAny(s, " \t\n\r")
}

// jsonError turns an encoding/json error about the JSON at where into an
// outcome: malformed JSON is a structure error with its line and column,
// a wrong type is located at the member.
func jsonError(body []byte, err error, where string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(body, int(se.Offset))
		return outcome.Wrap(outcome.KindStructure, err, "%s is not valid JSON: %s at line %d, column %d (byte %d)", where, se.Error(), line, col, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		at := where
		if te.Field != "" {
			at += "." + te.Field
		}
		return outcome.Wrap(outcome.KindInvalid, err, "%s: a JSON %s is not allowed here", at, te.Value).Locate(func(string) string { return at })
	}
	return outcome.Wrap(outcome.KindInvalid, err, "%s could not be read as JSON", where)
}

func lineCol(b []byte, off int) (line, col int) {
	off = min(max(off, 0), len(b))
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// quoteValue quotes a client-supplied value for a message, cut short.
func quoteValue(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return fmt.Sprintf("%q", s)
}

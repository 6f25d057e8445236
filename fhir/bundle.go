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
	"github.com/telefhir/telefhir/internal/jsonscan"
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
	if maxEntries <= 0 {
		maxEntries = DefaultMaxBundleEntries
	}
	base = strings.TrimRight(base, "/")
	var rt, typ *string
	var entries []Entry
	sc := jsonscan.Scanner{B: body}
	err := sc.Object(0, func(name string) error {
		var err error
		switch name {
		case "resourceType":
			rt, err = optString(&sc, "Bundle.resourceType")
		case "type":
			typ, err = optString(&sc, "Bundle.type")
		case "entry":
			if sc.Peek() != '[' {
				return wrongType(&sc, "Bundle.entry", "entry must be an array")
			}
			err = sc.Array(1, func(i int) error {
				if i == maxEntries {
					return outcome.At(outcome.KindTooLarge, "Bundle.entry", "The Bundle has more entries than this server processes in one Bundle (at most %d): split it", maxEntries)
				}
				entries = append(entries, Entry{Index: i})
				return parseEntry(&sc, &entries[i], base)
			})
		default:
			err = sc.Skip(1)
		}
		return err
	})
	if err == nil {
		err = sc.End()
	}
	if err != nil {
		return nil, jsonError(body, err, "The body")
	}
	switch {
	case rt == nil:
		return nil, outcome.New(outcome.KindInvalid, "The body has no resourceType: POST to the base takes a transaction or batch Bundle")
	case *rt != "Bundle":
		return nil, outcome.Invalid("Bundle.resourceType", "POST to the base takes a transaction or batch Bundle, not a %s", quoteValue(*rt))
	case typ == nil:
		return nil, outcome.Invalid("Bundle.type", "The Bundle has no type: POST to the base takes a transaction or batch Bundle")
	case *typ != BundleTransaction && *typ != BundleBatch:
		return nil, outcome.Invalid("Bundle.type", "POST to the base processes transaction and batch Bundles, not %s", quoteValue(*typ))
	}
	b := &Bundle{Type: *typ, Entries: entries}
	fullURLs := make(map[string]int, len(entries))
	for i := range b.Entries {
		e := &b.Entries[i]
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

// optString reads a string member (nil for null); where locates a value of
// another type.
func optString(sc *jsonscan.Scanner, where string) (*string, error) {
	switch sc.Peek() {
	case '"':
		v, err := sc.String()
		return &v, err
	case 'n':
		return nil, sc.Skip(0)
	}
	return nil, wrongType(sc, where, "%s must be a string", where)
}

// optObject reports whether an object is at the scanner; it skips a null
// and reports a value of another type.
func optObject(sc *jsonscan.Scanner, where string) (bool, error) {
	switch sc.Peek() {
	case '{':
		return true, nil
	case 'n':
		return false, sc.Skip(0)
	}
	return false, wrongType(sc, where, "%s must be a JSON object", where)
}

// wrongType is the error for a value of the wrong JSON type at where:
// a syntax error when it is malformed besides.
func wrongType(sc *jsonscan.Scanner, where, format string, args ...any) error {
	if err := sc.Skip(0); err != nil {
		return err
	}
	return outcome.Invalid(where, format, args...)
}

// parseEntry parses the entry at the scanner into e.
func parseEntry(sc *jsonscan.Scanner, e *Entry, base string) error {
	if sc.Peek() != '{' {
		return wrongType(sc, e.Where(""), "an entry must be a JSON object")
	}
	var fullURL *string
	hasRequest := false
	err := sc.Object(2, func(name string) error {
		switch name {
		case "fullUrl":
			v, err := optString(sc, e.Where("fullUrl"))
			fullURL = v
			return err
		case "resource":
			if ok, err := optObject(sc, e.Where("resource")); !ok {
				return err
			}
			v, err := sc.Value(3)
			e.Resource = v
			return err
		case "request":
			if ok, err := optObject(sc, e.Where("request")); !ok {
				return err
			}
			hasRequest = true
			return parseRequest(sc, e)
		}
		return sc.Skip(3)
	})
	if err != nil {
		return err
	}
	if !hasRequest {
		return outcome.Invalid(e.Where("request"), "Each entry needs a request (method and url)")
	}
	if fullURL != nil {
		e.FullURL = *fullURL
		if !absoluteURI(e.FullURL) {
			return outcome.Invalid(e.Where("fullUrl"), "fullUrl must be an absolute URI (urn:uuid:..., urn:oid:... or http(s)://...), not %s", quoteValue(e.FullURL))
		}
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

// parseRequest reads entry.request into e.Request.
func parseRequest(sc *jsonscan.Scanner, e *Entry) error {
	return sc.Object(3, func(name string) error {
		var dst *string
		switch name {
		case "method":
			dst = &e.Request.Method
		case "url":
			dst = &e.Request.URL
		case "ifNoneMatch":
			dst = &e.Request.IfNoneMatch
		case "ifModifiedSince":
			dst = &e.Request.IfModifiedSince
		case "ifMatch":
			dst = &e.Request.IfMatch
		case "ifNoneExist":
			dst = &e.Request.IfNoneExist
		default:
			return sc.Skip(4)
		}
		v, err := optString(sc, e.Where("request."+name))
		if v != nil {
			*dst = *v
		}
		return err
	})
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

// jsonError passes outcomes through and turns malformed JSON in body,
// the JSON of what (the body, an entry), into a structure error with its
// line and column.
func jsonError(body []byte, err error, what string) error {
	var oe *outcome.Error
	if errors.As(err, &oe) {
		return oe
	}
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(body, se.Offset)
		return outcome.Wrap(outcome.KindStructure, err, "%s is not valid JSON: %s at line %d, column %d", what, se.Msg, line, col)
	}
	return outcome.Wrap(outcome.KindInvalid, err, "%s could not be read as JSON", what)
}

func lineCol(b []byte, off int) (line, col int) {
	off = min(max(off, 0), len(b))
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

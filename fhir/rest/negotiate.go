package rest

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// Media types this server speaks.
const (
	mimeFHIRJSON  = "application/fhir+json"
	mimeJSON      = "application/json"
	mimeJSONPatch = "application/json-patch+json"
)

// format is the negotiated response format of one request.
type format struct {
	contentType string // response Content-Type (without charset)
	pretty      bool
}

const formatKey = "telefhir.format"

// negotiate is middleware that settles the response format from _format,
// Accept and _pretty, answering 406 for anything but JSON.
func negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := negotiateFormat(c.Request())
		if err != nil {
			return err
		}
		c.Set(formatKey, f)
		return next(c)
	}
}

func negotiateFormat(r *http.Request) (format, error) {
	f := format{contentType: mimeFHIRJSON}
	q := r.URL.Query()
	switch p := strings.ToLower(q.Get("_pretty")); p {
	case "", "false":
	case "true":
		f.pretty = true
	default:
		return f, outcome.Invalid("", "_pretty must be true or false, not %q", p)
	}
	if v := q.Get("_format"); v != "" {
		switch strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0])) {
		case "json", mimeFHIRJSON:
			return f, nil
		case mimeJSON:
			f.contentType = mimeJSON
			return f, nil
		case "xml", "text/xml", "application/xml", "application/fhir+xml":
			return f, notAcceptable()
		case "ttl", "text/turtle":
			return f, notAcceptable()
		default:
			return f, outcome.New(outcome.KindNotAcceptable, "_format %q is not supported: this server speaks JSON only (_format=json or application/fhir+json)", v)
		}
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return f, nil
	}
	sawXML := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		switch mt {
		case mimeFHIRJSON, "*/*", "application/*":
			return f, nil
		case mimeJSON:
			f.contentType = mimeJSON
			return f, nil
		case "application/fhir+xml", "application/xml", "text/xml", "text/turtle":
			sawXML = true
		}
	}
	if sawXML {
		return f, notAcceptable()
	}
	// Browsers and generic clients (text/html, text/plain) get JSON.
	return f, nil
}

func notAcceptable() error {
	return outcome.New(outcome.KindNotAcceptable, "This server speaks JSON only: ask for application/fhir+json (XML and Turtle are not supported)")
}

func formatOf(c echo.Context) format {
	if f, ok := c.Get(formatKey).(format); ok {
		return f
	}
	return format{contentType: mimeFHIRJSON}
}

// readBody reads the request body, inflating gzip, accepting only the given
// media types, and refusing bodies over limit bytes (after inflation).
func readBody(c echo.Context, limit int64, accepted ...string) ([]byte, error) {
	r := c.Request()
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, outcome.New(outcome.KindUnsupportedMediaType, "Content-Type %q cannot be parsed", ct)
		}
		ok := false
		for _, a := range accepted {
			if mt == a {
				ok = true
				break
			}
		}
		if !ok {
			if strings.Contains(mt, "xml") {
				return nil, outcome.New(outcome.KindUnsupportedMediaType, "Content-Type %s is not supported: this server accepts JSON only (%s)", mt, strings.Join(accepted, ", "))
			}
			return nil, outcome.New(outcome.KindUnsupportedMediaType, "Content-Type %s is not supported here; send %s", mt, strings.Join(accepted, " or "))
		}
	}
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, outcome.New(outcome.KindInvalid, "The request body is not valid gzip: %v", err)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, outcome.New(outcome.KindUnsupportedMediaType, "Content-Encoding %q is not supported; send gzip or an uncompressed body", enc)
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, outcome.New(outcome.KindInvalid, "The request body is not valid gzip: %v", err)
		}
		return nil, outcome.Wrap(outcome.KindInvalid, err, "The request body could not be read")
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	if len(b) == 0 {
		return nil, outcome.New(outcome.KindInvalid, "The request has no body; send a JSON resource")
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return outcome.New(outcome.KindTooLarge, "The request body is larger than this server accepts (%s)", byteSize(limit))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// preferReturn is the Prefer: return= value of a request.
type preferReturn int

const (
	returnRepresentation preferReturn = iota
	returnMinimal
	returnOutcome
)

func preferOf(r *http.Request) preferReturn {
	p, _ := preferReturnOf(r)
	return p
}

// preferReturnOf is the Prefer: return= of r, and whether r states one.
func preferReturnOf(r *http.Request) (preferReturn, bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(strings.TrimSpace(k), "return") {
				switch strings.Trim(strings.TrimSpace(val), `"`) {
				case "minimal":
					return returnMinimal, true
				case "OperationOutcome":
					return returnOutcome, true
				case "representation":
					return returnRepresentation, true
				}
			}
		}
	}
	return returnRepresentation, false
}

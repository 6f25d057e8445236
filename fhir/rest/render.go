package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store"
)

// instant formats t as a FHIR instant (UTC, milliseconds), the same form
// resource.Stamp writes into meta.lastUpdated.
func instant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func etag(version int64) string {
	return `W/"` + strconv.FormatInt(version, 10) + `"`
}

// writeJSON writes body (already JSON) with the negotiated content type,
// indenting it when _pretty=true.
func writeJSON(c echo.Context, status int, body []byte) error {
	f := formatOf(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.contentType+"; charset=utf-8")
	if f.pretty {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			body = buf.Bytes()
		}
	}
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(body)
	return err
}

func writeValue(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, status, b)
}

// versionHeaders sets ETag and Last-Modified for one stored version.
func versionHeaders(c echo.Context, r store.Resource) {
	h := c.Response().Header()
	h.Set("ETag", etag(r.VersionID))
	h.Set("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
}

// writeResource writes a stored version as the response body.
func writeResource(c echo.Context, status int, r store.Resource) error {
	versionHeaders(c, r)
	return writeJSON(c, status, r.Body)
}

// writeOutcome renders an *outcome.Error.
func writeOutcome(c echo.Context, e *outcome.Error) error {
	return writeJSON(c, e.Status(), e.JSON())
}

var (
	isSummaryElement  = conformance.IsSummary
	isRequiredElement = conformance.IsRequired
)

// Marshal is json.Marshal without HTML escaping, so URLs in Bundle links
// keep their & and < > characters as written.
func Marshal(v any) ([]byte, error) { return marshal(v) }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

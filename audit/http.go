package audit

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// Classifier says which FHIR interaction a route performs. routePath is
// the route's path pattern (echo's c.Path(); "" when no route matched).
// fhir is false for routes outside the FHIR API, which the middleware
// leaves alone: their components record their own events with Record.
// interaction is "" for a request the FHIR API has no route for (an
// unknown URL or method), which is audited as a failure without subtype.
type Classifier func(method, routePath string) (interaction, operation string, fhir bool)

// maxQuery bounds the form body of a POST _search kept as the query.
const maxQuery = 64 << 10

// Middleware records one AuditEvent per FHIR interaction, successful or
// not, before the response goes out: when the handler writes the status
// line (or, if it writes nothing, when it returns), the record is queued
// through the group-commit writer and the response waits until it is
// durable. If it cannot be made durable the client gets a 503 instead of
// the response. Writes audited in their own transaction (Wrap) are not
// recorded again unless the request then failed.
//
// Install it before (outside) the middleware that authenticates the
// caller and before panic recovery, so that refusals and panics are
// audited too; it reads the caller's Grant (smart/access) from the request
// context when the response is written. It renders handler errors itself,
// with echo's error handler, so that the status is known.
func (t *Trail) Middleware(classify Classifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			hr := c.Request()
			method := hr.Method
			if method == http.MethodHead {
				method = http.MethodGet
			}
			interaction, op, fhir := classify(method, c.Path())
			if !fhir {
				return next(c)
			}
			t.inflight.Add(1)
			t.lastRequest.Store(time.Now().UnixNano())
			defer t.inflight.Add(-1)
			req := &Request{
				ID:          c.Response().Header().Get(echo.HeaderXRequestID),
				Address:     clientAddress(c),
				Interaction: interaction,
				Operation:   op,
				Query:       rawQuery(c, interaction),
			}
			ctx := WithRequest(hr.Context(), req)
			c.SetRequest(hr.WithContext(ctx))
			c.Response().Before(func() { t.finish(c, req) })
			if c.Param("type") == "AuditEvent" {
				switch interaction {
				case "create", "update", "patch", "delete":
					// Refused before the body is even read; the store
					// wrapper refuses Bundle entries the same way.
					req.setErr(ErrAppendOnly)
					c.Error(ErrAppendOnly)
					return nil
				}
			}
			if c.Param("type") == "AuditEvent" || interaction == "search-system" || interaction == "history-system" {
				// Reads of the trail see every record queued before them.
				if err := t.Sync(ctx); err != nil {
					t.l.ErrorContext(ctx, "audit: sealing before an AuditEvent read failed", "request_id", req.ID, "error", err)
				}
			}
			if err := next(c); err != nil {
				req.setErr(err)
				c.Error(err)
			}
			if !c.Response().Committed {
				t.finish(c, req)
				if !c.Response().Committed && c.Response().Status == http.StatusServiceUnavailable {
					c.Response().WriteHeader(http.StatusServiceUnavailable)
				}
			}
			return nil
		}
	}
}

// finish records the interaction and waits until the record is durable.
// It runs once per request, just before the status line is written.
func (t *Trail) finish(c echo.Context, req *Request) {
	snap, ok := req.finish()
	if !ok {
		return
	}
	ctx := c.Request().Context()
	status := c.Response().Status
	if status == 0 {
		status = http.StatusOK
	}
	var recs [][]byte
	add := func(rec *record) bool {
		line, err := rec.encode(nil)
		if err != nil {
			t.refuse(c, req, err)
			return false
		}
		recs = append(recs, line)
		return true
	}
	for _, e := range snap.entries {
		if !add(e) {
			return
		}
	}
	// A write audited in its own transaction is not recorded again, unless
	// the request failed after all; a Bundle also gets a record of its own.
	if snap.written == 0 || status >= http.StatusBadRequest || req.perEntry() {
		if !add(t.interaction(ctx, req, snap, status)) {
			return
		}
	}
	if err := t.w.write(recs...); err != nil {
		t.refuse(c, req, err)
	}
}

// refuse replaces the response with a 503: what cannot be audited is not
// answered.
func (t *Trail) refuse(c echo.Context, req *Request, err error) {
	t.l.ErrorContext(c.Request().Context(), "audit: could not record the request; answering 503", "request_id", req.ID, "error", err)
	res := c.Response()
	res.Status = http.StatusServiceUnavailable
	h := res.Header()
	for _, k := range []string{echo.HeaderContentLength, "ETag", "Last-Modified", echo.HeaderLocation, "Content-Location"} {
		h.Del(k)
	}
	h.Set(echo.HeaderContentType, "application/fhir+json; charset=utf-8")
	body := outcome.New(outcome.KindInternal, "the audit trail could not record this request, so it was not answered; retry later").JSON()
	res.Writer = &refusedWriter{ResponseWriter: res.Writer, body: body}
}

// refusedWriter writes its own body in place of the handler's.
type refusedWriter struct {
	http.ResponseWriter
	body    []byte
	written bool
}

func (w *refusedWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if !w.written {
		w.written = true
		_, _ = w.ResponseWriter.Write(w.body)
	}
}

func (w *refusedWriter) Write(p []byte) (int, error) { return len(p), nil }

func (w *refusedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientAddress is the client's IP address: the connection's peer, or
// what the server's configured IP extractor trusts (proxy headers are not
// trusted otherwise).
func clientAddress(c echo.Context) string {
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// rawQuery is the query a search, history, operation or conditional
// write ran with, as the client sent it: the URL's query and, for POST
// _search, the form body (read and put back for the handler); for a
// conditional create, the If-None-Exist criteria.
func rawQuery(c echo.Context, interaction string) []byte {
	switch interaction {
	case "create":
		if ine := c.Request().Header.Get("If-None-Exist"); ine != "" {
			return []byte(ine)
		}
		return nil
	case "search-type", "search-system", "history-system", "history-type", "history-instance", "operation", "update", "delete":
	default:
		return nil
	}
	hr := c.Request()
	q := []byte(hr.URL.RawQuery)
	if hr.Method == http.MethodPost && strings.HasSuffix(c.Path(), "_search") && hr.Body != nil {
		body, err := io.ReadAll(io.LimitReader(hr.Body, maxQuery+1))
		hr.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), hr.Body), hr.Body}
		if err == nil && len(body) > 0 && len(body) <= maxQuery {
			if len(q) > 0 {
				q = append(q, '&')
			}
			q = append(q, body...)
		}
	}
	if len(q) == 0 {
		return nil
	}
	return q
}

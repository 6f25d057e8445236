package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
)

// httpSink POSTs Bundles to a server's base.
type httpSink struct {
	base, token string
	client      *http.Client
}

func newHTTPSink(base, token string, timeout time.Duration) *httpSink {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &httpSink{base: base, token: token, client: &http.Client{Transport: tr}}
}

func (h *httpSink) target() string {
	if u, err := url.Parse(h.base); err == nil {
		u.User = nil
		return u.String()
	}
	return h.base
}

func (h *httpSink) send(ctx context.Context, bundle []byte) ([]entryStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/", bytes.NewReader(bundle))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, &bundleError{reason: "sending: " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, &bundleError{status: resp.StatusCode, reason: "reading the response: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &bundleError{status: resp.StatusCode, reason: outcomeReason(body, resp.Status)}
	}
	var rb struct {
		ResourceType string
		Entry        []struct {
			Response struct {
				Status  string
				Outcome json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(body, &rb); err != nil || rb.ResourceType != "Bundle" {
		return nil, &bundleError{status: resp.StatusCode, reason: "the server did not answer with a Bundle"}
	}
	out := make([]entryStatus, len(rb.Entry))
	for i, e := range rb.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		out[i].status, _ = strconv.Atoi(code)
		if !out[i].ok() {
			out[i].reason = outcomeReason(e.Response.Outcome, e.Response.Status)
		}
	}
	return out, nil
}

// outcomeReason is the first issue of an OperationOutcome, as
// "location: diagnostics", or fallback.
func outcomeReason(body []byte, fallback string) string {
	var oo outcome.OperationOutcome
	if err := json.Unmarshal(body, &oo); err != nil || len(oo.Issue) == 0 {
		return fallback
	}
	return issueReason(oo.Issue)
}

func issueReason(issues []outcome.Issue) string {
	if len(issues) == 0 {
		return "failed"
	}
	is := issues[0]
	msg := is.Diagnostics
	if msg == "" {
		msg = is.Code
	}
	if len(is.Expression) > 0 && !strings.Contains(msg, is.Expression[0]) {
		msg = is.Expression[0] + ": " + msg
	}
	if len(issues) > 1 {
		msg += fmt.Sprintf(" (and %d more issues)", len(issues)-1)
	}
	return msg
}

// storeSink processes Bundles with a Service over the configured store,
// as the server would.
type storeSink struct {
	svc        *fhir.Service
	st         migratingStore
	desc, base string
	maxEntries int
}

func openStoreSink(ctx context.Context, c *config) (*storeSink, error) {
	st, desc, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate %s store: %w", desc, err)
	}
	reg, err := search.NewRegistry(search.Options{BaseURL: c.BaseURL})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("search parameters: %w", err)
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err == nil {
			desc = "postgres " + u.Redacted()
		}
	}
	return &storeSink{svc: &fhir.Service{Store: st, Registry: reg}, st: st, desc: desc, base: c.BaseURL, maxEntries: c.MaxBundle}, nil
}

func (s *storeSink) Close() error { return s.st.Close() }

func (s *storeSink) target() string { return s.desc }

func (s *storeSink) send(ctx context.Context, body []byte) ([]entryStatus, error) {
	b, err := fhir.ParseBundle(body, s.base, s.maxEntries)
	if err != nil {
		return nil, outcomeError(err)
	}
	opts := fhir.BundleOptions{DefaultCount: 50, MaxCount: 1000}
	var results []fhir.EntryResult
	if b.Type == fhir.BundleTransaction {
		if results, err = s.svc.Transaction(ctx, b, opts); err != nil {
			return nil, outcomeError(err)
		}
	} else {
		results = s.svc.Batch(ctx, b, opts)
	}
	out := make([]entryStatus, len(results))
	for i, r := range results {
		out[i].status = r.Status
		if r.Err != nil {
			out[i].reason = issueReason(r.Err.Issues)
		}
	}
	return out, nil
}

func outcomeError(err error) error {
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		return &bundleError{reason: err.Error()}
	}
	reason := issueReason(oe.Issues)
	if cause := errors.Unwrap(oe); oe.Kind == outcome.KindInternal && cause != nil {
		// This is the operator's own terminal: say what went wrong.
		reason += ": " + cause.Error()
	}
	return &bundleError{status: oe.Status(), reason: reason}
}

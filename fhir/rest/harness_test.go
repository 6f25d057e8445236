package rest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/server"
)

// env is one running server over a fresh embedded store.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *sqlite.Store
}

func newEnv(t *testing.T, cfg rest.Config) *env {
	t.Helper()
	return newEnvWith(t, cfg, envOptions{})
}

// envOptions add access control to an env: authorizer builds the
// Service's Authorizer, and wrap wraps the HTTP handler (to put the
// caller on the request context, as the token layer does).
type envOptions struct {
	authorizer func(*search.Registry) fhir.Authorizer
	wrap       func(http.Handler) http.Handler
}

func newEnvWith(t *testing.T, cfg rest.Config, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	cfg.Started = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := search.NewRegistry(search.Options{BaseURL: cfg.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	if o.authorizer != nil {
		svc.Authorizer = o.authorizer(reg)
	}
	e, err := server.New(server.Options{Service: svc, REST: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = e
	if o.wrap != nil {
		srv.Config.Handler = o.wrap(e)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: st}
}

// response is a fully read HTTP response.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.body)
	}
	return m
}

// do sends a request; headers are name/value pairs.
func (e *env) do(method, path string, body []byte, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res, b}
}

// must checks the status and returns the response.
func (e *env) must(status int, method, path string, body []byte, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, r.StatusCode, status, r.body)
	}
	return r
}

// outcomeOf checks that r is an OperationOutcome with the given status and
// issue code, and returns its first issue.
func outcomeOf(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d; body: %s", r.StatusCode, status, r.body)
	}
	m := r.json(t)
	if m["resourceType"] != "OperationOutcome" {
		t.Fatalf("body is a %v, want OperationOutcome: %s", m["resourceType"], r.body)
	}
	issues, _ := m["issue"].([]any)
	if len(issues) == 0 {
		t.Fatalf("OperationOutcome without issues: %s", r.body)
	}
	first := issues[0].(map[string]any)
	if code != "" && first["code"] != code {
		t.Fatalf("issue code %v, want %s: %s", first["code"], code, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/fhir+json; charset=utf-8" {
		t.Fatalf("OperationOutcome Content-Type %q", ct)
	}
	return first
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

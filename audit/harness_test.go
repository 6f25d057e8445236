package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/server"
	"github.com/telefhir/telefhir/smart/access"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// base is the FHIR base of every test server: it names the server in the
// records, so it is fixed rather than the listener's address.
const base = "http://fhir.test"

// stores are the stores every end-to-end test runs on.
var stores = []string{"sqlite", "postgres"}

// eachStore runs f in a parallel subtest per store, on a fresh server
// that has the data of setup.
func eachStore(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			setup(e)
			f(t, e)
		})
	}
}

// openStore returns a fresh, migrated store of the kind named and a
// function that runs SQL on its database directly, behind the store's
// back ($n placeholders work in both).
func openStore(t testing.TB, kind string) (store.Store, func(query string, args ...any)) {
	t.Helper()
	if kind == "postgres" {
		u := pgtest.URL(t)
		st, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st, func(query string, args ...any) {
			t.Helper()
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			if _, err := conn.Exec(t.Context(), query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st, func(query string, args ...any) {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
}

// clock is a deterministic clock: every reading is one millisecond after
// the previous one; jump moves it.
type clock struct{ n, offset atomic.Int64 }

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func (c *clock) now() time.Time {
	return t0.Add(time.Duration(c.offset.Load()) + time.Duration(c.n.Add(1))*time.Millisecond)
}

// jump moves the clock by d.
func (c *clock) jump(d time.Duration) { c.offset.Add(int64(d)) }

// ids makes sequential AuditEvent ids.
type ids struct{ n atomic.Int64 }

func (i *ids) next() string { return fmt.Sprintf("ae-%04d", i.n.Add(1)) }

// env is a running server with the audit trail over a fresh store.
type env struct {
	t testing.TB
	// sql runs SQL on the store's database directly.
	sql   func(query string, args ...any)
	reqs  int // requests sent, for their ids
	st    store.Store
	svc   *fhir.Service
	trail *audit.Trail
	srv   *httptest.Server
	clock *clock
	logs  *syncBuffer
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// grants are the callers tests act as, by the X-Test-Grant header. The
// bearer-token middleware (smart) puts the Grant on the context in the
// same place, inside the audit middleware; the test stands in for it.
var grants = map[string]*access.Grant{
	"practitioner": {
		TokenID: "tok-7f3a", ClientID: "ehr-app", Subject: "u-123", FHIRUser: "Practitioner/d1",
		Role: access.RolePractitioner,
	},
	"backend": {
		// A token known only whole (a JWT): recorded by its suffix.
		TokenID:  "eyJhbGciOiJSUzM4NCJ9.eyJzdWIiOiJiYWNrZW5kIn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVha3h5ejEyMw",
		ClientID: "lab-backend", Subject: "lab-backend", Role: access.RoleSystem,
	},
	"auditor": {TokenID: "tok-aud1", ClientID: "audit-console", Subject: "u-9", FHIRUser: "Practitioner/aud", Role: access.RoleAuditor},
}

// testCaller stands in for the bearer-token middleware and the SMART
// enforcement: X-Test-Grant names the caller, X-Test-Deny refuses the
// request as the enforcement would, X-Test-Panic panics.
func testCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if g := grants[r.Header.Get("X-Test-Grant")]; g != nil {
			c.SetRequest(r.WithContext(access.WithGrant(r.Context(), g)))
		}
		if r.Header.Get("X-Test-Deny") != "" {
			return outcome.New(outcome.KindForbidden, "the granted scopes do not allow reading %s resources", c.Param("type"))
		}
		if r.Header.Get("X-Test-Panic") != "" {
			panic("test panic")
		}
		return next(c)
	}
}

// bundleRoute stands in for the Bundle endpoint (POST [base]): it runs
// its entries, given as "GET Type/id" and "PUT Type/id <json>" lines,
// through the service, as the transaction handler does.
func bundleRoute(svc *fhir.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			method, rest, _ := strings.Cut(line, " ")
			target, res, _ := strings.Cut(rest, " ")
			typ, id, _ := strings.Cut(target, "/")
			switch method {
			case "GET":
				if _, err := svc.Read(ctx, typ, id); err != nil {
					return err
				}
			case "PUT":
				if _, err := svc.Update(ctx, typ, id, []byte(res), fhir.Preconditions{}); err != nil {
					return err
				}
			}
		}
		return c.NoContent(http.StatusOK)
	}
}

// classify is rest.Classify plus the test's Bundle route.
func classify(method, path string) (string, string, bool) {
	if method == http.MethodPost && path == "/" {
		return "transaction", "", true
	}
	return rest.Classify(method, path)
}

func newEnv(t testing.TB, kind string) *env {
	t.Helper()
	st, exec := openStore(t, kind)
	reg, err := search.NewRegistry(search.Options{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, sql: exec, clock: &clock{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ids := &ids{}
	e.trail, err = audit.New(audit.Options{
		Store: st, Registry: reg, BaseURL: base, Software: "telefhir test", Logger: log,
		Now: e.clock.now, NewID: ids.next,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.trail.Close() })
	e.svc = &fhir.Service{Store: e.trail.Wrap(st), Registry: reg, Now: e.clock.now}
	h, err := server.New(server.Options{
		Service: e.svc, Logger: log, Audit: e.trail.Middleware(classify),
		REST: rest.Config{BaseURL: base, Started: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Use(testCaller)
	h.POST("/", bundleRoute(e.svc))
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// response is a fully read HTTP response.
type response struct {
	*http.Response
	body []byte
}

// do sends a request; headers are name/value pairs. Requests carry
// X-Request-Id setup-N unless one is given.
func (e *env) do(method, path string, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	e.reqs++
	req.Header.Set("X-Request-Id", fmt.Sprintf("setup-%d", e.reqs))
	for i := 0; i+1 < len(headers); i += 2 {
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

// must sends a request and checks its status.
func (e *env) must(status int, method, path, body string, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, r.StatusCode, status, r.body)
	}
	return r
}

// head is the chain's last position after sealing everything queued.
func (e *env) head() int64 {
	e.t.Helper()
	e.seal()
	es := e.chain(0)
	if len(es) == 0 {
		a, err := e.st.(store.AuditLog).AuditAnchor(e.t.Context())
		if err != nil {
			e.t.Fatal(err)
		}
		return a.Pos
	}
	return es[len(es)-1].Pos
}

func (e *env) seal() {
	e.t.Helper()
	if _, err := e.trail.SealAll(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// chain returns every link after position after.
func (e *env) chain(after int64) []store.AuditEntry {
	e.t.Helper()
	var all []store.AuditEntry
	for {
		page, err := e.st.(store.AuditLog).AuditChain(e.t.Context(), after, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
		after = page[len(page)-1].Pos
	}
}

// eventsAfter seals what is queued and returns the AuditEvents after
// chain position after, decoded, in chain order.
func (e *env) eventsAfter(after int64) []map[string]any {
	e.t.Helper()
	e.seal()
	var out []map[string]any
	for _, en := range e.chain(after) {
		var m map[string]any
		if err := json.Unmarshal(en.Body, &m); err != nil {
			e.t.Fatalf("AuditEvent/%s is not JSON: %v", en.ID, err)
		}
		out = append(out, m)
	}
	return out
}

// golden compares got with testdata/<name>.json, or writes it with
// -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./audit -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from %s (run go test ./audit -update and review the diff):\n%s", name, path, lineDiff(string(want), string(b)))
	}
}

// lineDiff shows the first lines where a and b differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	shown := 0
	for i := 0; i < max(len(al), len(bl)) && shown < 12; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n  want %s\n  got  %s\n", i+1, x, y)
			shown++
		}
	}
	return out.String()
}

// operator is a context whose caller is an operator running a command.
func operator(t *testing.T) context.Context {
	return access.WithGrant(t.Context(), &access.Grant{Subject: "u-ops", Role: access.RoleAdmin})
}

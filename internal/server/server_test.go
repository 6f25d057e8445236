package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

// TestBearerAuth: the middleware puts the token's Grant on the request
// context, and refuses missing, unknown and revoked tokens with the
// WWW-Authenticate header RFC 6750 asks for; /metadata stays open.
func TestBearerAuth(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const base = "http://fhir.test"
	ost := sqlitestore.New(st)
	svc := &fhir.Service{Store: st}
	auth, err := smart.New(ctx, smart.Config{BaseURL: base, Store: ost, FHIR: svc, Dev: identity.NewDev("pw")})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := New(Options{Service: svc, Logger: log, Auth: auth, REST: rest.Config{BaseURL: base}})
	if err != nil {
		t.Fatal(err)
	}
	var seen *access.Grant
	e.GET("/probe", func(c echo.Context) error {
		seen, _ = access.FromContext(c.Request().Context())
		return c.NoContent(http.StatusNoContent)
	}, bearerAuth(auth, base))

	u, _ := identity.NewDev("pw").User("practitioner")
	tok, err := smart.Mint(ctx, ost, u, "launch user/Observation.rs", "p1", "e1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serve := func(path, authz string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve("/probe", "Bearer "+tok); rec.Code != 204 || seen == nil {
		t.Fatalf("valid token: %d, grant %v", rec.Code, seen)
	}
	if seen.Subject != "practitioner" || seen.Role != access.RolePractitioner || seen.FHIRUser != "Practitioner/dev-practitioner" ||
		seen.Patient != "p1" || seen.Encounter != "e1" || seen.ClientID != smart.CLIClient || !seen.Scopes.Allows("user", "Observation", 2) ||
		seen.TokenID == "" || seen.ExpiresAt.IsZero() {
		t.Fatalf("grant: %+v", seen)
	}
	for _, tt := range []struct {
		name, authz, header string
	}{
		{"no token", "", `Bearer realm="` + base + `"`},
		{"basic scheme", "Basic abc", `Bearer realm="` + base + `"`},
		{"unknown token", "Bearer nope", `Bearer realm="` + base + `", error="invalid_token", error_description="the access token is invalid, expired or revoked"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			rec := serve("/probe", tt.authz)
			if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != tt.header || seen != nil {
				t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	if rec := serve("/metadata", ""); rec.Code != 200 {
		t.Fatalf("/metadata without a token: %d", rec.Code)
	}
	if rec := serve("/Patient/p1", ""); rec.Code != 401 {
		t.Fatalf("FHIR read without a token: %d", rec.Code)
	}
	if rec := serve("/Patient/p1", "Bearer "+tok); rec.Code != 404 {
		t.Fatalf("FHIR read of a missing patient with a token: %d", rec.Code)
	}
}

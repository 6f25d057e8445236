// Package smarttest starts the whole server for tests: the FHIR API
// behind the bearer-token middleware and the SMART authorization server,
// on a fresh embedded store, over real HTTP on 127.0.0.1.
//
//	s := smarttest.Start(t, smarttest.Options{DevPassword: "pw"})
//	http.Get(s.Base + "/.well-known/smart-configuration")
package smarttest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/server"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

// Options tune the server.
type Options struct {
	// Upstream, when set, is the identity; otherwise the dev identity runs
	// with DevPassword and its resources and clients are seeded.
	Upstream    *identity.Upstream
	DevPassword string
	// AutoApprove is the dev identity's auto-approve user.
	AutoApprove string
	// Listener is the unstarted server to use, when its address must be
	// known before (an upstream provider's callback URL).
	Listener *httptest.Server
	Now      func() time.Time
	Logger   *slog.Logger
	// TokenRate and TokenBurst default to 1000 (no limit in practice).
	TokenRate  float64
	TokenBurst int
}

// Server is a running server.
type Server struct {
	Base  string
	Store oauthstore.Store
	FHIR  *fhir.Service
	Auth  *smart.Server
}

// Start starts the server; it stops when tb ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	ctx := tb.Context()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "db.sqlite"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	ts := o.Listener
	if ts == nil {
		ts = httptest.NewUnstartedServer(nil)
	}
	base := "http://" + ts.Listener.Addr().String()
	reg, err := search.NewRegistry(search.Options{BaseURL: base})
	if err != nil {
		tb.Fatal(err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.TokenRate == 0 {
		o.TokenRate, o.TokenBurst = 1000, 1000
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	ost := sqlitestore.New(st)
	cfg := smart.Config{
		BaseURL: base, Store: ost, FHIR: svc, Now: o.Now, Logger: o.Logger,
		TokenRate: o.TokenRate, TokenBurst: o.TokenBurst, Upstream: o.Upstream,
	}
	if o.Upstream == nil {
		cfg.Dev, cfg.AutoApprove = identity.NewDev(o.DevPassword), o.AutoApprove
		if err := smart.SeedDev(ctx, svc, ost, o.DevPassword, o.Now()); err != nil {
			tb.Fatal(err)
		}
	}
	srv, err := smart.New(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := server.New(server.Options{Service: svc, Logger: o.Logger, Auth: srv, REST: rest.Config{BaseURL: base, Security: srv.Security()}})
	if err != nil {
		tb.Fatal(err)
	}
	ts.Config.Handler = e
	ts.Start()
	tb.Cleanup(ts.Close)
	return &Server{Base: base, Store: ost, FHIR: svc, Auth: srv}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/events"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/logging"
	"github.com/telefhir/telefhir/internal/server"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/subscriptions"
	"github.com/telefhir/telefhir/subscriptions/outbox"
)

// migratingStore is a store that can bring its schema up to date.
type migratingStore interface {
	store.Store
	Migrate(ctx context.Context) error
}

func newLogger(c *config) *slog.Logger {
	l, _ := c.level()
	return logging.New(os.Stderr, logging.Options{Level: l, Format: c.LogFormat})
}

// openStore opens Postgres when a database URL is configured and the
// embedded store otherwise, and describes which it opened (without
// credentials).
func openStore(ctx context.Context, c *config) (migratingStore, string, error) {
	if c.DatabaseURL != "" {
		s, err := postgres.Open(ctx, c.DatabaseURL)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		return s, "postgres", nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	s, err := sqlite.Open(ctx, c.sqlitePath())
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store: %w", err)
	}
	return s, "embedded (" + c.sqlitePath() + ")", nil
}

// openMigrated is openStore followed by Migrate.
func openMigrated(ctx context.Context, c *config) (migratingStore, string, error) {
	st, desc, err := openStore(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, "", fmt.Errorf("migrate %s store: %w", desc, err)
	}
	return st, desc, nil
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := loadConfig("migrate", args, os.Getenv)
	if err != nil {
		return err
	}
	st, desc, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = fmt.Fprintf(stdout, "telefhir: %s store schema is up to date\n", desc)
	return err
}

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := loadConfig("serve", args, os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(c)
	slog.SetDefault(log)

	st, storeDesc, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}

	bus, err := events.Open(ctx, events.Config{URL: c.NATSURL, DataDir: c.natsDir(), Listen: c.NATSListen, Logger: log})
	if err != nil {
		return err
	}
	defer bus.Close()
	natsDesc := "external NATS"
	if bus.Embedded() {
		natsDesc = "embedded NATS (" + c.natsDir() + ")"
		if c.NATSListen != "" {
			natsDesc += ", listening on " + c.NATSListen
		}
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	defer ln.Close()
	if c.baseDerived {
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if h, _, _ := net.SplitHostPort(c.Addr); h == "" || h == "0.0.0.0" || h == "::" {
			host = h
		}
		c.BaseURL = c.deriveBaseURL(host, port)
	}

	reg, err := search.NewRegistry(search.Options{BaseURL: c.BaseURL})
	if err != nil {
		return fmt.Errorf("search parameters: %w", err)
	}
	js := bus.JetStream()
	relay := &outbox.Relay{Store: st, JS: js, Logger: log}
	svc := &fhir.Service{Store: st, Registry: reg}
	var trail *audit.Trail
	var auditMW echo.MiddlewareFunc
	if c.Audit {
		trail, err = audit.New(audit.Options{Store: st, Registry: reg, BaseURL: c.BaseURL, Software: "telefhir " + buildVersion(), Logger: log})
		if err != nil {
			return err
		}
		// After the HTTP server has stopped (requests wait for their
		// records): commit what is pending, and seal what is queued so that
		// a clean shutdown leaves nothing behind.
		defer func() {
			_ = trail.Close()
			sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
			defer cancel()
			if n, err := trail.SealAll(sctx); err != nil {
				log.Warn("audit records stay queued; the next start seals them", "error", err, "sealed", n)
			}
		}()
		svc.Store = trail.Wrap(st)
		auditMW = trail.Middleware(rest.Classify)
	} else {
		log.Warn("the audit trail is off (--audit off): FHIR interactions are not recorded")
	}
	svc.Store = outbox.Notify(svc.Store, relay)
	subsCfg := subscriptions.Config{
		Service: svc, JS: js, BaseURL: c.BaseURL, AllowLoopbackHTTP: c.LoopbackHooks, Logger: log,
		Changes: outbox.StreamConfig{Replicas: c.NATSReplicas},
		Log:     subscriptions.LogConfig{Replicas: c.NATSReplicas},
	}
	if c.Auth == "on" {
		svc.Authorizer = access.NewEnforcer(reg)
		subsCfg.Authorizer = subscriptions.ServiceAuthorizer{Service: svc}
	}
	subs, err := subscriptions.New(ctx, subsCfg)
	if err != nil {
		return err
	}
	svc.Hooks = map[string]fhir.WriteHook{"Subscription": subs.Hook()}
	fmt.Fprintf(stdout, "telefhir %s serving FHIR R4 at %s\n  store:  %s\n  events: %s\n", buildVersion(), c.BaseURL, storeDesc, natsDesc)
	auth, security, err := buildAuth(ctx, c, st, svc, stdout)
	if err != nil {
		return err
	}
	e, err := server.New(server.Options{
		Service: svc,
		Audit:   auditMW,
		Logger:  log,
		Auth:    auth,
		Routes:  []server.Route{{Method: http.MethodGet, Path: subscriptions.WebsocketPath, Handler: http.HandlerFunc(subs.ServeWebsocket)}},
		REST: rest.Config{
			BaseURL:          c.BaseURL,
			MaxBodyBytes:     c.MaxBody,
			MaxBundleBytes:   c.MaxBundleBody,
			MaxBundleEntries: c.MaxBundle,
			DefaultCount:     c.DefaultCount,
			MaxCount:         c.MaxCount,
			Software:         conformance.Software{Name: "telefhir", Version: buildVersion()},
			Started:          time.Now(),
			Security:         security,
			Operations:       subs.Operations(),

			SubscriptionTopics: subs.TopicURLs(),
		},
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("telefhir started", "version", buildVersion(), "addr", ln.Addr().String(), "base_url", c.BaseURL, "store", storeDesc, "events", natsDesc, "auth", auth != nil)

	g, gctx := errgroup.WithContext(ctx)
	if auth != nil {
		g.Go(func() error { auth.Janitor(gctx, 10*time.Minute); return nil })
	}
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error { return subs.Run(gctx) })
	if trail != nil {
		g.Go(func() error { return trail.RunSealer(gctx) })
	}
	g.Go(func() error {
		var err error
		if c.TLSCert != "" {
			err = srv.ServeTLS(ln, c.TLSCert, c.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("telefhir shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telefhir/telefhir/fhir/store/postgres"
)

// EnvURL names the variable holding the test server's connection string.
const EnvURL = "TELEFHIR_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func baseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// probe remembers whether the server answered, so that without Postgres
// every test skips at once instead of each waiting for its own timeout.
var probe struct {
	once sync.Once
	err  error
}

func connect(ctx context.Context, tb testing.TB) *pgx.Conn {
	tb.Helper()
	probe.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, err := adminConnect(ctx)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(ctx)
		}
		probe.err = err
	})
	if probe.err != nil {
		unavailable(tb, probe.err)
	}
	conn, err := adminConnect(ctx)
	if err != nil {
		unavailable(tb, err)
	}
	return conn
}

// adminConnect opens one connection to the server at the base URL, which
// may carry pgxpool options (pool_max_conns, ...) meant for the stores.
func adminConnect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(baseURL())
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// unavailable skips the test, or fails it when CI=true: in CI the tests
// that need Postgres must run.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	msg := fmt.Sprintf("Postgres is not reachable at %s (%s): %v", redacted(baseURL()), EnvURL, err)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s; CI=true requires it", msg)
	}
	tb.Skipf("%s; set %s to a server where the tests may create schemas", msg, EnvURL)
}

func redacted(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "a key=value connection string"
}

// URL creates a fresh, empty schema and returns a connection string whose
// search_path is that schema. The schema is dropped when tb ends; close any
// pool using it first (a t.Cleanup registered after URL runs before).
func URL(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := connect(ctx, tb)
	defer func() { _ = conn.Close(ctx) }()

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "storetest_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := adminConnect(ctx)
		if err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(baseURL(), schema)
}

// withSearchPath sets search_path, sent as a run-time parameter when each
// connection starts, in a URL or key=value connection string.
func withSearchPath(conn, schema string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		if u, err := url.Parse(conn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return conn + " search_path=" + schema
}

// Open returns a migrated store in a fresh schema (see URL), closed and
// dropped when tb ends.
func Open(tb testing.TB) *postgres.Store {
	tb.Helper()
	return OpenAt(tb, URL(tb))
}

// OpenAt opens a store on the schema of u (from URL), migrating it, and
// closes it when tb ends. Several stores on one URL are several nodes on
// one database.
func OpenAt(tb testing.TB, u string) *postgres.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return s
}

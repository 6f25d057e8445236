package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]sqlq.Migration, error) {
	return sqlq.LoadMigrations(migrationFiles, "migrations")
}

// migrateLock is the first key of the advisory lock Migrate holds; the
// second is the hash of the schema being migrated, so nodes migrating the
// same schema queue up while different schemas (parallel tests) do not.
const migrateLock int32 = 0x7e1ef41

// Migrate applies the embedded migrations that schema_migrations does not
// list yet, in order, each in its own transaction holding an advisory lock,
// in the first schema of the connection's search_path. It is idempotent and
// safe to run from several nodes at once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("postgres: migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func apply(ctx context.Context, tx pgx.Tx, m sqlq.Migration) error {
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return fmt.Errorf("no schema in search_path exists")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrateLock, *schema); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return err
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil {
		return err
	}
	if applied {
		return nil
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	return err
}

package sqlite

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]sqlq.Migration, error) {
	return sqlq.LoadMigrations(migrationFiles, "migrations")
}

// Migrate applies the embedded migrations that schema_migrations does not
// list yet, each in its own write transaction, in order. It is idempotent
// and safe to run from several processes at once (BEGIN IMMEDIATE).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m sqlq.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

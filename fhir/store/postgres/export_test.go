package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MigrateTo applies the migrations up to version, for tests of a migration
// over data written by the schema before it.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version > version {
			break
		}
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return apply(ctx, tx, m) }); err != nil {
			return err
		}
	}
	return nil
}

// Package sqlitetest opens embedded stores for tests.
//
//	st := sqlitetest.Open(t) // migrated, in t.TempDir(), closed when t ends
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

// Open returns a migrated store in a fresh file under tb.TempDir, closed
// when tb ends.
func Open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "data", "telefhir.db"))
	if err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	return s
}

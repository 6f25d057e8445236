package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/oauthtest"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

func TestConformance(t *testing.T) {
	oauthtest.Run(t, func(t *testing.T) oauthstore.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return sqlitestore.New(s)
	})
}

package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/telefhir/telefhir/fhir/store"
)

func TestTranslate(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error // nil: neither store error
	}{
		{&pgconn.PgError{Code: "23505"}, store.ErrConflict},
		{&pgconn.PgError{Code: "40001"}, store.ErrConflict},
		{&pgconn.PgError{Code: "40P01"}, store.ErrConflict},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), store.ErrConflict},
		{pgx.ErrNoRows, store.ErrNotFound},
		{&pgconn.PgError{Code: "23503"}, nil}, // foreign key: a bug, not a race
		{&pgconn.PgError{Code: "42P01"}, nil},
		{errors.New("other"), nil},
	} {
		got := translate(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("translate(%v) = %v, lost the cause", c.err, got)
		}
		for _, e := range []error{store.ErrConflict, store.ErrNotFound} {
			if errors.Is(got, e) != (e == c.want) {
				t.Errorf("translate(%v) = %v; errors.Is(%v) = %v", c.err, got, e, errors.Is(got, e))
			}
		}
	}
}

package pgstore_test

import (
	"testing"

	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/oauthtest"
	"github.com/telefhir/telefhir/smart/oauthstore/pgstore"
)

func TestConformance(t *testing.T) {
	oauthtest.Run(t, func(t *testing.T) oauthstore.Store { return pgstore.New(pgtest.Open(t)) })
}

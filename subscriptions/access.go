package subscriptions

import (
	"context"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/smart/access"
)

// ServiceAuthorizer is the Authorizer of a server whose FHIR Service
// enforces access: a subscriber's grant may receive a resource when the
// Service would let the same grant read or search it. The grant is the
// snapshot taken when the Subscription was written; it is checked for
// what it allows, not for the lifetime of the token it came from, since a
// subscription outlives its creator's access token.
type ServiceAuthorizer struct {
	Service *fhir.Service
}

// MayRead implements Authorizer.
func (a ServiceAuthorizer) MayRead(ctx context.Context, g *access.Grant, r store.Resource) (bool, error) {
	ng := *g
	ng.ExpiresAt = time.Time{}
	ok, err := a.Service.Visible(access.WithGrant(ctx, &ng), r, fhir.ActionRead, fhir.ActionSearch)
	if outcome.Is(err, outcome.KindUnauthorized) {
		return false, nil
	}
	return ok, err
}

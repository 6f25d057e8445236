package access

import (
	"context"
	"time"

	"github.com/telefhir/telefhir/smart/scope"
)

// Role is what a user is in the organisation; it caps what any scope can
// grant.
type Role string

const (
	// RolePractitioner: clinicians, who may read and write clinical data.
	RolePractitioner Role = "practitioner"
	// RolePatient: a patient (or their proxy), confined to their own
	// compartment whatever the scopes say.
	RolePatient Role = "patient"
	// RoleAdmin: administrators (client registration, configuration).
	RoleAdmin Role = "admin"
	// RoleAuditor: may read AuditEvents; nothing clinical.
	RoleAuditor Role = "auditor"
	// RoleSystem: a Backend Services client acting for itself
	// (client_credentials), bounded by its system/ scopes.
	RoleSystem Role = "system"
)

// Grant is what an access token stands for: the client, the user, their
// role, the scopes granted and the launch context.
type Grant struct {
	// TokenID identifies the access token in audit records and logs (never
	// the token itself).
	TokenID  string
	ClientID string
	// Subject is the user's id at this server (the client id for Backend
	// Services).
	Subject string
	// FHIRUser is the user's FHIR resource ("Practitioner/123",
	// "Patient/456"), empty when the user has none.
	FHIRUser string
	Role     Role
	Scopes   scope.Set
	// Patient and Encounter are the launch context ids (no type prefix).
	Patient   string
	Encounter string
	ExpiresAt time.Time
}

type grantKey struct{}

// WithGrant returns ctx carrying g.
func WithGrant(ctx context.Context, g *Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// FromContext returns the grant on ctx, if any.
func FromContext(ctx context.Context) (*Grant, bool) {
	g, ok := ctx.Value(grantKey{}).(*Grant)
	return g, ok && g != nil
}

package smart

import (
	"context"

	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/scope"
)

// serverClient names the authorization server itself when it reads or
// writes FHIR resources on its own behalf.
const serverClient = "telefhir-auth"

var (
	systemRead, _  = scope.ParseSet("system/Patient.rs system/Practitioner.rs system/Encounter.rs")
	systemWrite, _ = scope.ParseSet("system/Patient.cruds system/Practitioner.cruds system/Encounter.cruds")
)

// asServer returns ctx carrying the grant of the authorization server's
// own FHIR calls (resolving a launch's patient and encounter, listing
// patients at consent, seeding the dev resources), so that the
// enforcement in fhir sees who is asking: a system caller limited to the
// types it needs.
func asServer(ctx context.Context, write bool) context.Context {
	set := systemRead
	if write {
		set = systemWrite
	}
	return access.WithGrant(ctx, &access.Grant{ClientID: serverClient, Subject: serverClient, Role: access.RoleSystem, Scopes: set})
}

package identity

import (
	"crypto/subtle"
	"slices"

	"github.com/telefhir/telefhir/smart/access"
)

// User is a person (or tool) signed in at the authorize endpoint.
type User struct {
	// ID is the user's subject at this server (id_token sub).
	ID   string      `json:"id"`
	Name string      `json:"name,omitempty"`
	Role access.Role `json:"role"`
	// FHIRUser is the user's own FHIR resource ("Practitioner/123").
	FHIRUser string `json:"fhir_user,omitempty"`
	// Patients are the patients the user may pick at consent for a
	// standalone launch; empty means any (practitioners) or only their own
	// (patients).
	Patients []string `json:"patients,omitempty"`
}

// The dev identity's seeded FHIR resources.
const (
	DevPractitionerID = "dev-practitioner"
	DevPatientID      = "dev-patient"
	DevEncounterID    = "dev-encounter"
)

// DevUsers are the dev identity's users. Their FHIR resources are created
// at start when missing (see smart.SeedDev).
func DevUsers() []User {
	return []User{
		{ID: "practitioner", Name: "Dr. Dev Practitioner", Role: access.RolePractitioner, FHIRUser: "Practitioner/" + DevPractitionerID},
		{ID: "patient", Name: "Dev Patient", Role: access.RolePatient, FHIRUser: "Patient/" + DevPatientID, Patients: []string{DevPatientID}},
		{ID: "admin", Name: "Dev Admin", Role: access.RoleAdmin},
		{ID: "auditor", Name: "Dev Auditor", Role: access.RoleAuditor},
	}
}

// Dev is the built-in development identity: the DevUsers, all with one
// password.
type Dev struct {
	password string
	users    []User
}

// NewDev returns the dev identity whose users sign in with password.
func NewDev(password string) *Dev { return &Dev{password: password, users: DevUsers()} }

// Users lists the dev users.
func (d *Dev) Users() []User { return slices.Clone(d.users) }

// User returns the dev user with id.
func (d *Dev) User(id string) (User, bool) {
	for _, u := range d.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// Check returns the user when username and password are right. The
// password is compared in constant time.
func (d *Dev) Check(username, password string) (User, bool) {
	u, ok := d.User(username)
	okPass := subtle.ConstantTimeCompare([]byte(password), []byte(d.password)) == 1
	if !ok || !okPass || d.password == "" {
		return User{}, false
	}
	return u, true
}

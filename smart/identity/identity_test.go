package identity

import (
	"errors"
	"slices"
	"testing"

	"github.com/telefhir/telefhir/smart/access"
)

func TestDevCheck(t *testing.T) {
	d := NewDev("s3cret")
	if u, ok := d.Check("practitioner", "s3cret"); !ok || u.Role != access.RolePractitioner || u.FHIRUser != "Practitioner/"+DevPractitionerID {
		t.Fatalf("practitioner: %+v %v", u, ok)
	}
	for _, tt := range []struct{ user, pw string }{{"practitioner", "wrong"}, {"nobody", "s3cret"}, {"admin", ""}} {
		if _, ok := d.Check(tt.user, tt.pw); ok {
			t.Errorf("Check(%q, %q) accepted", tt.user, tt.pw)
		}
	}
	if _, ok := NewDev("").Check("admin", ""); ok {
		t.Error("an empty dev password lets anyone in")
	}
}

func TestMapClaims(t *testing.T) {
	u := &Upstream{cfg: UpstreamConfig{RoleClaim: "role", FHIRUserClaim: "fhirUser", PatientsClaim: "patients"}}
	tests := []struct {
		name    string
		claims  map[string]any
		def     access.Role
		want    User
		wantErr bool
	}{
		{"practitioner with absolute fhirUser and patient list",
			map[string]any{"role": "practitioner", "fhirUser": "https://ehr.example/fhir/Practitioner/9", "patients": []any{"p1", "Patient/p2", "https://x/fhir/Patient/p3"}, "name": "Dr X"}, "",
			User{ID: "sub", Name: "Dr X", Role: access.RolePractitioner, FHIRUser: "Practitioner/9", Patients: []string{"p1", "p2", "p3"}}, false},
		{"role among groups", map[string]any{"role": []any{"staff", "admin"}}, "", User{ID: "sub", Role: access.RoleAdmin}, false},
		{"patient is their own patient", map[string]any{"role": "patient", "fhirUser": "Patient/me", "patients": []any{"other"}}, "",
			User{ID: "sub", Role: access.RolePatient, FHIRUser: "Patient/me", Patients: []string{"me"}}, false},
		{"patient without a Patient fhirUser", map[string]any{"role": "patient"}, "", User{}, true},
		{"no role, no default", map[string]any{}, "", User{}, true},
		{"unknown role, default", map[string]any{"role": "system"}, access.RoleAuditor, User{ID: "sub", Role: access.RoleAuditor}, false},
		{"preferred_username as name", map[string]any{"role": "auditor", "preferred_username": "aud"}, "", User{ID: "sub", Name: "aud", Role: access.RoleAuditor}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u.cfg.DefaultRole = tt.def
			got, err := u.mapClaims("sub", tt.claims)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrLogin) {
					t.Errorf("error %v does not wrap ErrLogin", err)
				}
				return
			}
			if got.ID != tt.want.ID || got.Name != tt.want.Name || got.Role != tt.want.Role || got.FHIRUser != tt.want.FHIRUser || !slices.Equal(got.Patients, tt.want.Patients) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

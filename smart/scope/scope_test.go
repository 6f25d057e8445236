package scope

import (
	"testing"
)

func TestParseResource(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		wantErr bool
		want    string
		perms   Permission
	}{
		{"patient/Observation.read", true, false, "patient/Observation.read", Read | Search},
		{"user/*.write", true, false, "user/*.write", Create | Update | Delete},
		{"system/Patient.*", true, false, "system/Patient.*", All},
		{"patient/Observation.rs", true, false, "patient/Observation.rs", Read | Search},
		{"patient/Observation.cruds", true, false, "patient/Observation.cruds", All},
		{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", true, false,
			"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", Read | Search},
		{"patient/Observation.sr", true, true, "", 0},
		{"patient/Observation.rr", true, true, "", 0},
		{"patient/Observation.x", true, true, "", 0},
		{"patient/Observation.", true, true, "", 0},
		{"patient/observation.rs", true, true, "", 0},
		{"patient/Observation", true, true, "", 0},
		{"patient/Observation.read?category=x", true, true, "", 0},
		{"patient/Observation.rs?", true, true, "", 0},
		{"patient", false, false, "", 0},
		{"openid", false, false, "", 0},
	}
	for _, tt := range tests {
		r, ok, err := ParseResource(tt.in)
		if ok != tt.ok || (err != nil) != tt.wantErr {
			t.Errorf("ParseResource(%q) = ok %v, err %v; want ok %v, err %v", tt.in, ok, err, tt.ok, tt.wantErr)
			continue
		}
		if err != nil || !ok {
			continue
		}
		if got := r.String(); got != tt.want {
			t.Errorf("ParseResource(%q).String() = %q", tt.in, got)
		}
		if r.Perms != tt.perms {
			t.Errorf("ParseResource(%q).Perms = %s, want %s", tt.in, r.Perms, tt.perms)
		}
	}
}

func TestParseSet(t *testing.T) {
	s, err := ParseSet("launch/patient openid fhirUser offline_access patient/Observation.rs user/Patient.read foo")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LaunchPatient || !s.OpenID || !s.FHIRUser || !s.OfflineAccess || s.Launch || s.OnlineAccess {
		t.Errorf("context scopes wrong: %+v", s)
	}
	if len(s.Other) != 1 || s.Other[0] != "foo" {
		t.Errorf("Other = %v", s.Other)
	}
	if !s.Allows(Patient, "Observation", Read) || s.Allows(Patient, "Observation", Create) || s.Allows(User, "Observation", Read) {
		t.Error("Allows wrong")
	}
	if !s.Allows(User, "Patient", Search) {
		t.Error("user/Patient.read should allow search")
	}
	if got, want := s.String(), "launch/patient openid fhirUser offline_access patient/Observation.rs user/Patient.read foo"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := ParseSet("patient/Observation.zz user/x.read"); err == nil {
		t.Error("malformed scopes accepted")
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"patient/Observation.rs?category=a|b", "user/*.read openid", "system/Patient.cruds", "launch/patient"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseSet(s)
		if err != nil {
			return
		}
		// What we print parses back to the same thing.
		again, err := ParseSet(set.String())
		if err != nil {
			t.Fatalf("reparse of %q (%q): %v", s, set.String(), err)
		}
		if again.String() != set.String() {
			t.Fatalf("not stable: %q -> %q", set.String(), again.String())
		}
	})
}

package scope

import (
	"slices"
	"testing"
)

func TestNarrow(t *testing.T) {
	tests := []struct {
		name, asked, allowed, want string
		dropped                    []string
	}{
		{"all allowed", "launch openid fhirUser patient/Observation.rs", "launch openid fhirUser offline_access patient/*.cruds", "launch openid fhirUser patient/Observation.rs", nil},
		{"context not allowed", "launch/patient offline_access patient/Patient.read", "launch/patient patient/*.read", "launch/patient patient/Patient.read", []string{"offline_access"}},
		{"permissions cut", "user/Observation.cruds", "user/Observation.rs", "user/Observation.rs", []string{"user/Observation.cruds"}},
		{"v1 cut to v2 letters", "user/Observation.*", "user/*.read", "user/Observation.rs", []string{"user/Observation.*"}},
		{"level mismatch", "system/Patient.rs patient/Patient.rs", "patient/*.rs", "patient/Patient.rs", []string{"system/Patient.rs"}},
		{"filter kept", "patient/Observation.rs?category=vital-signs", "patient/Observation.rs", "patient/Observation.rs?category=vital-signs", nil},
		{"filtered allowance needs the same filter", "patient/Observation.rs", "patient/Observation.rs?category=vital-signs", "", []string{"patient/Observation.rs"}},
		{"other dropped", "foo patient/Patient.r", "patient/*.cruds", "patient/Patient.r", []string{"foo"}},
		{"union of allowances", "user/Patient.crs", "user/Patient.c user/*.rs", "user/Patient.crs", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked, err := ParseSet(tt.asked)
			if err != nil {
				t.Fatal(err)
			}
			allowed, err := ParseSet(tt.allowed)
			if err != nil {
				t.Fatal(err)
			}
			got, dropped := asked.Narrow(allowed)
			if got.String() != tt.want {
				t.Errorf("Narrow = %q, want %q", got.String(), tt.want)
			}
			if !slices.Equal(dropped, tt.dropped) {
				t.Errorf("dropped = %q, want %q", dropped, tt.dropped)
			}
		})
	}
}

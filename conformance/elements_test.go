package conformance

import "testing"

func TestElements(t *testing.T) {
	for _, c := range []struct {
		typ, name         string
		summary, required bool
	}{
		{"Patient", "name", true, false},
		{"Patient", "birthDate", true, false},
		{"Patient", "deceasedBoolean", true, false},
		{"Patient", "deceased", false, false},
		{"Patient", "photo", false, false},
		{"Patient", "text", false, false},
		{"Observation", "status", true, true},
		{"Observation", "code", true, true},
		{"Observation", "valueQuantity", true, false},
		{"Observation", "note", false, false},
		{"Nope", "id", false, false},
	} {
		if got := IsSummary(c.typ, c.name); got != c.summary {
			t.Errorf("IsSummary(%s, %s) = %v", c.typ, c.name, got)
		}
		if got := IsRequired(c.typ, c.name); got != c.required {
			t.Errorf("IsRequired(%s, %s) = %v", c.typ, c.name, got)
		}
	}
}

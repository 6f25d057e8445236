package search_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/search"
)

func TestCompartmentIDs(t *testing.T) {
	reg, err := search.NewRegistry(search.Options{BaseURL: "https://fhir.example.org/r4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, typ, id, body string
		want                []string
	}{
		{"patient itself", "Patient", "p1", `{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}`, []string{"p1", "p2"}},
		{"observation subject and performer", "Observation", "o1",
			`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},` +
				`"performer":[{"reference":"https://fhir.example.org/r4/Patient/p0"},{"reference":"Practitioner/d1"},{"reference":"Patient/p1"}]}`,
			[]string{"p0", "p1"}},
		{"reference elsewhere and by identifier only", "Observation", "o2",
			`{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"https://other.example/Patient/p9"},` +
				`"performer":[{"identifier":{"value":"123"}}]}`, nil},
		{"not a compartment parameter", "Observation", "o3",
			`{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},"focus":[{"reference":"Patient/p7"}]}`, nil},
		{"never in the compartment", "Organization", "g1", `{"resourceType":"Organization","id":"g1","partOf":{"reference":"Organization/g2"}}`, nil},
		{"audit event", "AuditEvent", "a1",
			`{"resourceType":"AuditEvent","id":"a1","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z",` +
				`"agent":[{"who":{"reference":"Patient/p5"},"requestor":true}],"source":{"observer":{"display":"x"}},` +
				`"entity":[{"what":{"reference":"Patient/p4/_history/2"}},{"what":{"reference":"Observation/o1"}}]}`, []string{"p4", "p5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := reg.ExtractCompartment("Patient", tc.typ, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, reg.CompartmentIDs("Patient", tc.typ, tc.id, x)); diff != "" {
				t.Errorf("from ExtractCompartment (-want +got):\n%s", diff)
			}
			full, err := reg.ExtractJSON(tc.typ, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, reg.CompartmentIDs("Patient", tc.typ, tc.id, full)); diff != "" {
				t.Errorf("from ExtractJSON (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := reg.ExtractCompartment("Patient", "Observation", []byte(`{"resourceType":`)); err == nil {
		t.Error("ExtractCompartment of broken JSON succeeded")
	}
}

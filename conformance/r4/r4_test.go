package r4

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
)

func TestSearchParametersJSON(t *testing.T) {
	b, err := SearchParametersJSON()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	const want = "dc5927e3781a5aba26c08821904c4091664b3a40171aba9b01e563e9f7ca85df"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Bundle-searchParams.json sha256 = %s, want %s (the file in README.md)", got, want)
	}
}

func TestSearchParameters(t *testing.T) {
	ps, err := SearchParameters()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1375 {
		t.Errorf("%d search parameters, want 1375", len(ps))
	}
	byID := map[string]SearchParameter{}
	for _, p := range ps {
		if p.Code == "" || p.Type == "" || len(p.Base) == 0 || p.URL == "" {
			t.Errorf("%s: incomplete: %+v", p.ID, p)
		}
		byID[p.ID] = p
	}
	subj := byID["Observation-subject"]
	if subj.Code != "subject" || subj.Type != "reference" || subj.Expression != "Observation.subject" || len(subj.Target) == 0 {
		t.Errorf("Observation-subject = %+v", subj)
	}
	cvq := byID["Observation-code-value-quantity"]
	if cvq.Type != "composite" || len(cvq.Component) != 2 ||
		cvq.Component[0].Definition != "http://hl7.org/fhir/SearchParameter/clinical-code" ||
		cvq.Component[1].Expression != "value.as(Quantity)" {
		t.Errorf("Observation-code-value-quantity = %+v", cvq)
	}
	if d := byID["clinical-date"]; len(d.Base) < 10 || len(d.Comparator) != 9 {
		t.Errorf("clinical-date = base %v comparators %v", d.Base, d.Comparator)
	}
}

func TestCompartments(t *testing.T) {
	if got, want := CompartmentTypes(), []string{"Device", "Encounter", "Patient", "Practitioner", "RelatedPerson"}; !slices.Equal(got, want) {
		t.Errorf("CompartmentTypes() = %v, want %v", got, want)
	}
	for _, code := range CompartmentTypes() {
		cd, err := Compartment(code)
		if err != nil {
			t.Fatal(err)
		}
		if len(cd.Resource) < 140 || !cd.Search {
			t.Errorf("%s: %d resources, search %v", code, len(cd.Resource), cd.Search)
		}
	}
	p, err := Compartment("Patient")
	if err != nil {
		t.Fatal(err)
	}
	params := map[string][]string{}
	for _, r := range p.Resource {
		params[r.Code] = r.Param
	}
	if got := params["Observation"]; !slices.Equal(got, []string{"subject", "performer"}) {
		t.Errorf("Patient compartment Observation params = %v", got)
	}
	if got := params["Patient"]; !slices.Equal(got, []string{"link"}) {
		t.Errorf("Patient compartment Patient params = %v", got)
	}
	if _, ok := params["Medication"]; !ok || len(params["Medication"]) != 0 {
		t.Errorf("Medication should be listed without params: %v", params["Medication"])
	}
	if _, err := Compartment("Nope"); err == nil {
		t.Error("Compartment(Nope): no error")
	}
}

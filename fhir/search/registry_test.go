package search

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/telefhir/telefhir/conformance/r4"
)

const testBase = "https://ehr.example.org/fhir"

var (
	regOnce sync.Once
	reg     *Registry
	regErr  error
)

func registry(t testing.TB) *Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = NewRegistry(Options{BaseURL: testBase + "/"}) })
	if regErr != nil {
		t.Fatal(regErr)
	}
	return reg
}

// TestRegistryCounts pins how much of R4 search is supported: every
// definition but the six listed, which are unsupported for the reasons
// given.
func TestRegistryCounts(t *testing.T) {
	r := registry(t)
	sps, err := r4.SearchParameters()
	if err != nil {
		t.Fatal(err)
	}
	supportedDefs := map[string]bool{}
	unsupportedDefs := map[string]string{}
	entries, unsupportedEntries := 0, 0
	for _, typ := range r.Types() {
		for _, p := range r.Params(typ) {
			supportedDefs[p.URL] = true
			entries++
		}
		for _, p := range r.Unsupported(typ) {
			unsupportedDefs[p.URL] = p.Unsupported
			unsupportedEntries++
		}
	}
	if len(supportedDefs)+len(unsupportedDefs) != len(sps) {
		t.Errorf("%d supported + %d unsupported definitions, want %d in all", len(supportedDefs), len(unsupportedDefs), len(sps))
	}
	wantUnsupported := []string{"Bundle-composition", "Bundle-message", "DomainResource-text", "Location-near", "Resource-content", "Resource-query"}
	var got []string
	for url := range unsupportedDefs {
		got = append(got, strings.TrimPrefix(url, "http://hl7.org/fhir/SearchParameter/"))
	}
	slices.Sort(got)
	if !slices.Equal(got, wantUnsupported) {
		t.Errorf("unsupported definitions = %v, want %v", got, wantUnsupported)
	}
	if len(supportedDefs) != 1369 {
		t.Errorf("%d supported definitions, want 1369", len(supportedDefs))
	}
	if len(r.Types()) != 146 {
		t.Errorf("%d resource types, want 146", len(r.Types()))
	}
	// Per type: the Resource-level parameters repeat for each type.
	if entries != 2570 || unsupportedEntries != 438 {
		t.Errorf("%d supported and %d unsupported (type, parameter) entries, want 2570 and 438", entries, unsupportedEntries)
	}
	t.Logf("%d of %d definitions supported; %d (type, parameter) entries supported, %d not", len(supportedDefs), len(sps), entries, unsupportedEntries)
}

func TestLookup(t *testing.T) {
	r := registry(t)
	for _, tt := range []struct {
		typ, code  string
		typeWant   Type
		expression string
		supported  bool
	}{
		{"Patient", "name", TypeString, "Patient.name", true},
		{"Person", "name", TypeString, "Person.name", true},
		{"Patient", "phone", TypeToken, "Patient.telecom.where(system='phone')", true},
		{"Observation", "code", TypeToken, "Observation.code", true},
		{"Condition", "code", TypeToken, "Condition.code", true},
		{"MedicationRequest", "code", TypeToken, "(MedicationRequest.medication as CodeableConcept)", true},
		{"Observation", "patient", TypeReference, "Observation.subject.where(resolve() is Patient)", true},
		{"Observation", "value-quantity", TypeQuantity, "(Observation.value as Quantity) | (Observation.value as SampledData)", true},
		{"Observation", "code-value-quantity", TypeComposite, "Observation", true},
		{"Patient", "deceased", TypeToken, "Patient.deceased.exists() and Patient.deceased != false", true},
		{"Patient", "_tag", TypeToken, "Resource.meta.tag", true},
		{"Bundle", "_profile", TypeURI, "Resource.meta.profile", true},
		{"Encounter", "_security", TypeToken, "Resource.meta.security", true},
		{"Patient", "_source", TypeURI, "Resource.meta.source", true},
		{"Patient", "_id", TypeToken, "Resource.id", true},
		{"Patient", "_lastUpdated", TypeDate, "Resource.meta.lastUpdated", true},
		{"Patient", "_text", TypeString, "", false},
		{"Patient", "_content", TypeString, "", false},
		{"Location", "near", TypeSpecial, "", false},
		{"Bundle", "composition", TypeReference, "Bundle.entry[0].resource", false},
	} {
		p, ok := r.Lookup(tt.typ, tt.code)
		if !ok {
			t.Errorf("Lookup(%s, %s): not found", tt.typ, tt.code)
			continue
		}
		if p.Type != tt.typeWant || p.Expression != tt.expression || p.Supported() != tt.supported || p.Resource != tt.typ || p.Code != tt.code {
			t.Errorf("Lookup(%s, %s) = %s %q supported=%v (%s), want %s %q supported=%v",
				tt.typ, tt.code, p.Type, p.Expression, p.Supported(), p.Unsupported, tt.typeWant, tt.expression, tt.supported)
		}
	}
	for _, tt := range [][2]string{{"Patient", "nope"}, {"Nope", "name"}, {"Bundle", "_text"}, {"Patient", "code"}} {
		if _, ok := r.Lookup(tt[0], tt[1]); ok {
			t.Errorf("Lookup(%s, %s): found", tt[0], tt[1])
		}
	}
	p, _ := r.Lookup("Observation", "subject")
	if !slices.Contains(p.Targets, "Patient") || !slices.Contains(p.Targets, "Group") || len(p.Targets) < 4 {
		t.Errorf("Observation.subject targets = %v", p.Targets)
	}
	if d, _ := r.Lookup("Observation", "date"); len(d.Comparators) != 9 {
		t.Errorf("Observation.date comparators = %v", d.Comparators)
	}
	if !slices.IsSortedFunc(r.Params("Observation"), func(a, b *Param) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("Params(Observation) not sorted by code")
	}
	if r.Params("Nope") != nil || r.Unsupported("Nope") != nil {
		t.Error("parameters for an unknown type")
	}
}

func TestCompositeComponents(t *testing.T) {
	r := registry(t)
	for _, tt := range []struct {
		typ, code string
		want      []Component
	}{
		{"Observation", "code-value-quantity", []Component{
			{Code: "code", Type: TypeToken, Definition: "http://hl7.org/fhir/SearchParameter/clinical-code", Expression: "code"},
			{Code: "value-quantity", Type: TypeQuantity, Definition: "http://hl7.org/fhir/SearchParameter/Observation-value-quantity", Expression: "value.as(Quantity)"},
		}},
		{"Observation", "code-value-date", []Component{
			{Code: "code", Type: TypeToken, Definition: "http://hl7.org/fhir/SearchParameter/clinical-code", Expression: "code"},
			// R4 says value.as(DateTime): corrected (see errata).
			{Code: "value-date", Type: TypeDate, Definition: "http://hl7.org/fhir/SearchParameter/Observation-value-date", Expression: "value.as(dateTime) | value.as(Period)"},
		}},
		{"ValueSet", "context-type-value", []Component{
			{Code: "context-type", Type: TypeToken, Definition: "http://hl7.org/fhir/SearchParameter/conformance-context-type", Expression: "code"},
			{Code: "context", Type: TypeToken, Definition: "http://hl7.org/fhir/SearchParameter/conformance-context", Expression: "value.as(CodeableConcept)"},
		}},
	} {
		p, ok := r.Lookup(tt.typ, tt.code)
		if !ok || !p.Supported() {
			t.Errorf("%s.%s: %v %+v", tt.typ, tt.code, ok, p)
			continue
		}
		if !slices.Equal(p.Components, tt.want) {
			t.Errorf("%s.%s components = %+v, want %+v", tt.typ, tt.code, p.Components, tt.want)
		}
	}
	if got := CompositeComponent("code-value-quantity", 1); got != "code-value-quantity$1" {
		t.Errorf("CompositeComponent = %q", got)
	}
}

func TestRestrict(t *testing.T) {
	for _, tt := range []struct{ expr, typ, want string }{
		{"Patient.name | Person.name", "Patient", "Patient.name"},
		{"Patient.name | Person.name", "Person", "Person.name"},
		{"Patient.name | Person.name", "Practitioner", ""},
		{"(MedicationAdministration.medication as CodeableConcept) | (MedicationDispense.medication as CodeableConcept) | Observation.code", "MedicationDispense", "(MedicationDispense.medication as CodeableConcept)"},
		{"Resource.meta.tag", "Patient", "Resource.meta.tag"},
		{"Observation.component.where(code.coding.code = 'a|b') | Patient.x", "Observation", "Observation.component.where(code.coding.code = 'a|b')"},
		// A top level with = or and cannot be split: kept whole.
		{"Patient.deceased.exists() and Patient.deceased != false", "Patient", "Patient.deceased.exists() and Patient.deceased != false"},
		{"Patient.a | Person.b = true", "Person", "Patient.a | Person.b = true"},
		{"ActivityDefinition.useContext | Questionnaire.useContext", "Questionnaire", "Questionnaire.useContext"},
	} {
		if got := restrict(tt.expr, tt.typ); got != tt.want {
			t.Errorf("restrict(%q, %s) = %q, want %q", tt.expr, tt.typ, got, tt.want)
		}
	}
}

func TestCompartment(t *testing.T) {
	r := registry(t)
	for _, tt := range []struct {
		comp, typ string
		want      []string
	}{
		{"Patient", "Observation", []string{"subject", "performer"}},
		{"Patient", "Patient", []string{"link"}},
		{"Patient", "AllergyIntolerance", []string{"patient", "recorder", "asserter"}},
		{"Patient", "Medication", nil},
		{"Patient", "Nope", nil},
		{"Encounter", "Observation", []string{"encounter"}},
		{"Encounter", "Encounter", nil}, // {def}
		{"Practitioner", "Observation", []string{"performer"}},
		{"Nope", "Observation", nil},
	} {
		if got := r.Compartment(tt.comp, tt.typ); !slices.Equal(got, tt.want) {
			t.Errorf("Compartment(%s, %s) = %v, want %v", tt.comp, tt.typ, got, tt.want)
		}
	}
	// Every compartment parameter is a supported reference parameter.
	for _, comp := range r.CompartmentTypes() {
		for _, typ := range r.Types() {
			for _, code := range r.Compartment(comp, typ) {
				p, ok := r.Lookup(typ, code)
				if !ok || !p.Supported() || p.Type != TypeReference {
					t.Errorf("%s compartment: %s.%s is not a supported reference parameter", comp, typ, code)
				}
			}
		}
	}
}

func TestConcurrentRegistry(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r, err := NewRegistry(Options{})
			if err != nil {
				t.Error(err)
				return
			}
			if _, ok := r.Lookup("Patient", "name"); !ok {
				t.Error("no Patient.name")
			}
		})
	}
	wg.Wait()
}

package fhirpath

import (
	"fmt"
	"strings"
	"testing"
)

// locString renders a location as a JSON-pointer-like path for tests:
// /name/0/given/1.
func locString(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString("/" + s.Name)
		if s.Index >= 0 {
			fmt.Fprintf(&b, "/%d", s.Index)
		}
	}
	return b.String()
}

func TestEvaluateLocated(t *testing.T) {
	tests := []struct {
		res, expr string
		want      []string // location of each item; "-" for none
		elem      string   // Element().Name() of the first item, "" for none
	}{
		{patientJSON, "Patient", []string{""}, ""},
		{patientJSON, "Patient.active", []string{"/active"}, "active"},
		{patientJSON, "Patient.name.family", []string{"/name/0/family", "/name/1/family"}, "family"},
		{patientJSON, "Patient.name[0].given", []string{"/name/0/given/0", "/name/0/given/1", "/name/0/given/2"}, "given"},
		{patientJSON, "Patient.name[0].given[1].extension", []string{"/name/0/_given/1/extension/0"}, "extension"},
		{patientJSON, "Patient.name[0].given[1].extension('http://example.org/g')", []string{"/name/0/_given/1/extension/0"}, "extension"},
		{patientJSON, "Patient.birthDate.extension[0].value", []string{"/_birthDate/extension/0/valueString"}, "value"},
		{patientJSON, "Patient.birthDate", []string{"/birthDate"}, "birthDate"},
		{patientJSON, "Patient.deceased", []string{"/deceasedBoolean"}, "deceased"},
		{patientJSON, "Patient.telecom.where(system = 'email')", []string{"/telecom/1"}, "telecom"},
		{patientJSON, "Patient.active = false", []string{"-"}, ""},
		{patientJSON, "Patient.managingOrganization.resolve()", []string{"-"}, ""},
		{observationJSON, "Observation.contained[0].name", []string{"/contained/0/name"}, "name"},
		{observationJSON, "Observation.performer[1].resolve().name", []string{"/contained/0/name"}, "name"},
		{observationJSON, "Observation.performer[1].resolve()", []string{"/contained/0"}, "contained"},
		{observationJSON, "Observation.component[2].value", []string{"/component/2/valueCodeableConcept"}, "value"},
		{observationJSON, "(Observation.value as Quantity).value", []string{"/valueQuantity/value"}, "value"},
		{bundleJSON, "Bundle.entry[0].resource.contained.id", []string{"/entry/0/resource/contained/0/id"}, "id"},
		{bundleJSON, "Bundle.entry.resource", []string{"/entry/0/resource", "/entry/1/resource"}, "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			vals, err := MustCompile(tt.expr).EvaluateLocated(mustDecode(t, tt.res))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vals {
				steps, ok := v.Location()
				if !ok {
					got = append(got, "-")
					continue
				}
				got = append(got, locString(steps))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("locations %q, want %q", got, tt.want)
			}
			var name string
			if len(vals) > 0 {
				if e, ok := vals[0].Element(); ok {
					name = e.Name()
				}
			}
			if name != tt.elem {
				t.Errorf("element %q, want %q", name, tt.elem)
			}
		})
	}
}

func TestEvaluateHasNoLocations(t *testing.T) {
	vals, err := MustCompile("Patient.name.given").Evaluate(mustDecode(t, patientJSON))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if _, ok := v.Location(); ok {
			t.Fatalf("Evaluate located %v", v.Node)
		}
	}
}

func TestSplitLast(t *testing.T) {
	tests := []struct {
		expr, parent, name string
		ok                 bool
	}{
		{"Patient.identifier", "Patient", "identifier", true},
		{"Patient.name[0].given", "Patient.name[0]", "given", true},
		{"Patient.name.where(use = 'a.b').given", "Patient.name.where(use = 'a.b')", "given", true},
		{"identifier", "%resource", "identifier", true},
		{"Patient.name[0]", "", "", false},
		{"Patient.name.first()", "", "", false},
		{"Patient", "", "", false},
	}
	res := mustDecode(t, patientJSON)
	for _, tt := range tests {
		e := MustCompile(tt.expr)
		p, name, ok := e.SplitLast()
		if ok != tt.ok || name != tt.name || (ok && p.String() != tt.parent) {
			t.Errorf("SplitLast(%s) = %v %q %v, want %q %q %v", tt.expr, p, name, ok, tt.parent, tt.name, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		// The parent expression evaluates to the element's parent.
		whole, err := e.EvaluateLocated(res)
		if err != nil {
			t.Fatal(err)
		}
		parents, err := p.EvaluateLocated(res)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range whole {
			steps, _ := w.Location()
			ps := locString(steps[:len(steps)-1])
			found := false
			for _, pv := range parents {
				s, _ := pv.Location()
				found = found || locString(s) == ps
			}
			if !found {
				t.Errorf("%s: item at %s has no parent in %s", tt.expr, locString(steps), p)
			}
		}
	}
}

func TestElementModel(t *testing.T) {
	pat, ok := LookupType("Patient")
	if !ok || !pat.Resource() || pat.Primitive() {
		t.Fatalf("Patient: %v %+v", ok, pat)
	}
	tests := []struct {
		typ, name         string
		base, elemType    string
		repeats, resource bool
		choices           int
	}{
		{"Patient", "name", "name", "HumanName", true, false, 0},
		{"Patient", "birthDate", "birthDate", "date", false, false, 0},
		{"Patient", "gender", "gender", "code", false, false, 0},
		{"Patient", "contact", "contact", "BackboneElement", true, false, 0},
		{"Patient", "deceased", "deceased", "", false, false, 2},
		{"Patient", "deceasedDateTime", "deceased", "", false, false, 2},
		{"Patient", "contained", "contained", "", true, true, 0},
		{"Patient", "extension", "extension", "Extension", true, false, 0},
		{"Observation", "value", "value", "", false, false, 11},
		{"Narrative", "div", "div", "xhtml", false, false, 0},
		{"date", "extension", "extension", "Extension", true, false, 0},
	}
	for _, tt := range tests {
		typ, ok := LookupType(tt.typ)
		if !ok {
			t.Fatalf("no type %s", tt.typ)
		}
		e, ok := typ.Element(tt.name)
		if !ok {
			t.Errorf("%s has no element %s", tt.typ, tt.name)
			continue
		}
		et := ""
		if x, ok := e.Type(); ok {
			et = x.Name()
		}
		if e.Name() != tt.base || et != tt.elemType || e.Repeats() != tt.repeats || e.HoldsResource() != tt.resource || len(e.Choices()) != tt.choices || e.Choice() != (tt.choices > 0) {
			t.Errorf("%s.%s = name %s type %s repeats %v resource %v choices %d", tt.typ, tt.name, e.Name(), et, e.Repeats(), e.HoldsResource(), len(e.Choices()))
		}
	}
	if _, ok := pat.Element("nmae"); ok {
		t.Error("Patient.nmae exists")
	}
	contact, _ := pat.Element("contact")
	ct, _ := contact.Type()
	if !ct.Anonymous() {
		t.Error("Patient.contact is not anonymous")
	}
	if g, ok := ct.Element("gender"); !ok || g.Repeats() {
		t.Error("Patient.contact.gender")
	}
	age, _ := LookupType("Age")
	if !age.IsA("Quantity") || age.IsA("string") {
		t.Error("Age IsA")
	}
	gender, _ := pat.Element("gender")
	gt, _ := gender.Type()
	if !gt.Primitive() || !gt.IsA("string") {
		t.Errorf("Patient.gender type %s primitive %v", gt.Name(), gt.Primitive())
	}
}

package synth_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/internal/synth"
)

func generate(t *testing.T, opts synth.Options) []synth.Resource {
	t.Helper()
	g, err := synth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	out := g.Shared()
	for i := range opts.Patients {
		out = append(out, g.Patient(i)...)
	}
	if len(out) != g.Counts().Total() {
		t.Fatalf("generated %d resources, Counts().Total() says %d", len(out), g.Counts().Total())
	}
	return out
}

// TestEveryResourceParses: everything generated is valid R4 as the write
// path sees it, and can be stamped and indexed.
func TestEveryResourceParses(t *testing.T) {
	rs := generate(t, synth.Options{Seed: 42, Patients: 6, ObservationsPerPatient: 60})
	if len(rs) < 300 {
		t.Fatalf("only %d resources", len(rs))
	}
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range rs {
		p, err := resource.Parse(r.Body, r.Type)
		if err != nil {
			t.Fatalf("%s/%s does not parse: %v\n%s", r.Type, r.ID, err, r.Body)
		}
		if p.ID != r.ID || !resource.ValidID(r.ID) {
			t.Fatalf("%s: body id %q, Resource.ID %q", r.Type, p.ID, r.ID)
		}
		stamped, err := resource.Stamp(r.Body, r.ID, 1, now)
		if err != nil {
			t.Fatalf("%s/%s: stamp: %v", r.Type, r.ID, err)
		}
		if x, err := reg.ExtractJSON(r.Type, stamped); err != nil || x.Len() == 0 {
			t.Fatalf("%s/%s: index: %d rows, %v", r.Type, r.ID, x.Len(), err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	opts := synth.Options{Seed: 7, Patients: 5, ObservationsPerPatient: 30}
	a, b := generate(t, opts), generate(t, opts)
	for i := range a {
		if a[i].Type != b[i].Type || a[i].ID != b[i].ID || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("resource %d differs between two runs with the same seed", i)
		}
	}
	opts.Seed = 8
	c := generate(t, opts)
	if a[0].ID == c[0].ID || bytes.Equal(a[len(a)-1].Body, c[len(c)-1].Body) {
		t.Fatal("another seed gave the same data")
	}

	// Patients generated concurrently and out of order are the same.
	g, _ := synth.New(opts)
	want := make([][]synth.Resource, opts.Patients)
	for i := range want {
		want[i] = g.Patient(i)
	}
	var wg sync.WaitGroup
	for i := opts.Patients - 1; i >= 0; i-- {
		wg.Go(func() {
			got := g.Patient(i)
			for j := range got {
				if !bytes.Equal(got[j].Body, want[i][j].Body) {
					t.Errorf("patient %d resource %d differs when generated concurrently", i, j)
					return
				}
			}
			if g.PatientID(i) != got[0].ID {
				t.Errorf("PatientID(%d) = %s, Patient(%d)[0] is %s", i, g.PatientID(i), i, got[0].ID)
			}
		})
	}
	wg.Wait()
}

// fhirJSON is what the checks below read of a resource.
type fhirJSON struct {
	ResourceType string
	ID           string
	Identifier   []struct{ System, Value string }
	Name         json.RawMessage // a string for Organization
	BirthDate    string
	Gender       string
	Subject      *struct{ Reference string }
	Encounter    *struct{ Reference string }
	Device       *struct{ Reference string }
	Patient      *struct{ Reference string }
	Performer    []struct{ Reference string }
	Participant  []struct{ Individual struct{ Reference string } }
	Class        struct{ Code string }
	Period       struct{ Start, End string }
	Category     []struct {
		Coding []struct{ System, Code string }
	}
	Code struct {
		Coding []struct{ System, Code string }
	}
	EffectiveDateTime string
	ValueQuantity     *struct {
		Value        float64
		System, Code string
	}
	Component []struct {
		Code struct {
			Coding []struct{ System, Code string }
		}
		ValueQuantity struct {
			Value        float64
			System, Code string
		}
	}
}

// TestDataIsRealistic checks the properties the benchmarks and demos rely
// on: references resolve, vital signs carry the right LOINC codes and
// UCUM units with plausible values and dates, identifiers are unique and
// well-formed, and the name lists give variety.
func TestDataIsRealistic(t *testing.T) {
	rs := generate(t, synth.Options{Seed: 1, Patients: 100, ObservationsPerPatient: 20})
	ids := make(map[string]bool)
	var all []fhirJSON
	for _, r := range rs {
		ref := r.Type + "/" + r.ID
		if ids[ref] {
			t.Fatalf("duplicate %s", ref)
		}
		ids[ref] = true
		var j fhirJSON
		if err := json.Unmarshal(r.Body, &j); err != nil {
			t.Fatal(err)
		}
		all = append(all, j)
	}
	resolves := func(what, ref string) {
		t.Helper()
		if !ids[ref] {
			t.Fatalf("%s %q does not resolve", what, ref)
		}
	}

	wantUnits := map[string]string{"8867-4": "/min", "9279-1": "/min", "59408-5": "%", "8310-5": "Cel", "29463-7": "kg"}
	ranges := map[string][2]float64{"8867-4": {30, 200}, "9279-1": {6, 40}, "59408-5": {80, 100}, "8310-5": {34, 42}, "29463-7": {25, 260}}
	byCode := map[string]int{}
	mrns, npis := map[string]bool{}, map[string]bool{}
	families, smi, classes := map[string]bool{}, 0, map[string]int{}
	accented := false
	lo, hi := synth.PeriodStart, synth.PeriodEnd.Add(24*time.Hour)
	for _, j := range all {
		switch j.ResourceType {
		case "Patient":
			if len(j.Identifier) != 1 || j.Identifier[0].System != synth.MRNSystem || mrns[j.Identifier[0].Value] {
				t.Fatalf("Patient identifier %+v (duplicate or wrong system)", j.Identifier)
			}
			mrns[j.Identifier[0].Value] = true
			bd, err := time.Parse(time.DateOnly, j.BirthDate)
			if err != nil || bd.Year() < 1930 || bd.Year() > 2020 {
				t.Fatalf("birthDate %q", j.BirthDate)
			}
			var names []struct{ Family string }
			if err := json.Unmarshal(j.Name, &names); err != nil || len(names) == 0 {
				t.Fatalf("Patient.name %s", j.Name)
			}
			f := names[0].Family
			families[f] = true
			if strings.HasPrefix(search.Normalize(f), "smi") {
				smi++
			}
			if search.Normalize(f) != strings.ToLower(f) {
				accented = true
			}
		case "Practitioner", "Organization":
			v := j.Identifier[0].Value
			if j.Identifier[0].System != synth.NPISystem || len(v) != 10 || npis[v] || synth.NPICheckDigit(v[:9]) != v[9] {
				t.Fatalf("%s NPI %q: wrong system, length, check digit, or a duplicate", j.ResourceType, v)
			}
			npis[v] = true
		case "Device":
			resolves("Device.patient", j.Patient.Reference)
			if len(j.Identifier) == 0 {
				t.Fatal("Device without identifier")
			}
		case "Encounter":
			resolves("Encounter.subject", j.Subject.Reference)
			resolves("Encounter.participant", j.Participant[0].Individual.Reference)
			classes[j.Class.Code]++
			if _, err := time.Parse(time.RFC3339, j.Period.Start); err != nil {
				t.Fatalf("Encounter.period.start %q", j.Period.Start)
			}
		case "Observation":
			resolves("Observation.subject", j.Subject.Reference)
			resolves("Observation.encounter", j.Encounter.Reference)
			resolves("Observation.performer", j.Performer[0].Reference)
			if j.Device != nil {
				resolves("Observation.device", j.Device.Reference)
			}
			if c := j.Category[0].Coding[0]; c.Code != "vital-signs" {
				t.Fatalf("category %+v", c)
			}
			eff, err := time.Parse(time.RFC3339, j.EffectiveDateTime)
			if err != nil || eff.Before(lo) || !eff.Before(hi) {
				t.Fatalf("effectiveDateTime %q outside %s..%s", j.EffectiveDateTime, lo, hi)
			}
			c := j.Code.Coding[0]
			if c.System != synth.LOINC {
				t.Fatalf("first coding %+v is not LOINC", c)
			}
			byCode[c.Code]++
			if c.Code == "85354-9" {
				if j.ValueQuantity != nil || len(j.Component) != 2 ||
					j.Component[0].Code.Coding[0].Code != "8480-6" || j.Component[1].Code.Coding[0].Code != "8462-4" {
					t.Fatalf("blood pressure shape: %+v", j)
				}
				for _, comp := range j.Component {
					q := comp.ValueQuantity
					if q.System != synth.UCUM || q.Code != "mm[Hg]" || q.Value < 40 || q.Value > 240 {
						t.Fatalf("blood pressure component %+v", q)
					}
				}
				if j.Component[1].ValueQuantity.Value >= j.Component[0].ValueQuantity.Value {
					t.Fatalf("diastolic above systolic: %+v", j.Component)
				}
				continue
			}
			q := j.ValueQuantity
			unit, ok := wantUnits[c.Code]
			if !ok || q == nil || q.System != synth.UCUM || q.Code != unit {
				t.Fatalf("Observation %s: quantity %+v, want UCUM %s", c.Code, q, unit)
			}
			if r := ranges[c.Code]; q.Value < r[0] || q.Value > r[1] {
				t.Fatalf("implausible %s value %v", c.Code, q.Value)
			}
		}
	}
	for _, code := range []string{"8867-4", "9279-1", "59408-5", "8310-5", "29463-7", "85354-9"} {
		if byCode[code] == 0 {
			t.Errorf("no Observation with LOINC %s", code)
		}
	}
	if byCode["8867-4"] < byCode["8310-5"] {
		t.Errorf("heart rate (%d) should be the most common reading, temperature has %d", byCode["8867-4"], byCode["8310-5"])
	}
	if classes["VR"] == 0 || classes["AMB"] == 0 {
		t.Errorf("encounter classes %v: want both VR and AMB", classes)
	}
	if len(families) < 20 || !accented || smi == 0 {
		t.Errorf("%d family names among 100 patients, accented %v, %d starting with smi", len(families), accented, smi)
	}
}

func TestNPICheckDigit(t *testing.T) {
	// 1234567893 is the example NPI of the CMS check-digit documentation.
	if d := synth.NPICheckDigit("123456789"); d != '3' {
		t.Fatalf("check digit of 123456789 = %c, want 3", d)
	}
}

func TestNewRejectsBadSizes(t *testing.T) {
	for _, o := range []synth.Options{{Patients: 0}, {Patients: 1, ObservationsPerPatient: -1}} {
		if _, err := synth.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	g, err := synth.New(synth.Options{Patients: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rs := g.Patient(0); len(rs) != 1+synth.DevicesPerPatient {
		t.Fatalf("a patient without readings: %d resources, want the Patient and its devices", len(rs))
	}
}

package synth

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Sizes of the parts of a data set that follow from the number of
// patients and readings.
const (
	// DevicesPerPatient: every patient has a home kit of a blood pressure
	// monitor, a pulse oximeter, a scale and a thermometer.
	DevicesPerPatient = 4
	// ObservationsPerEncounter is how many readings one Encounter groups:
	// a monitoring period (class VR) or a clinic visit (AMB).
	ObservationsPerEncounter = 10
	// PatientsPerOrganization and PatientsPerPractitioner size the shared
	// resources (at least one of each).
	PatientsPerOrganization = 500
	PatientsPerPractitioner = 100
)

// The readings' effectiveDateTime lies in [PeriodStart, PeriodEnd).
var (
	PeriodStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	PeriodEnd   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// Birth dates lie in [birthFrom, birthFrom + birthDays days): 1930 to 2020.
var (
	birthFrom = time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC)
	birthDays = int(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).Sub(birthFrom).Hours() / 24)
)

// Identifier systems of the generated data. The MRN system is under HL7's
// OID for examples (2.16.840.1.113883.19).
const (
	NPISystem    = "http://hl7.org/fhir/sid/us-npi"
	MRNSystem    = "urn:oid:2.16.840.1.113883.19.5.99999.2"
	EUI64System  = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680" // PHD system id (EUI-64)
	SerialSystem = "urn:oid:2.16.840.1.113883.19.5.99999.7"
)

// Options size and seed a data set.
type Options struct {
	// Seed makes the data set: the same Seed and sizes give the same
	// resources, byte for byte.
	Seed                   uint64
	Patients               int
	ObservationsPerPatient int
}

// Resource is one generated resource: compact R4 JSON with its id and no
// meta.versionId or meta.lastUpdated (the store stamps those).
type Resource struct {
	Type string
	ID   string
	Body []byte
}

// Counts is how many resources of each type a data set holds.
type Counts struct {
	Organizations, Practitioners, Patients, Devices, Encounters, Observations int
}

// Total is the number of resources.
func (c Counts) Total() int {
	return c.Organizations + c.Practitioners + c.Patients + c.Devices + c.Encounters + c.Observations
}

// Generator makes one data set. It is immutable after New, and safe for
// concurrent use: Patient(i) depends only on the options and i, so
// patients can be generated in parallel and in any order.
type Generator struct {
	opts          Options
	counts        Counts
	orgs          []sharedRef
	practitioners []sharedRef
}

type sharedRef struct{ id, display string }

// Streams of the random generator: each patient, and each shared resource,
// draws from its own PCG stream of the seed.
const (
	streamPatient      = 0
	streamOrganization = 1 << 62
	streamPractitioner = 1<<62 + 1<<40
)

// New returns the generator of the data set opts describes.
func New(opts Options) (*Generator, error) {
	var errs []error
	if opts.Patients < 1 {
		errs = append(errs, fmt.Errorf("synth: %d patients: want at least 1", opts.Patients))
	}
	if opts.ObservationsPerPatient < 0 {
		errs = append(errs, fmt.Errorf("synth: %d observations per patient: want 0 or more", opts.ObservationsPerPatient))
	}
	if opts.Patients > 1<<30 || opts.ObservationsPerPatient > 1<<20 {
		errs = append(errs, errors.New("synth: data set too large"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := &Generator{opts: opts}
	g.counts = Counts{
		Organizations: max(1, opts.Patients/PatientsPerOrganization),
		Practitioners: max(2, opts.Patients/PatientsPerPractitioner),
		Patients:      opts.Patients,
		Devices:       opts.Patients * DevicesPerPatient,
		Encounters:    opts.Patients * encounters(opts.ObservationsPerPatient),
		Observations:  opts.Patients * opts.ObservationsPerPatient,
	}
	for i := range g.counts.Organizations {
		rng := g.rand(streamOrganization + uint64(i))
		g.orgs = append(g.orgs, sharedRef{id: uuid7(rng, created(rng, 2022)), display: organizationName(i)})
	}
	for i := range g.counts.Practitioners {
		rng := g.rand(streamPractitioner + uint64(i))
		id := uuid7(rng, created(rng, 2022))
		gender := "female"
		if rng.IntN(2) == 0 {
			gender = "male"
		}
		given, family := givenName(rng, gender), familyName(rng)
		g.practitioners = append(g.practitioners, sharedRef{id: id, display: "Dr. " + given + " " + family})
	}
	return g, nil
}

// encounters is the number of Encounters of a patient with n readings.
func encounters(n int) int { return (n + ObservationsPerEncounter - 1) / ObservationsPerEncounter }

// Counts returns the size of the data set.
func (g *Generator) Counts() Counts { return g.counts }

func (g *Generator) rand(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.opts.Seed, stream))
}

// Shared returns the Organizations and then the Practitioners, which the
// patients' resources refer to.
func (g *Generator) Shared() []Resource {
	out := make([]Resource, 0, len(g.orgs)+len(g.practitioners))
	for i, o := range g.orgs {
		rng := g.rand(streamOrganization + uint64(i))
		_ = uuid7(rng, created(rng, 2022)) // the id, drawn in New
		p := places[rng.IntN(len(places))]
		out = append(out, Resource{Type: "Organization", ID: o.id, Body: encode(organization{
			ResourceType: "Organization", ID: o.id,
			Identifier: []identifier{{System: NPISystem, Value: npi(rng, '1')}},
			Active:     true,
			Type:       []concept{{Coding: []coding{{"http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider"}}}},
			Name:       o.display,
			Telecom:    []contactPoint{{System: "phone", Value: phone(rng, p), Use: "work"}},
			Address:    []address{streetAddress(rng, p, "work")},
		})})
	}
	for i, pr := range g.practitioners {
		rng := g.rand(streamPractitioner + uint64(i))
		_ = uuid7(rng, created(rng, 2022))
		gender := "female"
		if rng.IntN(2) == 0 {
			gender = "male"
		}
		given, family := givenName(rng, gender), familyName(rng)
		q := qualifications[rng.IntN(len(qualifications))]
		p := places[rng.IntN(len(places))]
		out = append(out, Resource{Type: "Practitioner", ID: pr.id, Body: encode(practitioner{
			ResourceType: "Practitioner", ID: pr.id,
			Identifier:    []identifier{{System: NPISystem, Value: npi(rng, '1')}},
			Active:        true,
			Name:          []humanName{{Use: "official", Family: family, Given: []string{given}, Prefix: []string{"Dr."}, Suffix: []string{q.Code}}},
			Telecom:       []contactPoint{{System: "phone", Value: phone(rng, p), Use: "work"}},
			Gender:        gender,
			Qualification: []qualification{{Code: concept{Coding: []coding{q}, Text: q.Display}}},
		})})
	}
	return out
}

var qualifications = []coding{
	{"http://terminology.hl7.org/CodeSystem/v2-0360", "MD", "Doctor of Medicine"},
	{"http://terminology.hl7.org/CodeSystem/v2-0360", "DO", "Doctor of Osteopathy"},
	{"http://terminology.hl7.org/CodeSystem/v2-0360", "NP", "Nurse Practitioner"},
	{"http://terminology.hl7.org/CodeSystem/v2-0360", "RN", "Registered Nurse"},
}

// conditions are the chronic conditions patients are monitored for; the
// Encounters name them as reasonCode.
var conditions = []coding{
	{"http://snomed.info/sct", "38341003", "Hypertension"},
	{"http://snomed.info/sct", "88805009", "Chronic congestive heart failure (disorder)"},
	{"http://snomed.info/sct", "13645005", "Chronic obstructive lung disease (disorder)"},
	{"http://snomed.info/sct", "44054006", "Diabetes mellitus type 2 (disorder)"},
	{"http://snomed.info/sct", "49436004", "Atrial fibrillation (disorder)"},
}

// PatientID returns the id of patient i (0 ≤ i < Patients) without
// generating the rest.
func (g *Generator) PatientID(i int) string {
	rng := g.rand(streamPatient + uint64(i))
	return uuid7(rng, created(rng, 2023))
}

// Patient returns patient i (0 ≤ i < Patients) and everything about them:
// the Patient, their Devices, their Encounters and their Observations, in
// that order, each referring only to resources generated before it or to
// the shared ones.
func (g *Generator) Patient(i int) []Resource {
	rng := g.rand(streamPatient + uint64(i))
	pid := uuid7(rng, created(rng, 2023))
	pref := "Patient/" + pid
	m := g.opts.ObservationsPerPatient
	out := make([]Resource, 0, 1+DevicesPerPatient+encounters(m)+m)

	// The Patient.
	gender := pickGender(rng)
	given, family := givenName(rng, gender), familyName(rng)
	p := places[rng.IntN(len(places))]
	birth := birthFrom.AddDate(0, 0, rng.IntN(birthDays))
	org := g.orgs[rng.IntN(len(g.orgs))]
	gp := g.practitioners[rng.IntN(len(g.practitioners))]
	names := []humanName{{Use: "official", Family: family, Given: []string{given}}}
	if rng.IntN(3) == 0 {
		names[0].Given = append(names[0].Given, givenName(rng, gender))
	}
	adult := birth.Before(time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC))
	if adult && rng.IntN(5) == 0 {
		names[0].Prefix = []string{honorific(rng, gender)}
	}
	if gender == "male" && rng.IntN(40) == 0 {
		names[0].Suffix = []string{"Jr."}
	}
	if gender == "female" && adult && rng.IntN(6) == 0 {
		names = append(names, humanName{Use: "maiden", Family: familyName(rng), Given: []string{given}})
	}
	telecom := []contactPoint{{System: "phone", Value: phone(rng, p), Use: "mobile"}}
	if rng.IntN(3) == 0 {
		telecom = append(telecom, contactPoint{System: "phone", Value: phone(rng, p), Use: "home"})
	}
	if rng.IntN(5) < 3 {
		telecom = append(telecom, contactPoint{System: "email", Value: email(rng, given, family), Use: "home"})
	}
	marital := maritalStatus(rng, adult)
	out = append(out, Resource{Type: "Patient", ID: pid, Body: encode(patient{
		ResourceType: "Patient", ID: pid,
		Meta: &meta{Profile: []string{"http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"}},
		Identifier: []identifier{{
			Use:    "usual",
			Type:   &concept{Coding: []coding{{"http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"}}},
			System: MRNSystem, Value: mrn(g.opts.Seed, i),
		}},
		Active:               true,
		Name:                 names,
		Telecom:              telecom,
		Gender:               gender,
		BirthDate:            birth.Format(time.DateOnly),
		Address:              []address{streetAddress(rng, p, "home")},
		MaritalStatus:        marital,
		GeneralPractitioner:  []reference{{Reference: "Practitioner/" + gp.id, Display: gp.display}},
		ManagingOrganization: reference{Reference: "Organization/" + org.id, Display: org.display},
	})})

	// The home monitoring kit.
	var kit [numDeviceKinds]string
	for d := range numDeviceKinds {
		dk := deviceKinds[d]
		id := uuid7(rng, created(rng, 2023))
		kit[d] = id
		serial := fmt.Sprintf("%s%08d", dk.serialPrefix, rng.IntN(1e8))
		out = append(out, Resource{Type: "Device", ID: id, Body: encode(device{
			ResourceType: "Device", ID: id,
			Identifier: []identifier{
				{Type: &concept{Coding: []coding{{"http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers", "SYSID", "IEEE 11073 System Identifier"}}}, System: EUI64System, Value: eui64(rng)},
				{Type: &concept{Coding: []coding{{"http://terminology.hl7.org/CodeSystem/v2-0203", "SNO", "Serial Number"}}}, System: SerialSystem, Value: serial},
			},
			Status:       "active",
			Manufacturer: dk.manufacturer,
			DeviceName:   []deviceName{{Name: dk.name, Type: "user-friendly-name"}},
			ModelNumber:  dk.model,
			SerialNumber: serial,
			Type:         concept{Coding: []coding{dk.mdc}, Text: dk.name},
			Patient:      reference{Reference: pref},
			Owner:        reference{Reference: "Organization/" + org.id, Display: org.display},
		})})
	}

	if m == 0 {
		return out
	}

	// The readings' times, in order, and the Encounters that group them.
	b := newBaseline(rng, gender)
	reason := conditions[rng.IntN(len(conditions))]
	days := int(PeriodEnd.Sub(PeriodStart).Hours() / 24)
	times := make([]time.Time, m)
	for k := range times {
		day := PeriodStart.AddDate(0, 0, rng.IntN(days))
		hour := 6 + rng.IntN(4) // morning readings ...
		if rng.IntN(10) < 3 {
			hour = 18 + rng.IntN(4) // ... and evening ones, local time
		}
		local := day.Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		times[k] = local.Add(-offsetOf(p)) // to UTC
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	zone := time.FixedZone(p.offset, int(offsetOf(p)/time.Second))

	ne := encounters(m)
	for e := range ne {
		lo, hi := e*m/ne, (e+1)*m/ne
		amb := rng.IntN(4) == 0 // a clinic visit; the others are remote monitoring periods
		encID := uuid7(rng, times[lo])
		encRef := reference{Reference: "Encounter/" + encID}
		clinician := gp
		if rng.IntN(3) == 0 {
			clinician = g.practitioners[rng.IntN(len(g.practitioners))]
		}
		enc := encounter{
			ResourceType: "Encounter", ID: encID,
			Status:  "finished",
			Subject: reference{Reference: pref, Display: given + " " + family},
			Participant: []participant{{
				Type:       []concept{{Coding: []coding{{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer"}}}},
				Individual: reference{Reference: "Practitioner/" + clinician.id, Display: clinician.display},
			}},
			ReasonCode:      []concept{{Coding: []coding{reason}, Text: reason.Display}},
			ServiceProvider: reference{Reference: "Organization/" + org.id, Display: org.display},
		}
		if amb {
			// All the visit's readings are taken within its half hour.
			visit := times[lo]
			for k := lo; k < hi; k++ {
				times[k] = visit.Add(time.Duration(2*(k-lo)) * time.Minute)
			}
			enc.Class = coding{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"}
			enc.Type = []concept{{Coding: []coding{{"http://snomed.info/sct", "390906007", "Follow-up encounter (procedure)"}}}}
			enc.Period = period{Start: visit.Add(-5 * time.Minute).In(zone).Format(time.RFC3339), End: visit.Add(30 * time.Minute).In(zone).Format(time.RFC3339)}
		} else {
			enc.Class = coding{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "VR", "virtual"}
			enc.Type = []concept{{Coding: []coding{{"http://snomed.info/sct", "448337001", "Telemedicine consultation with patient (procedure)"}}}}
			start := times[lo].In(zone)
			start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, zone)
			enc.Period = period{Start: start.Format(time.RFC3339)}
			if e == ne-1 && rng.IntN(2) == 0 {
				enc.Status = "in-progress" // the monitoring period still open
			} else {
				enc.Period.End = times[hi-1].Add(time.Hour).In(zone).Format(time.RFC3339)
			}
		}
		out = append(out, Resource{Type: "Encounter", ID: encID, Body: encode(enc)})

		for k := lo; k < hi; k++ {
			t := times[k]
			kind := pickKind(rng)
			r := b.read(rng, kind, float64(t.Sub(PeriodStart))/float64(PeriodEnd.Sub(PeriodStart)))
			v := vitals[kind]
			lag := time.Duration(5+rng.IntN(600)) * time.Second // upload delay
			obsID := uuid7(rng, t.Add(lag))
			o := observation{
				ResourceType: "Observation", ID: obsID,
				Meta:       meta{Profile: []string{vitalSignsBase + "vitalsigns", vitalSignsBase + v.profile}},
				Identifier: []identifier{{System: "urn:ietf:rfc:3986", Value: "urn:uuid:" + uuid4(rng)}},
				Status:     "final",
				Category:   vitalSignsCategory,
				Code:       concept{Coding: []coding{{LOINC, v.loinc, v.display}}, Text: v.display},
				Subject:    reference{Reference: pref},
				Encounter:  encRef,
				// Device clocks report local time with their offset.
				EffectiveDateTime: t.In(zone).Format(time.RFC3339),
				Issued:            t.Add(lag).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			}
			if amb {
				o.Performer = []reference{{Reference: "Practitioner/" + clinician.id, Display: clinician.display}}
			} else {
				o.Performer = []reference{{Reference: pref}}
				dev := kitFor(rng, kind)
				o.Device = &reference{Reference: "Device/" + kit[dev]}
				o.Code.Coding = append(o.Code.Coding, deviceCoding(kind, dev)...)
			}
			if kind == BloodPressure {
				o.Component = []component{
					{Code: concept{Coding: []coding{systolic}}, ValueQuantity: quantity{r.sys, v.unit, UCUM, v.ucum}, Interpretation: interpret(r.sys, 90, 139)},
					{Code: concept{Coding: []coding{diastolic}}, ValueQuantity: quantity{r.dia, v.unit, UCUM, v.ucum}, Interpretation: interpret(r.dia, 60, 89)},
				}
			} else {
				o.ValueQuantity = &quantity{r.value, v.unit, UCUM, v.ucum}
				o.Interpretation = interpret(r.value, normalRange[kind][0], normalRange[kind][1])
			}
			out = append(out, Resource{Type: "Observation", ID: obsID, Body: encode(o)})
		}
	}
	return out
}

// The devices of a home kit.
const (
	bpMonitor = iota
	pulseOximeter
	scale
	thermometer
	numDeviceKinds
)

type deviceKind struct {
	name, manufacturer, model, serialPrefix string
	mdc                                     coding // PHD specialization
}

var deviceKinds = [numDeviceKinds]deviceKind{
	bpMonitor:     {"Upper-arm blood pressure monitor", "Northwind Medical", "NW-BP520", "BP", coding{MDC, "528391", "MDC_DEV_SPEC_PROFILE_BP"}},
	pulseOximeter: {"Fingertip pulse oximeter", "Contoso Health", "OxiSense 3", "OX", coding{MDC, "528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM"}},
	scale:         {"Bathroom weighing scale", "Northwind Medical", "NW-WS200", "WS", coding{MDC, "528399", "MDC_DEV_SPEC_PROFILE_SCALE"}},
	thermometer:   {"Digital ear thermometer", "Fabrikam Devices", "TempCheck T4", "TH", coding{MDC, "528392", "MDC_DEV_SPEC_PROFILE_TEMP"}},
}

// kitFor picks the device of the kit that takes a reading of kind k.
func kitFor(rng *rand.Rand, k Kind) int {
	switch k {
	case HeartRate:
		if rng.IntN(2) == 0 {
			return bpMonitor
		}
		return pulseOximeter
	case RespiratoryRate, OxygenSat:
		return pulseOximeter
	case BodyTemp:
		return thermometer
	case BodyWeight:
		return scale
	default:
		return bpMonitor
	}
}

// deviceCoding is the IEEE 11073 code a device reports a reading of kind
// k with, after the LOINC coding.
func deviceCoding(k Kind, dev int) []coding {
	if k == HeartRate {
		if dev == bpMonitor {
			return []coding{{MDC, "149546", "MDC_PULS_RATE_NON_INV"}}
		}
		return []coding{{MDC, "149530", "MDC_PULS_OXIM_PULS_RATE"}}
	}
	return vitals[k].extra
}

func pickGender(rng *rand.Rand) string {
	switch n := rng.IntN(200); {
	case n < 98:
		return "female"
	case n < 196:
		return "male"
	case n < 199:
		return "other"
	default:
		return "unknown"
	}
}

func givenName(rng *rand.Rand, gender string) string {
	switch gender {
	case "female":
		return femaleGiven[rng.IntN(len(femaleGiven))]
	case "male":
		return maleGiven[rng.IntN(len(maleGiven))]
	}
	return neutralGiven[rng.IntN(len(neutralGiven))]
}

// familyWeights is the cumulative weight 1/(rank+10) of familyNames.
var familyWeights = func() []float64 {
	cum := make([]float64, len(familyNames))
	t := 0.0
	for i := range familyNames {
		t += 1 / float64(i+10)
		cum[i] = t
	}
	return cum
}()

func familyName(rng *rand.Rand) string {
	x := rng.Float64() * familyWeights[len(familyWeights)-1]
	i, _ := slices.BinarySearch(familyWeights, x)
	return familyNames[min(i, len(familyNames)-1)]
}

func honorific(rng *rand.Rand, gender string) string {
	switch {
	case rng.IntN(8) == 0:
		return "Dr."
	case gender == "male":
		return "Mr."
	case gender == "female" && rng.IntN(2) == 0:
		return "Mrs."
	case gender == "female":
		return "Ms."
	}
	return "Mx."
}

func maritalStatus(rng *rand.Rand, adult bool) *concept {
	const sys = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	c := coding{sys, "S", "Never Married"}
	if adult {
		switch n := rng.IntN(10); {
		case n < 5:
			c = coding{sys, "M", "Married"}
		case n < 7:
			// never married
		case n < 9:
			c = coding{sys, "D", "Divorced"}
		default:
			c = coding{sys, "W", "Widowed"}
		}
	}
	return &concept{Coding: []coding{c}, Text: c.Display}
}

func organizationName(i int) string {
	n := organizationNames[i%len(organizationNames)]
	if r := i / len(organizationNames); r > 0 {
		n += " " + strconv.Itoa(r+1)
	}
	return n
}

func offsetOf(p place) time.Duration {
	t, err := time.Parse("-07:00", p.offset)
	if err != nil {
		panic("synth: bad offset " + p.offset)
	}
	_, off := t.Zone()
	return time.Duration(off) * time.Second
}

func streetAddress(rng *rand.Rand, p place, use string) address {
	line := []string{strconv.Itoa(1+rng.IntN(9899)) + " " + streets[rng.IntN(len(streets))]}
	if rng.IntN(4) == 0 {
		line = append(line, fmt.Sprintf("Apt %d%c", 1+rng.IntN(30), 'A'+rng.IntN(6)))
	}
	return address{Use: use, Line: line, City: p.city, State: p.state, PostalCode: fmt.Sprintf("%s%02d", p.zip, rng.IntN(100)), Country: "US"}
}

func phone(rng *rand.Rand, p place) string {
	return fmt.Sprintf("(%s) 555-%04d", p.area, rng.IntN(10000))
}

// email is an address made from the name, folded to ASCII.
func email(rng *rand.Rand, given, family string) string {
	return fmt.Sprintf("%s.%s%d@%s", ascii(given), ascii(family), rng.IntN(100), emailDomains[rng.IntN(len(emailDomains))])
}

var emailDomains = []string{"example.com", "example.net", "example.org", "mail.example.com"}

var foldLetters = strings.NewReplacer("ø", "o", "Ø", "o", "ł", "l", "Ł", "l", "ß", "ss", "đ", "d", "Đ", "d", "ı", "i", "æ", "ae", "œ", "oe")

// ascii lower-cases s, strips accents and keeps only a-z and 0-9.
func ascii(s string) string {
	// A Chain keeps state: one per call, for Patient's concurrent callers.
	foldMarks := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	f, _, err := transform.String(foldMarks, foldLetters.Replace(s))
	if err != nil {
		f = s
	}
	var b strings.Builder
	for _, r := range strings.ToLower(f) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// mrn is the medical record number of patient i: unique within a seed,
// and not simply i.
func mrn(seed uint64, i int) string {
	const space = 100_000_000 // 8 digits
	const mult = 48_271       // coprime with space: i ↦ i·mult is a permutation
	off := seed % space
	return fmt.Sprintf("M%08d", (uint64(i)*mult+off)%space)
}

// npi returns a 10-digit National Provider Identifier starting with first
// whose last digit is the Luhn check digit over the prefix 80840 and the
// first nine digits, as the NPI standard specifies.
func npi(rng *rand.Rand, first byte) string {
	d := make([]byte, 0, 10)
	d = append(d, first)
	for range 8 {
		d = append(d, byte('0'+rng.IntN(10)))
	}
	return string(append(d, NPICheckDigit(string(d))))
}

// NPICheckDigit returns the check digit of the nine-digit NPI base.
func NPICheckDigit(base string) byte {
	digits := "80840" + base
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		n := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 { // rightmost payload digit and every second one: doubled
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return byte('0' + (10-sum%10)%10)
}

// created is a creation time in the given year.
func created(rng *rand.Rand, year int) time.Time {
	return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
}

// uuid7 returns a UUID in the version 7 layout for time t with random bits
// from rng: like the ids telefhir assigns, they sort by creation time.
func uuid7(rng *rand.Rand, t time.Time) string {
	ms := uint64(t.UnixMilli())
	hi := ms<<16 | 0x7000 | rng.Uint64()&0x0fff
	lo := rng.Uint64()&^(0x3<<62) | 0x2<<62
	return formatUUID(hi, lo)
}

// uuid4 returns a UUID in the version 4 layout from rng.
func uuid4(rng *rand.Rand) string {
	hi := rng.Uint64()&^0xf000 | 0x4000
	lo := rng.Uint64()&^(0x3<<62) | 0x2<<62
	return formatUUID(hi, lo)
}

func formatUUID(hi, lo uint64) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// eui64 is a device system id as PHD devices report it.
func eui64(rng *rand.Rand) string {
	v := rng.Uint64()
	b := make([]string, 8)
	for i := range b {
		b[i] = fmt.Sprintf("%02X", byte(v>>(56-8*i)))
	}
	return strings.Join(b, "-")
}

package synth

import (
	"math"
	"math/rand/v2"
)

// Code systems and the fixed codings the vital signs use.
const (
	LOINC = "http://loinc.org"
	UCUM  = "http://unitsofmeasure.org"
	// MDC is the IEEE 11073-10101 nomenclature personal health devices
	// report in (the PHD IG's system for device and measurement codes).
	MDC            = "urn:iso:std:iso:11073:10101"
	obsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	interpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	vitalSignsBase = "http://hl7.org/fhir/StructureDefinition/"
)

// Kind is one vital sign the generator records.
type Kind int

// The vital signs, with their LOINC codes and UCUM units.
const (
	HeartRate       Kind = iota // 8867-4, /min
	RespiratoryRate             // 9279-1, /min
	OxygenSat                   // 59408-5 (and 2708-6), %
	BodyTemp                    // 8310-5, Cel
	BodyWeight                  // 29463-7, kg
	BloodPressure               // 85354-9 panel, components 8480-6 and 8462-4 in mm[Hg]
	numKinds
)

// vital describes a Kind: its code, its unit and the vital-signs profile
// of R4 it conforms to.
type vital struct {
	loinc, display string
	extra          []coding // further codings of the same concept
	unit, ucum     string
	profile        string
	weight         int // relative frequency among readings
}

var vitals = [numKinds]vital{
	HeartRate: {
		loinc: "8867-4", display: "Heart rate",
		unit: "beats/minute", ucum: "/min", profile: "heartrate", weight: 30,
	},
	RespiratoryRate: {
		loinc: "9279-1", display: "Respiratory rate",
		extra: []coding{{MDC, "151562", "MDC_RESP_RATE"}},
		unit:  "breaths/minute", ucum: "/min", profile: "resprate", weight: 8,
	},
	OxygenSat: {
		loinc: "59408-5", display: "Oxygen saturation in Arterial blood by Pulse oximetry",
		extra: []coding{
			{LOINC, "2708-6", "Oxygen saturation in Arterial blood"},
			{MDC, "150456", "MDC_PULS_OXIM_SAT_O2"},
		},
		unit: "%", ucum: "%", profile: "oxygensat", weight: 20,
	},
	BodyTemp: {
		loinc: "8310-5", display: "Body temperature",
		extra: []coding{{MDC, "150364", "MDC_TEMP_BODY"}},
		unit:  "C", ucum: "Cel", profile: "bodytemp", weight: 8,
	},
	BodyWeight: {
		loinc: "29463-7", display: "Body weight",
		extra: []coding{{MDC, "188736", "MDC_MASS_BODY_ACTUAL"}},
		unit:  "kg", ucum: "kg", profile: "bodyweight", weight: 9,
	},
	BloodPressure: {
		loinc: "85354-9", display: "Blood pressure panel with all children optional",
		extra: []coding{{MDC, "150020", "MDC_PRESS_BLD_NONINV"}},
		unit:  "mmHg", ucum: "mm[Hg]", profile: "bp", weight: 25,
	},
}

// LOINCCode returns the LOINC code of k ("8867-4" for HeartRate).
func (k Kind) LOINCCode() string { return vitals[k].loinc }

// UCUMCode returns the UCUM unit code of k's value ("/min" for HeartRate).
func (k Kind) UCUMCode() string { return vitals[k].ucum }

var (
	systolic  = coding{LOINC, "8480-6", "Systolic blood pressure"}
	diastolic = coding{LOINC, "8462-4", "Diastolic blood pressure"}

	vitalSignsCategory = []concept{{
		Coding: []coding{{obsCategory, "vital-signs", "Vital Signs"}},
		Text:   "Vital Signs",
	}}
)

// kindTotal is the sum of the weights of all kinds.
var kindTotal = func() int {
	t := 0
	for _, v := range vitals {
		t += v.weight
	}
	return t
}()

// pickKind draws a Kind by the weights of vitals.
func pickKind(rng *rand.Rand) Kind {
	n := rng.IntN(kindTotal)
	for k, v := range vitals {
		if n < v.weight {
			return Kind(k)
		}
		n -= v.weight
	}
	return HeartRate
}

// baseline is one patient's usual values, around which each reading
// scatters. Chronic patients sit outside the population's normal ranges
// (hypertensives, COPD patients with low saturation), as in a real remote
// monitoring programme.
type baseline struct {
	hr, rr, spo2, temp, weight, sys, dia float64
	weightDrift                          float64 // kg over the whole period
}

func newBaseline(rng *rand.Rand, gender string) baseline {
	w := 62 + rng.Float64()*48
	if gender == "male" {
		w += 12
	}
	return baseline{
		hr:          62 + rng.Float64()*26,
		rr:          13 + rng.Float64()*5,
		spo2:        93.5 + rng.Float64()*5,
		temp:        36.4 + rng.Float64()*0.6,
		weight:      w,
		sys:         108 + rng.Float64()*50,
		dia:         66 + rng.Float64()*28,
		weightDrift: rng.NormFloat64() * 3,
	}
}

// reading is the value (or, for blood pressure, the two values) of one
// Observation.
type reading struct {
	value, sys, dia float64
}

// read draws a plausible reading of k for b at fraction f (0..1) through
// the period.
func (b baseline) read(rng *rand.Rand, k Kind, f float64) reading {
	n := rng.NormFloat64
	switch k {
	case HeartRate:
		return reading{value: clampRound(b.hr+n()*8, 38, 165, 0)}
	case RespiratoryRate:
		return reading{value: clampRound(b.rr+n()*2, 8, 32, 0)}
	case OxygenSat:
		return reading{value: clampRound(b.spo2+n()*1.3, 84, 100, 0)}
	case BodyTemp:
		t := b.temp + n()*0.25
		if rng.IntN(40) == 0 { // the occasional fever
			t += 1 + rng.Float64()*1.5
		}
		return reading{value: clampRound(t, 35, 41, 1)}
	case BodyWeight:
		return reading{value: clampRound(b.weight+b.weightDrift*f+n()*0.6, 30, 250, 1)}
	default:
		sys := clampRound(b.sys+n()*11, 80, 230, 0)
		dia := clampRound(b.dia+n()*7, 45, 130, 0)
		dia = math.Min(dia, sys-20)
		return reading{sys: sys, dia: dia}
	}
}

// clampRound rounds v to digits decimals within [lo, hi].
func clampRound(v, lo, hi float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(math.Max(lo, math.Min(hi, v))*p) / p
}

// interpret returns the v3 ObservationInterpretation of v against the
// normal range [low, high] (nil when low == high: no range).
func interpret(v, low, high float64) []concept {
	if low == high {
		return nil
	}
	c := coding{interpretation, "N", "Normal"}
	switch {
	case v < low:
		c = coding{interpretation, "L", "Low"}
	case v > high:
		c = coding{interpretation, "H", "High"}
	}
	return []concept{{Coding: []coding{c}}}
}

// normalRange is the adult normal range of each single-valued kind.
var normalRange = [numKinds][2]float64{
	HeartRate:       {60, 100},
	RespiratoryRate: {12, 20},
	OxygenSat:       {95, 100},
	BodyTemp:        {36.1, 38},
	BodyWeight:      {0, 0},
}

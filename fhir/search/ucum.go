package search

import "strings"

// UCUM is the system URI of the Unified Code for Units of Measure.
const UCUM = "http://unitsofmeasure.org"

// unit is how one UCUM unit converts to the canonical unit of its
// dimension: canonical = value×factor + offset.
type unit struct {
	canon  string
	factor float64
	offset float64 // non-zero only for the affine temperature scales
}

// ucumUnits is a small table of the UCUM units of vital signs and common
// laboratory results. The canonical unit of each dimension is this table's
// choice (L for volume, g/L for mass concentration, K for temperature, ...),
// used the same way on the index and the query side; it is not UCUM's own
// base-unit form.
var ucumUnits = map[string]unit{
	// mass
	"g": {"g", 1, 0}, "kg": {"g", 1e3, 0}, "mg": {"g", 1e-3, 0}, "ug": {"g", 1e-6, 0},
	"ng": {"g", 1e-9, 0}, "pg": {"g", 1e-12, 0},
	"[lb_av]": {"g", 453.59237, 0}, "[oz_av]": {"g", 28.349523125, 0},
	// length
	"m": {"m", 1, 0}, "km": {"m", 1e3, 0}, "cm": {"m", 1e-2, 0}, "mm": {"m", 1e-3, 0},
	"um": {"m", 1e-6, 0}, "nm": {"m", 1e-9, 0},
	"[in_i]": {"m", 0.0254, 0}, "[ft_i]": {"m", 0.3048, 0},
	// volume
	"L": {"L", 1, 0}, "l": {"L", 1, 0}, "dL": {"L", 0.1, 0}, "mL": {"L", 1e-3, 0},
	"uL": {"L", 1e-6, 0}, "fL": {"L", 1e-15, 0},
	// time
	"s": {"s", 1, 0}, "ms": {"s", 1e-3, 0}, "min": {"s", 60, 0}, "h": {"s", 3600, 0},
	"d": {"s", 86400, 0}, "wk": {"s", 604800, 0}, "mo": {"s", 2629800, 0}, "a": {"s", 31557600, 0},
	// rate (heart rate, respiratory rate)
	"/s": {"/s", 1, 0}, "/min": {"/s", 1.0 / 60, 0}, "/h": {"/s", 1.0 / 3600, 0}, "/d": {"/s", 1.0 / 86400, 0},
	// pressure
	"Pa": {"Pa", 1, 0}, "kPa": {"Pa", 1e3, 0}, "mm[Hg]": {"Pa", 133.322, 0},
	"cm[H2O]": {"Pa", 98.0665, 0}, "bar": {"Pa", 1e5, 0},
	// temperature (affine)
	"K": {"K", 1, 0}, "Cel": {"K", 1, 273.15}, "[degF]": {"K", 5.0 / 9, 273.15 - 32*5.0/9},
	// dimensionless
	"1": {"1", 1, 0}, "%": {"1", 1e-2, 0},
	// amount and molar concentration
	"mol": {"mol", 1, 0}, "mmol": {"mol", 1e-3, 0}, "umol": {"mol", 1e-6, 0},
	"mol/L": {"mol/L", 1, 0}, "mmol/L": {"mol/L", 1e-3, 0}, "umol/L": {"mol/L", 1e-6, 0},
	"nmol/L": {"mol/L", 1e-9, 0}, "pmol/L": {"mol/L", 1e-12, 0},
	"eq/L": {"eq/L", 1, 0}, "meq/L": {"eq/L", 1e-3, 0},
	// mass concentration
	"g/L": {"g/L", 1, 0}, "g/dL": {"g/L", 10, 0}, "mg/mL": {"g/L", 1, 0}, "mg/L": {"g/L", 1e-3, 0},
	"mg/dL": {"g/L", 1e-2, 0}, "ug/mL": {"g/L", 1e-3, 0}, "ug/L": {"g/L", 1e-6, 0},
	"ug/dL": {"g/L", 1e-5, 0}, "ng/mL": {"g/L", 1e-6, 0}, "ng/L": {"g/L", 1e-9, 0}, "pg/mL": {"g/L", 1e-9, 0},
	// counts per volume
	"/L": {"/L", 1, 0}, "/uL": {"/L", 1e6, 0}, "/mm3": {"/L", 1e6, 0},
	"10*9/L": {"/L", 1e9, 0}, "10*12/L": {"/L", 1e12, 0}, "10*3/uL": {"/L", 1e9, 0}, "10*6/uL": {"/L", 1e12, 0},
	// body mass index, flow
	"kg/m2": {"g/m2", 1e3, 0}, "g/m2": {"g/m2", 1, 0},
	"L/s": {"L/s", 1, 0}, "L/min": {"L/s", 1.0 / 60, 0}, "mL/min": {"L/s", 1e-3 / 60, 0}, "mL/s": {"L/s", 1e-3, 0},
}

// Canonical converts value in the UCUM unit code to the canonical unit of
// its dimension ("mg" → "g", "min" → "s", "[degF]" → "K"). Curly-brace
// annotations are ignored as UCUM says ("{beats}/min" is "/min"); a unit
// that is nothing but an annotation is not converted. ok is false for
// units outside the table.
func Canonical(code string, value float64) (canon string, v float64, ok bool) {
	u, ok := ucumUnits[code]
	if !ok {
		stripped, had := stripAnnotations(code)
		if !had || stripped == "" {
			return "", 0, false
		}
		if u, ok = ucumUnits[stripped]; !ok {
			return "", 0, false
		}
	}
	return u.canon, value*u.factor + u.offset, true
}

// stripAnnotations removes {...} annotations from a UCUM code.
func stripAnnotations(code string) (string, bool) {
	if strings.IndexByte(code, '{') < 0 {
		return code, false
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

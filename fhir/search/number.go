package search

import (
	"errors"
	"math"
	"strconv"
)

var errBadNumber = errors.New("not a decimal number")

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// DecimalRange parses a FHIR decimal (or integer) as written, "1.50",
// "-3", "1e2", and returns its value and the range its precision implies:
// half a unit of its last significant digit either side. "1.5" is
// [1.45, 1.55], "100" is [99.5, 100.5], "1.50" is [1.495, 1.505], and
// "1e2", whose last digit is the hundreds, is [50, 150] (the R4 search
// page's own example says 95..105 for it, which contradicts its rule).
func DecimalRange(s string) (value, low, high float64, err error) {
	// Syntax: -?digits(.digits)?([eE][+-]?digits)?
	i := 0
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64 // the significant digits as an integer, while they fit
	exact := true
	nd := 0 // digits read
	start := i
	for i < len(s) && isDigitByte(s[i]) {
		mant, exact = pushDigit(mant, s[i], exact)
		i++
	}
	if i == start {
		return 0, 0, 0, errBadNumber
	}
	nd = i - start
	frac := 0
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigitByte(s[i]) {
			mant, exact = pushDigit(mant, s[i], exact)
			i++
		}
		frac = i - fs
		if frac == 0 {
			return 0, 0, 0, errBadNumber
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				es = -1
			}
			i++
		}
		ds := i
		for i < len(s) && isDigitByte(s[i]) {
			if exp < 10000 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == ds {
			return 0, 0, 0, errBadNumber
		}
		exp *= es
	}
	if i != len(s) || nd > 400 {
		return 0, 0, 0, errBadNumber
	}
	value, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(value, 0) {
		return 0, 0, 0, errBadNumber
	}
	// The value is mant × 10^scale; the bounds (10·mant ∓ 5) × 10^(scale-1).
	scale := exp - frac
	lo, hi, ok := scaled(mant, scale-1, exact)
	if !ok {
		half := 0.5 * math.Pow(10, float64(scale))
		lo, hi = math.Abs(value)-half, math.Abs(value)+half
	}
	if neg {
		lo, hi = -hi, -lo
	}
	if value == 0 {
		value = 0 // no -0
	}
	return value, lo, hi, nil
}

func pushDigit(m uint64, d byte, exact bool) (uint64, bool) {
	if !exact || m > (1<<53)/10 {
		return m, false
	}
	return m*10 + uint64(d-'0'), exact
}

// scaled computes (10m-5)·10^e and (10m+5)·10^e correctly rounded, when
// the integers and the power of ten are exact in a float64.
func scaled(m uint64, e int, exact bool) (lo, hi float64, ok bool) {
	if !exact || m >= (1<<53)/10-1 || e < -22 || e > 22 {
		return 0, 0, false
	}
	l, h := float64(10*m)-5, float64(10*m+5)
	if e < 0 {
		return l / pow10[-e], h / pow10[-e], true
	}
	return l * pow10[e], h * pow10[e], true
}

package search

import (
	"math"
	"testing"
)

func TestDecimalRange(t *testing.T) {
	for _, tt := range []struct {
		in               string
		value, low, high float64
	}{
		{"100", 100, 99.5, 100.5},
		{"1.5", 1.5, 1.45, 1.55},
		{"1.50", 1.5, 1.495, 1.505},
		{"0.1", 0.1, 0.05, 0.15},
		{"0", 0, -0.5, 0.5},
		{"0.0", 0, -0.05, 0.05},
		{"-1.5", -1.5, -1.55, -1.45},
		{"-3", -3, -3.5, -2.5},
		{"1e2", 100, 50, 150},
		{"1.0e2", 100, 95, 105},
		{"1.5E-3", 0.0015, 0.00145, 0.00155},
		{"5.4", 5.4, 5.35, 5.45},
		{"98.6", 98.6, 98.55, 98.65},
		{"+7", 7, 6.5, 7.5},
	} {
		v, lo, hi, err := DecimalRange(tt.in)
		if err != nil {
			t.Errorf("DecimalRange(%q): %v", tt.in, err)
			continue
		}
		if v != tt.value || lo != tt.low || hi != tt.high {
			t.Errorf("DecimalRange(%q) = %v [%v, %v], want %v [%v, %v]", tt.in, v, lo, hi, tt.value, tt.low, tt.high)
		}
	}
	// Beyond the exact fast path the range is still right, within rounding.
	v, lo, hi, err := DecimalRange("123456789012345678.25")
	if err != nil || math.Abs(lo-(v-0.005)) > 64 || math.Abs(hi-(v+0.005)) > 64 {
		t.Errorf("long decimal: %v [%v, %v], %v", v, lo, hi, err)
	}
}

func TestDecimalRangeErrors(t *testing.T) {
	for _, in := range []string{"", "-", ".5", "5.", "1e", "1e+", "abc", "1,5", "1.5.2", "0x10", "1e999", "NaN", "Inf", " 1", "1 "} {
		if v, _, _, err := DecimalRange(in); err == nil {
			t.Errorf("DecimalRange(%q) = %v, want an error", in, v)
		}
	}
}

func TestCanonical(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, tt := range []struct {
		code  string
		value float64
		canon string
		want  float64
	}{
		{"mg", 250, "g", 0.25},
		{"kg", 72.5, "g", 72500},
		{"ug", 5, "g", 5e-6},
		{"g", 3, "g", 3},
		{"[lb_av]", 185, "g", 83914.58845},
		{"mmol/L", 5.4, "mol/L", 0.0054},
		{"mg/dL", 100, "g/L", 1},
		{"min", 2, "s", 120},
		{"h", 1.5, "s", 5400},
		{"d", 1, "s", 86400},
		{"cm", 180, "m", 1.8},
		{"mm", 5, "m", 0.005},
		{"[in_i]", 70, "m", 1.778},
		{"Cel", 37, "K", 310.15},
		{"[degF]", 98.6, "K", 310.15},
		{"K", 300, "K", 300},
		{"%", 95, "1", 0.95},
		{"/min", 72, "/s", 1.2},
		{"{beats}/min", 72, "/s", 1.2},
		{"mm[Hg]", 120, "Pa", 15998.64},
		{"kPa", 16, "Pa", 16000},
		{"kg/m2", 24.3, "g/m2", 24300},
	} {
		canon, v, ok := Canonical(tt.code, tt.value)
		if !ok || canon != tt.canon || !near(v, tt.want) {
			t.Errorf("Canonical(%q, %v) = %q %v %v, want %q %v", tt.code, tt.value, canon, v, ok, tt.canon, tt.want)
		}
	}
	for _, code := range []string{"", "{score}", "furlong", "mL/min/{1.73_m2}", "MG", "[degR]"} {
		if canon, _, ok := Canonical(code, 1); ok {
			t.Errorf("Canonical(%q) = %q, want no conversion", code, canon)
		}
	}
	// Same dimension, different units, same canonical value.
	_, a, _ := Canonical("mg", 1000)
	_, b, _ := Canonical("g", 1)
	if !near(a, b) {
		t.Errorf("1000 mg = %v g, 1 g = %v g", a, b)
	}
}

package fhirpath

import (
	"encoding/json"
	"math/big"
	"strconv"
	"time"
)

func jsonInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// numberText returns the text of a JSON number node.
func numberText(x any) (string, bool) {
	switch n := x.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

// ratOf parses a JSON number exactly.
func ratOf(x any) (*big.Rat, bool) {
	s, ok := numberText(x)
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// equal is FHIRPath "=" on two items; known is false when the answer is
// empty (a primitive without a value, dates of different precision).
func equal(a, b Value) (eq, known bool) {
	if a.Node == nil || b.Node == nil {
		return false, false
	}
	switch x := a.Node.(type) {
	case map[string]any:
		y, ok := b.Node.(map[string]any)
		return ok && deepEqual(x, y), true
	case string:
		y, ok := b.Node.(string)
		if !ok {
			return false, true
		}
		if isDateType(a.Type) && isDateType(b.Type) {
			return dateEqual(x, y)
		}
		return x == y, true
	case bool:
		y, ok := b.Node.(bool)
		return ok && x == y, true
	}
	if _, ok := numberText(a.Node); ok {
		return numbersEqual(a.Node, b.Node), true
	}
	return false, true
}

// sameValue reports whether two items are duplicates for a union.
func sameValue(a, b Value) bool {
	if a.Node == nil || b.Node == nil {
		return a.Node == nil && b.Node == nil && deepEqual(a.ext, b.ext)
	}
	eq, known := equal(a, b)
	return known && eq
}

func numbersEqual(a, b any) bool {
	x, ok1 := ratOf(a)
	y, ok2 := ratOf(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// deepEqual compares two generic JSON values, numbers by value.
func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !deepEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case string, bool, nil:
		return a == b
	}
	if _, ok := numberText(a); ok {
		return numbersEqual(a, b)
	}
	return false
}

func isDateType(t string) bool {
	switch t {
	case "date", "dateTime", "instant", "System.Date", "System.DateTime":
		return true
	}
	return false
}

// dateEqual compares two FHIR date/dateTime/instant strings; values of
// different precision have no answer (FHIRPath §6.1.1).
func dateEqual(a, b string) (eq, known bool) {
	ta, pa, ok1 := parseDate(a)
	tb, pb, ok2 := parseDate(b)
	if !ok1 || !ok2 {
		return a == b, true
	}
	if pa != pb {
		return false, false
	}
	return ta.Equal(tb), true
}

// Date precisions; seconds and fractions of seconds count as one.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
)

// parseDate parses a FHIR date, dateTime or instant. A time without a
// zone is taken as UTC.
func parseDate(s string) (time.Time, int, bool) {
	layouts := []struct {
		layout string
		prec   int
	}{
		{"2006", precYear},
		{"2006-01", precMonth},
		{"2006-01-02", precDay},
		{"2006-01-02T15", precHour},
		{"2006-01-02T15:04", precMinute},
		{"2006-01-02T15:04:05.999999999", precSecond},
	}
	date, zone := s, ""
	if i := len(s) - 1; i > 10 && s[i] == 'Z' {
		date, zone = s[:i], "Z"
	} else if len(s) > 16 && (s[len(s)-6] == '+' || s[len(s)-6] == '-') {
		date, zone = s[:len(s)-6], s[len(s)-6:]
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, date); err == nil {
			if zone != "" && zone != "Z" {
				z, err := time.Parse("-07:00", zone)
				if err != nil {
					return time.Time{}, 0, false
				}
				_, off := z.Zone()
				t = t.Add(-time.Duration(off) * time.Second)
			}
			return t, l.prec, true
		}
	}
	return time.Time{}, 0, false
}

package patch

import (
	"bytes"
	"math/big"
	"strings"
)

// equalJSON reports whether the compact JSON values a and b are equal in
// the sense of RFC 6902 section 4.6: same type; strings equal after
// decoding escapes; numbers numerically equal (1.50 == 1.5 == 15e-1);
// arrays equal element by element; objects with the same set of names,
// in any order, mapping to equal values.
func equalJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ka, kb := typeOf(a[0]), typeOf(b[0])
	if ka != kb {
		return false
	}
	switch ka {
	case '"':
		return decodeString(a) == decodeString(b)
	case '0':
		return numberKey(a) == numberKey(b)
	case '[':
		ea, eb := elements(a), elements(b)
		if len(ea) != len(eb) {
			return false
		}
		for i := range ea {
			if !equalJSON(ea[i], eb[i]) {
				return false
			}
		}
		return true
	case '{':
		ma, mb := objectMap(a), objectMap(b)
		if len(ma) != len(mb) {
			return false
		}
		for k, va := range ma {
			vb, ok := mb[k]
			if !ok || !equalJSON(va, vb) {
				return false
			}
		}
		return true
	default: // true, false, null: equal only if byte-equal, checked above
		return false
	}
}

// typeOf maps a value's first byte to its JSON type ('0' for numbers).
func typeOf(c byte) byte {
	switch c {
	case '{', '[', '"', 't', 'f', 'n':
		return c
	default:
		return '0'
	}
}

// elements splits a compact array into its elements' bytes.
func elements(b []byte) [][]byte {
	var out [][]byte
	for i := 1; b[i] != ']'; {
		end := skipValue(b, i)
		out = append(out, b[i:end])
		i = end
		if b[i] == ',' {
			i++
		}
	}
	return out
}

// objectMap splits a compact object into name → value bytes. A repeated
// name keeps its last value, as encoding/json does.
func objectMap(b []byte) map[string][]byte {
	out := make(map[string][]byte)
	for i := 1; b[i] != '}'; {
		kEnd := skipString(b, i)
		key := decodeString(b[i:kEnd])
		vEnd := skipValue(b, kEnd+1)
		out[key] = b[kEnd+1 : vEnd]
		i = vEnd
		if b[i] == ',' {
			i++
		}
	}
	return out
}

// numberKey returns a canonical form of a JSON number literal such that two
// literals have the same key exactly when they are numerically equal. It is
// exact for any precision and any exponent, with no float64 rounding.
func numberKey(b []byte) string {
	s := string(b)
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0" // zero, whatever its sign or exponent
	}
	trimmed := strings.TrimRight(digits, "0")
	e := new(big.Int)
	if exp != "" {
		e.SetString(exp, 10) // accepts a leading + or -
	}
	e.Sub(e, big.NewInt(int64(len(frac))))
	e.Add(e, big.NewInt(int64(len(digits)-len(trimmed))))
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + e.String()
}

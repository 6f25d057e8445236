package patch

import (
	"errors"
	"strings"
)

// pointer is a parsed RFC 6901 JSON Pointer: its reference tokens with the
// ~0 and ~1 escapes already undone. The empty pointer (no tokens) is the
// whole document.
type pointer []string

// parsePointer parses s as a JSON Pointer.
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{}, nil
	}
	if s[0] != '/' {
		return nil, errors.New(`a JSON Pointer must be empty or start with "/"`)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if !strings.Contains(p, "~") {
			continue
		}
		for j := 0; j < len(p); j++ {
			if p[j] == '~' && (j+1 == len(p) || (p[j+1] != '0' && p[j+1] != '1')) {
				return nil, errors.New(`"~" must be followed by "0" or "1" in a JSON Pointer`)
			}
		}
		// ~1 first, then ~0, so that "~01" becomes "~1" and not "/".
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return pointer(parts), nil
}

// isProperPrefixOf reports whether the location p is a strict ancestor of q.
func (p pointer) isProperPrefixOf(q pointer) bool {
	if len(p) >= len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// equal reports whether p and q name the same location.
func (p pointer) equal(q pointer) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// arrayIndex parses an array reference token: "0" or a decimal number with
// no leading zero. It reports ok=false for anything else, including "-",
// which callers handle themselves. Range checks are the caller's.
func arrayIndex(tok string) (idx int, ok bool) {
	if tok == "" || len(tok) > 10 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize is the form in which string values are indexed and searched:
// compatibility decomposition (NFKD: "ﬁ" → "fi", full-width letters →
// ASCII), combining marks removed ("Zürich" → "zurich", "Renée" →
// "renee"), case folded (lower case, plus the full foldings lower-casing
// misses: "Straße" → "strasse", final ς → σ), white space runs collapsed
// to one space and trimmed, and the result recomposed (NFC). Folding is
// language-neutral: the Turkish dotless ı stays ı, and İ becomes i.
func Normalize(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return normalizeUnicode(s)
		}
	}
	return normalizeASCII(s)
}

// normalizeASCII is Normalize for ASCII s; it returns s itself when it is
// already normal.
func normalizeASCII(s string) string {
	clean := true
	space := true // at start: leading space is dropped
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			clean = false
		case isASCIISpace(c):
			if space || c != ' ' {
				clean = false
			}
			space = true
			continue
		}
		space = false
	}
	if clean && (len(s) == 0 || s[len(s)-1] != ' ') {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIISpace(c) {
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func normalizeUnicode(s string) string {
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if isASCIISpace(byte(r)) {
				pending = b.Len() > 0
				continue
			}
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		case r == '\u0345': // combining iota subscript: folds to ι
			r = 'ι'
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		if r >= utf8.RuneSelf {
			if f, ok := fullFold[r]; ok {
				b.WriteString(f)
				continue
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	out := b.String()
	if norm.NFC.IsNormalString(out) {
		return out
	}
	return norm.NFC.String(out)
}

// fullFold are the case foldings that lower-casing does not do, for the
// letters that survive compatibility decomposition.
var fullFold = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'ς': "σ", 'ϐ': "β", 'ϑ': "θ", 'ϕ': "φ", 'ϖ': "π", 'ϰ': "κ", 'ϱ': "ρ", 'ϵ': "ε",
	'ᲀ': "в", 'ᲁ': "д", 'ᲂ': "о", 'ᲃ': "с", 'ᲄ': "т", 'ᲅ': "т", 'ᲆ': "ъ", 'ᲇ': "ѣ", 'ᲈ': "ꙋ",
}

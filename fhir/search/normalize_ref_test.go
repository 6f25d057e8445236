package search

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// referenceNormalize is Normalize written the slow, obvious way with
// x/text's full case folding.
func referenceNormalize(s string) string {
	s = norm.NFKD.String(cases.Fold().String(norm.NFKD.String(s)))
	var b strings.Builder
	for _, r := range s {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(strings.Join(strings.FieldsFunc(b.String(), unicode.IsSpace), " "))
}

// TestNormalizeMatchesFolding checks Normalize against full case folding
// on every letter of the scripts names are written in.
func TestNormalizeMatchesFolding(t *testing.T) {
	var diffs []string
	for _, block := range [][2]rune{{0x20, 0x24f}, {0x370, 0x52f}, {0x1e00, 0x1fff}, {0x2c00, 0x2c7f}, {0xa640, 0xa69f}, {0xff00, 0xffef}, {0x1c80, 0x1c8f}} {
		for r := block[0]; r <= block[1]; r++ {
			if !unicode.IsLetter(r) {
				continue
			}
			s := string(r) + "x"
			if got, want := Normalize(s), referenceNormalize(s); got != want {
				diffs = append(diffs, s+": "+got+" != "+want)
			}
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%d differences from full case folding:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}
